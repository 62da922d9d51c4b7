package httpx

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
)

// String describes the configuration by its tenants, without the API
// keys, which are the map's keys. It and the methods below have value
// receivers, so that the configuration prints without its keys by value
// or by pointer, alone or inside another value.
func (c StaticKeysConfig) String() string {
	return fmt.Sprintf("httpx.StaticKeysConfig{Keys: %d [REDACTED] for tenants %s, AllowQueryKey: %t}", len(c.Keys), strings.Join(c.tenants(), ","), c.AllowQueryKey)
}

// GoString is String, so that %#v does not print the keys either.
func (c StaticKeysConfig) GoString() string { return c.String() }

// Format prints String for every verb, so that none reaches the keys.
func (c StaticKeysConfig) Format(f fmt.State, verb rune) { formatRedacted(f, verb, c.String()) }

// LogValue logs the number of keys and their tenants, not the keys.
func (c StaticKeysConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("keys", len(c.Keys)), slog.String("tenants", strings.Join(c.tenants(), ",")), slog.Bool("allow_query_key", c.AllowQueryKey))
}

// MarshalJSON encodes what LogValue logs, so that slog's JSON handler
// cannot print the keys inside another value either.
func (c StaticKeysConfig) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Keys          int      `json:"keys"`
		Tenants       []string `json:"tenants"`
		AllowQueryKey bool     `json:"allow_query_key"`
	}{len(c.Keys), c.tenants(), c.AllowQueryKey})
}

// tenants lists the tenants of c's keys, sorted, each once.
func (c StaticKeysConfig) tenants() []string {
	var t []string
	for _, p := range c.Keys {
		t = append(t, p.Tenant)
	}
	slices.Sort(t)
	return slices.Compact(t)
}

// The request and response bodies that carry a credential print without
// it through fmt (any verb) and slog's LogValue; their JSON encoding, which
// is what they are for, carries it: do not log them as JSON.

// String describes the answer without its token.
func (r TokenResponse) String() string {
	return fmt.Sprintf("httpx.TokenResponse{RoomName: %q, ParticipantIdentity: %q, LiveKitURL: %s, ExpiresAt: %s, Token: [REDACTED]}",
		r.RoomName, r.ParticipantIdentity, r.LiveKitURL, r.ExpiresAt.Format(time.RFC3339))
}

// GoString is String.
func (r TokenResponse) GoString() string { return r.String() }

// Format prints String for every verb.
func (r TokenResponse) Format(f fmt.State, verb rune) { formatRedacted(f, verb, r.String()) }

// LogValue logs the answer without its token.
func (r TokenResponse) LogValue() slog.Value {
	return slog.GroupValue(slog.String("room_name", r.RoomName), slog.String("participant_identity", r.ParticipantIdentity),
		slog.String("livekit_url", r.LiveKitURL), slog.Time("expires_at", r.ExpiresAt), slog.String("token", "[REDACTED]"))
}

// String describes the answer without its invite URL, the guest's
// credential.
func (r InviteResponse) String() string {
	return fmt.Sprintf("httpx.InviteResponse{InviteURL: [REDACTED], ExpiresAt: %s}", r.ExpiresAt.Format(time.RFC3339))
}

// GoString is String.
func (r InviteResponse) GoString() string { return r.String() }

// Format prints String for every verb.
func (r InviteResponse) Format(f fmt.State, verb rune) { formatRedacted(f, verb, r.String()) }

// LogValue logs the answer without its invite URL.
func (r InviteResponse) LogValue() slog.Value {
	return slog.GroupValue(slog.String("invite_url", "[REDACTED]"), slog.Time("expires_at", r.ExpiresAt))
}

// String describes the request without its invite.
func (r RoomAuthRequest) String() string {
	return fmt.Sprintf("httpx.RoomAuthRequest{GuestName: %q, InviteToken: [REDACTED]}", r.GuestName)
}

// GoString is String.
func (r RoomAuthRequest) GoString() string { return r.String() }

// Format prints String for every verb.
func (r RoomAuthRequest) Format(f fmt.State, verb rune) { formatRedacted(f, verb, r.String()) }

// LogValue logs the request without its invite.
func (r RoomAuthRequest) LogValue() slog.Value {
	return slog.GroupValue(slog.String("guest_name", r.GuestName), slog.String("invite_token", "[REDACTED]"))
}

// String describes the answer without its lobby token.
func (r RoomAuthResponse) String() string {
	return fmt.Sprintf("httpx.RoomAuthResponse{LobbyRoom: %q, GuestIdentity: %q, GuestName: %q, LiveKitURL: %s, LiveKitToken: [REDACTED]}",
		r.LobbyRoom, r.GuestIdentity, r.GuestName, r.LiveKitURL)
}

// GoString is String.
func (r RoomAuthResponse) GoString() string { return r.String() }

// Format prints String for every verb.
func (r RoomAuthResponse) Format(f fmt.State, verb rune) { formatRedacted(f, verb, r.String()) }

// LogValue logs the answer without its lobby token.
func (r RoomAuthResponse) LogValue() slog.Value {
	return slog.GroupValue(slog.String("lobby_room", r.LobbyRoom), slog.String("guest_identity", r.GuestIdentity),
		slog.String("guest_name", r.GuestName), slog.String("livekit_url", r.LiveKitURL), slog.String("livekit_token", "[REDACTED]"))
}

// formatRedacted prints s, a redacted description, for every verb, quoted
// for %q.
func formatRedacted(f fmt.State, verb rune, s string) {
	if verb == 'q' {
		s = strconv.Quote(s)
	}
	_, _ = io.WriteString(f, s)
}
