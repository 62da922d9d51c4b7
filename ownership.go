package lkgate

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/livekit/protocol/livekit"
)

// OwnerKey is the key of room metadata (a JSON object) that names the
// tenant owning the room. Under SharedNames it decides ownership; under
// ScopedNames lkgate writes it into the rooms it creates, for tools that
// read it, but the room's name alone decides. Other keys are preserved on
// every write.
const OwnerKey = "auth_id"

// MaxRoomMetadataBytes is the largest room metadata LiveKit's
// UpdateRoomMetadata accepts.
const MaxRoomMetadataBytes = 64000

type ownerState int

const (
	unowned     ownerState = iota
	owned                  // a non-empty string under OwnerKey
	unclaimable            // metadata lkgate cannot add an owner to without destroying it
)

// ownerOf reads the owner from room metadata: empty unless owned.
func ownerOf(metadata string) (string, ownerState) {
	if metadata == "" {
		return "", unowned
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(metadata), &fields); err != nil || fields == nil {
		return "", unclaimable
	}
	raw, ok := fields[OwnerKey]
	if !ok {
		return "", unowned
	}
	var owner string
	if err := json.Unmarshal(raw, &owner); err != nil {
		return "", unclaimable
	}
	if owner == "" {
		return "", unowned
	}
	return owner, owned
}

// ownedBy reports whether metadata names tenant as the room's owner.
func ownedBy(metadata, tenant string) bool {
	if ownsPlain(metadata, tenant) {
		return true
	}
	owner, state := ownerOf(metadata)
	return state == owned && owner == tenant
}

// ownsPlain recognises, without parsing, metadata exactly as lkgate writes
// it for a room with no other keys: the hot path of every token for an
// owned room. It is sound because a validated tenant has no control
// characters or invalid UTF-8, so without '"' or '\\' it is a literal JSON
// string that decodes to itself.
func ownsPlain(metadata, tenant string) bool {
	const prefix, suffix = `{"auth_id":"`, `"}`
	return len(metadata) == len(prefix)+len(tenant)+len(suffix) &&
		strings.HasPrefix(metadata, prefix) && strings.HasSuffix(metadata, suffix) &&
		metadata[len(prefix):len(metadata)-len(suffix)] == tenant && !strings.ContainsAny(tenant, `"\\`)
}

// mayName reports whether metadata could name tenant as its owner. Without
// a backslash (an escape) or invalid UTF-8 (which decodes to U+FFFD), JSON
// strings are literal, so an owner equal to tenant must appear verbatim;
// most rooms of other tenants are thus skipped without parsing their
// metadata, which dominates listing a busy server.
func mayName(metadata, tenant string) bool {
	return strings.Contains(metadata, tenant) || strings.ContainsRune(metadata, '\\') || !utf8.ValidString(metadata)
}

// metadataWithOwner returns metadata with OwnerKey set to tenant, every
// other key kept as it was.
func metadataWithOwner(metadata, tenant string) (string, error) {
	fields := map[string]json.RawMessage{}
	if metadata != "" {
		if err := json.Unmarshal([]byte(metadata), &fields); err != nil || fields == nil {
			return "", &Error{Kind: ErrConflict, Msg: "room metadata is not a JSON object, so it cannot record an owner"}
		}
	}
	owner, _ := json.Marshal(tenant)
	fields[OwnerKey] = owner
	out, err := json.Marshal(fields)
	if err != nil {
		return "", &Error{Kind: ErrConflict, Msg: "room metadata cannot be re-encoded"}
	}
	if len(out) > MaxRoomMetadataBytes {
		return "", &Error{Kind: ErrConflict, Msg: "room metadata with an owner would exceed LiveKit's 64000-byte limit"}
	}
	return string(out), nil
}

// metadataWithoutOwner hides OwnerKey from tenants; metadata that is not a
// JSON object is returned as it is.
func metadataWithoutOwner(metadata string) string {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(metadata), &fields); err != nil || fields == nil {
		return metadata
	}
	if _, ok := fields[OwnerKey]; !ok {
		return metadata
	}
	delete(fields, OwnerKey)
	if len(fields) == 0 {
		return ""
	}
	out, err := json.Marshal(fields)
	if err != nil {
		return ""
	}
	return string(out)
}

// roomRef is a room of one tenant: the name the tenant uses, and the name
// LiveKit knows it by, which differs under ScopedNames only.
type roomRef struct {
	tenant string // empty in unauthenticated mode
	name   string
	lk     string
}

func (r roomRef) checked() bool { return r.tenant != "" }

