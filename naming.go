package lkgate

import (
	"strconv"
	"strings"
)

// RoomNaming says how the room names tenants use map to LiveKit's room
// names, which are global.
type RoomNaming int

const (
	// ScopedNames (the default) gives each tenant its own namespace: the
	// LiveKit room behind tenant T's room R is named ScopedRoomName(T, R),
	// which no token minted for another tenant can name. Two tenants can
	// both have "standup", and neither can learn that the other's exists.
	// Ownership needs no claim, no lock and no LiveKit call.
	ScopedNames RoomNaming = iota
	// SharedNames keeps room names global, as the seed API had them: the
	// first tenant to use a name owns it (auth_id in the room's metadata),
	// and keeps it through a lease until every token naming it has expired.
	// Another tenant's name is refused. See Config.Leases.
	SharedNames
)

func (n RoomNaming) String() string {
	switch n {
	case ScopedNames:
		return "scoped"
	case SharedNames:
		return "shared"
	}
	return "RoomNaming(" + strconv.Itoa(int(n)) + ")"
}

// MaxTenantBytes is the longest tenant identifier accepted. It bounds the
// prefix a scoped room name spends on its tenant, so that at least
// 122 bytes of LiveKit's 256 remain for the room's own name.
const MaxTenantBytes = 128

// ScopedRoomName returns the LiveKit name of tenant's room room under
// ScopedNames: "t", the tenant's length in bytes, "_", the tenant, "_", the
// room, such as "t4_acme_standup". The length prefix makes the mapping
// injective with no escaping and no key: no (tenant, room) pair shares a
// LiveKit name with another, so a token minted for one tenant can never
// name another tenant's room. The tenant is readable in the name, as it
// already is in every participant's TenantAttribute; use opaque tenant
// identifiers if participants must not learn them.
//
// Errors wrap ErrInvalidArgument: an empty or invalid tenant or room, or a
// LiveKit name longer than MaxRoomNameBytes.
func ScopedRoomName(tenant, room string) (string, error) {
	if err := validateText("tenant", tenant, MaxTenantBytes); err != nil {
		return "", err
	}
	if err := validateText("Room", room, MaxRoomNameBytes); err != nil {
		return "", err
	}
	prefix := scopePrefix(tenant)
	if limit := MaxRoomNameBytes - len(prefix); len(room) > limit {
		return "", invalidArg("Room", "is %d bytes long; this tenant's limit is %d (LiveKit's %d less the tenant's prefix)", len(room), limit, MaxRoomNameBytes)
	}
	return prefix + room, nil
}

// ParseScopedRoomName maps a LiveKit room name back to its tenant and the
// room's name as the tenant knows it. ok is false for any name
// ScopedRoomName does not produce, such as a room created outside lkgate
// or under SharedNames. It needs no key and no store, so agents, egress
// and webhook handlers can call it.
func ParseScopedRoomName(name string) (tenant, room string, ok bool) {
	rest, found := strings.CutPrefix(name, "t")
	// ScopedRoomName never exceeds LiveKit's limit.
	if !found || len(name) > MaxRoomNameBytes {
		return "", "", false
	}
	digits := 0
	for digits < len(rest) && digits < 3 && rest[digits] >= '0' && rest[digits] <= '9' {
		digits++
	}
	if digits == 0 || rest[0] == '0' || digits >= len(rest) || rest[digits] != '_' {
		return "", "", false
	}
	n, _ := strconv.Atoi(rest[:digits])
	rest = rest[digits+1:]
	if n > MaxTenantBytes || len(rest) < n+2 || rest[n] != '_' {
		return "", "", false
	}
	tenant, room = rest[:n], rest[n+1:]
	if validateText("tenant", tenant, MaxTenantBytes) != nil || validateText("Room", room, MaxRoomNameBytes) != nil {
		return "", "", false
	}
	return tenant, room, true
}

func scopePrefix(tenant string) string {
	return "t" + strconv.Itoa(len(tenant)) + "_" + tenant + "_"
}

// LiveKitRoom returns the LiveKit name of tenant's room room, for calls a
// host makes to LiveKit itself (egress, agent dispatch): [ScopedRoomName]
// under [ScopedNames], room itself under [SharedNames] and in
// unauthenticated mode. It checks the names as [Manager.Token] does, with
// no LiveKit call.
func (m *Manager) LiveKitRoom(tenant, room string) (string, error) {
	ref, err := m.resolve(tenant, room)
	if err != nil {
		return "", withContext(err, "livekit room", "")
	}
	return ref.lk, nil
}
