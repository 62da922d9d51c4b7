package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/lkgate/lkgate"
)

// fieldVars names the variable each lkgate.Config, GuestConfig or SIPConfig
// field comes from, by the field's name (as lkgate's errors spell it) or
// the name of the struct or list it belongs to.
var fieldVars = []struct{ field, env string }{
	{"URL", "LIVEKIT_URL"},
	{"PublicURL", "LIVEKIT_PUBLIC_URL"},
	{"APIKey", "LIVEKIT_API_KEY"},
	{"APISecret", "LIVEKIT_API_SECRET"},
	{"GuestConfig.Keys", "LKGATE_INVITE_KEYS"},
	{"GuestConfig.InviteBaseURL", "LKGATE_INVITE_BASE_URL"},
	{"Limits", "LKGATE_LIMITS"},
	{"RoomNames", "LKGATE_ROOM_NAMES"},
	{"Leases", "LKGATE_ROOM_NAMES"},
	{"UnownedRooms", "LKGATE_ROOM_NAMES"},
	{"SIPConfig.Trunks", "LKGATE_SIP_TRUNKS"},
}

// envError restates an error of lkgate.New, NewGuests or NewSIP, which name
// the field at fault (lkgate.Error.Field), in terms of the variable it was read from,
// with the entry for a list ("LKGATE_INVITE_KEYS: entry 2: Key is 16 bytes
// long..."). A field no variable sets is named as the server's own.
func envError(err error) error {
	var e *lkgate.Error
	if !errors.As(err, &e) || e.Field == "" {
		return fmt.Errorf("LiveKit settings: %w", err)
	}
	for _, fv := range fieldVars {
		rest, ok := strings.CutPrefix(e.Field, fv.field)
		if !ok || rest != "" && rest[0] != '.' && rest[0] != '[' {
			continue
		}
		where := fv.env
		if index, sub, ok := strings.Cut(strings.TrimPrefix(rest, "["), "]"); ok && strings.HasPrefix(rest, "[") {
			if i, err := strconv.Atoi(index); err == nil {
				where += fmt.Sprintf(": entry %d", i+1)
			}
			rest = sub
		}
		return fmt.Errorf("%s: %s (%s)", where, strings.TrimSpace(strings.TrimPrefix(rest, ".")+" "+e.Msg), qualified(e.Field))
	}
	return fmt.Errorf("%s (set by this server, not by a variable): %s", qualified(e.Field), e.Msg)
}

// qualified is field in Go: a field of lkgate.Config, or of the config
// struct its name starts with (GuestConfig.Keys).
func qualified(field string) string {
	if strings.HasPrefix(field, "GuestConfig.") || strings.HasPrefix(field, "SIPConfig.") {
		return "lkgate." + field
	}
	return "lkgate.Config." + field
}