// resolve checks a tenant and the name of a room it asks for, and maps the
// name to LiveKit's. Every tenant room passes here, whichever operation
// asks; lobby names are lkgate's own and refused.
func (m *Manager) resolve(tenant, room string) (roomRef, error) {
	checked, err := m.tenantMode(tenant)
	if err != nil {
		return roomRef{}, err
	}
	if err := validateText("Room", room, MaxRoomNameBytes); err != nil {
		return roomRef{}, err
	}
	if strings.HasPrefix(room, LobbyPrefix) {
		return roomRef{}, invalidArg("Room", "starts with %q, which lkgate reserves for guest lobbies", LobbyPrefix)
	}
	ref := roomRef{tenant: tenant, name: room, lk: room}
	if checked && m.cfg.RoomNames == ScopedNames {
		if ref.lk, err = ScopedRoomName(tenant, room); err != nil {
			return roomRef{}, err
		}
		return ref, nil
	}
	// Plain names (shared names, unauthenticated mode) must not reach into
	// a tenant's namespace, which tokens minted under ScopedNames, before
	// a switch, may still name.
	if _, _, scoped := ParseScopedRoomName(room); scoped {
		return roomRef{}, invalidArg("Room", "has the form of a tenant-scoped LiveKit name, which lkgate reserves")
	}
	return ref, nil
}

var errRoomNotFound = &Error{Kind: ErrNotFound, Msg: "room not found"}

// authorize is the one gate of every operation on a tenant's existing
// room. Under ScopedNames the name decides, with no LiveKit call unless
// needRoom asks for the room itself; under SharedNames the room must exist
// and name the tenant as its owner (one ListRooms by name). A room of
// another tenant answers ErrNotFound exactly like a missing one, so a
// tenant cannot probe other tenants' rooms.
func (m *Manager) authorize(ctx context.Context, tenant, name string, needRoom bool) (roomRef, *livekit.Room, error) {
	ref, err := m.resolve(tenant, name)
	if err != nil {
		return ref, nil, err
	}
	byOwner := m.cfg.RoomNames == SharedNames && ref.checked()
	if !byOwner && !needRoom {
		return ref, nil, nil
	}
	room, err := m.lookupRoom(ctx, ref)
	if err != nil {
		return ref, nil, err
	}
	if room == nil || byOwner && !ownedBy(room.GetMetadata(), tenant) {
		return ref, nil, errRoomNotFound
	}
	return ref, room, nil
}

// prepareRoom readies ref's room for a main-room token or a call. Under
// ScopedNames the tenant owns the name already: nothing is done unless the
// room must exist before anyone joins (create) or the tenant's room quota
// must count it. Under SharedNames the room is ensured: created and
// claimed if new, refused if another tenant has it. Concurrent identical
// calls share one run, which goes on if its first caller goes away, so a
// claim is never abandoned halfway by a client hanging up.
func (m *Manager) prepareRoom(ctx context.Context, ref roomRef, create bool, agents []AgentDispatch) error {
	var run func(context.Context) error
	switch {
	case !ref.checked():
		// Unauthenticated mode claims nothing and counts nothing.
		if !create {
			return nil
		}
		run = func(ctx context.Context) error { _, err := m.createRoom(ctx, ref, agents); return err }
	case m.cfg.RoomNames == SharedNames:
		run = func(ctx context.Context) error { return m.ensureShared(ctx, ref, agents) }
	default:
		l, err := m.limitsOf(ctx, ref.tenant)
		if err != nil {
			return err
		}
		switch maxRooms := l.MaxRooms; {
		case maxRooms > 0:
			// maxRooms, not l: a closure captures a Limits by reference,
			// on the heap.
			run = func(ctx context.Context) error { return m.createCounted(ctx, ref, agents, maxRooms) }
		case create:
			run = func(ctx context.Context) error { return m.createScoped(ctx, ref, agents) }
		default:
			return nil
		}
	}
	ch := m.ensures.DoChan(ref.tenant+"\x00"+ref.lk+"\x00"+agentsKey(agents), func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.RequestTimeout)
		defer cancel()
		return nil, run(ctx)
	})
	select {
	case res := <-ch:
		return res.Err
	case <-ctx.Done():
		return contextError(ctx.Err(), "preparing the room")
	}
}

// agentsKey tells apart ensures whose new rooms would dispatch different
// agents, so that coalescing never drops a dispatch.
func agentsKey(agents []AgentDispatch) string {
	if len(agents) == 0 {
		return ""
	}
	b, _ := json.Marshal(agents)
	return string(b)
}

// createRoom is LiveKit's CreateRoom for ref, with Config.Room and the
// agents to dispatch if the room is new. It never carries metadata: newer
// LiveKit servers overwrite an existing room's metadata on CreateRoom.
func (m *Manager) createRoom(ctx context.Context, ref roomRef, agents []AgentDispatch) (*livekit.Room, error) {
	req := &livekit.CreateRoomRequest{
		Name:             ref.lk,
		EmptyTimeout:     durationSeconds(m.cfg.Room.EmptyTimeout),
		DepartureTimeout: durationSeconds(m.cfg.Room.DepartureTimeout),
		MaxParticipants:  m.cfg.Room.MaxParticipants,
	}
	for _, a := range agents {
		req.Agents = append(req.Agents, &livekit.RoomAgentDispatch{AgentName: a.AgentName, Metadata: a.Metadata})
	}
	room, err := m.rooms.CreateRoom(ctx, req)
	m.listed.invalidate() // even on failure: a timed-out create may have created it
	if err != nil {
		return nil, fromLiveKit("create room", ref.name, err)
	}
	return room, nil
}

// createScoped creates a scoped room (one idempotent CreateRoom) and, the
// first time, records its tenant under OwnerKey for tools that read it: a
// second call, best effort, since the name alone decides ownership.
func (m *Manager) createScoped(ctx context.Context, ref roomRef, agents []AgentDispatch) error {
	room, err := m.createRoom(ctx, ref, agents)
	if err != nil || room.GetMetadata() != "" {
		return err
	}
	// Once per room, while it has no owner: a room lkgate set up was
	// indexed then, so PrecreateRooms's tokens write no index.
	m.indexStarted(ctx, ref.tenant, room)
	metadata, _ := metadataWithOwner("", ref.tenant)
	if _, err := m.rooms.UpdateRoomMetadata(ctx, &livekit.UpdateRoomMetadataRequest{Room: ref.lk, Metadata: metadata}); err != nil {
		m.logFailure(ctx, slog.LevelWarn, "could not record the owner of a new room", fromLiveKit("record owner", ref.name, err),
			slog.String("room", ref.name), slog.String("tenant", ref.tenant))
	}
	return nil
}

// roomClass is what a LiveKit room is to one tenant.
type roomClass int

const (
	notTenants roomClass = iota
	tenantRoom
	tenantLobby
)

// roomKind tells whether r is one of tenant's rooms or guest lobbies, and
// gives a room's name as the tenant knows it. Under ScopedNames the name
// decides; under SharedNames the metadata, which is parsed only where it
// could name the tenant (lkgate writes the owner into the lobbies it
// creates).
func (m *Manager) roomKind(r *livekit.Room, tenant string) (name string, kind roomClass) {
	lobby := false
	if m.cfg.RoomNames == SharedNames {
		md := r.GetMetadata()
		if !mayName(md, tenant) || !ownedBy(md, tenant) {
			return "", notTenants
		}
		name, lobby = r.GetName(), strings.HasPrefix(r.GetName(), LobbyPrefix)
	} else {
		owner, scopedName, ok := ParseScopedRoomName(r.GetName())
		if !ok || owner != tenant {
			return "", notTenants
		}
		name, lobby = scopedName, strings.HasPrefix(scopedName, LobbyPrefix)
	}
	if lobby {
		return name, tenantLobby
	}
	return name, tenantRoom
}

// lock takes the Locker's lock named key, converting its failures.
func (m *Manager) lock(ctx context.Context, key, what string) (unlock func(), err error) {
	unlock, err = m.locker.Lock(ctx, key)
	if err != nil {
		if ctx.Err() != nil {
			return nil, contextError(ctx.Err(), "waiting for "+what)
		}
		m.logFailure(ctx, slog.LevelError, "lock failed", err, slog.String("key", key))
		return nil, &Error{Kind: ErrUnavailable, Msg: what + " is unavailable"}
	}
	return unlock, nil
}

// lookupRoom returns ref's LiveKit room, or nil if it does not exist.
func (m *Manager) lookupRoom(ctx context.Context, ref roomRef) (*livekit.Room, error) {
	res, err := m.rooms.ListRooms(ctx, &livekit.ListRoomsRequest{Names: []string{ref.lk}})
	if err != nil {
		return nil, fromLiveKit("list rooms", ref.name, err)
	}
	for _, r := range res.GetRooms() {
		if r.GetName() == ref.lk {
			return r, nil
		}
	}
	return nil, nil
}
