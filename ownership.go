package lkgate

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

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
		switch {
		case l.MaxRooms > 0:
			run = func(ctx context.Context) error { return m.createCounted(ctx, ref, agents, l.MaxRooms) }
		case create:
			run = func(ctx context.Context) error { return m.createScoped(ctx, ref, agents) }
		default:
			return nil
		}
	}
	ch := m.ensures.DoChan(ref.tenant+"\x00"+ref.lk+"\x00"+agentsKey(agents), func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.EnsureTimeout)
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
	metadata, _ := metadataWithOwner("", ref.tenant)
	if _, err := m.rooms.UpdateRoomMetadata(ctx, &livekit.UpdateRoomMetadataRequest{Room: ref.lk, Metadata: metadata}); err != nil {
		m.log.WarnContext(ctx, "could not record the owner of a new room", "room", ref.name, "tenant", ref.tenant,
			"error", fromLiveKit("record owner", ref.name, err).Error())
	}
	return nil
}

// createCounted creates a scoped room within the tenant's room quota: a
// room that exists costs one ListRooms by name; a new one is counted and
// created under the tenant's quota lock.
func (m *Manager) createCounted(ctx context.Context, ref roomRef, agents []AgentDispatch, maxRooms int) error {
	room, err := m.lookupRoom(ctx, ref)
	if err != nil || room != nil {
		return err
	}
	return m.counted(ctx, ref, maxRooms, func() error { return m.createScoped(ctx, ref, agents) })
}

// counted runs create, which makes ref's room, within the tenant's room
// quota.
//
// The quota is counted from LiveKit, the one source of truth (rooms close
// on their own), under a per-tenant lock, before anything is created: a
// refused request leaves no room behind. The lock is held until LiveKit's
// room list shows the new room, so the next count, here or on another
// replica, sees it.
func (m *Manager) counted(ctx context.Context, ref roomRef, maxRooms int, create func() error) error {
	unlock, err := m.lock(ctx, "lkgate:tenant-rooms:"+ref.tenant, "the tenant's room quota lock")
	if err != nil {
		return err
	}
	defer unlock()
	n, mine, err := m.countRooms(ctx, ref)
	if err != nil || mine {
		return err
	}
	// A shared name's claim audits itself; a scoped room's creation is
	// audited here, where the quota lets it happen.
	action := ActionRoomClaim
	if m.cfg.RoomNames == ScopedNames {
		action = ActionRoomCreate
	}
	if n >= maxRooms {
		err := limited(LimitMaxRooms, QuotaRetryAfter, "the tenant has %d rooms, its limit (max_rooms)", n)
		m.audit(ctx, AuditEvent{Tenant: ref.tenant, Action: action, Room: ref.name}, err)
		return err
	}
	if err := create(); err != nil {
		return err
	}
	if action == ActionRoomCreate {
		m.audit(ctx, AuditEvent{Tenant: ref.tenant, Action: action, Room: ref.name}, nil)
	}
	m.settle(ctx, ref)
	return nil
}

// countRooms counts the rooms of ref's tenant, and reports whether ref is
// one. Lobbies are not counted.
func (m *Manager) countRooms(ctx context.Context, ref roomRef) (n int, mine bool, err error) {
	res, err := m.rooms.ListRooms(ctx, &livekit.ListRoomsRequest{})
	if err != nil {
		return 0, false, fromLiveKit("list rooms", ref.name, err)
	}
	for _, r := range res.GetRooms() {
		if name, ok := m.tenantRoomName(r, ref.tenant); ok {
			n++
			mine = mine || name == ref.name
		}
	}
	return n, mine, nil
}

// tenantRoomName reports whether r is one of tenant's rooms (not a lobby),
// and its name as the tenant knows it. Under ScopedNames the name decides;
// under SharedNames the metadata, which is parsed only where it could name
// the tenant.
func (m *Manager) tenantRoomName(r *livekit.Room, tenant string) (string, bool) {
	if m.cfg.RoomNames == SharedNames {
		md := r.GetMetadata()
		return r.GetName(), mayName(md, tenant) && ownedBy(md, tenant)
	}
	owner, name, ok := ParseScopedRoomName(r.GetName())
	return name, ok && owner == tenant && !strings.HasPrefix(name, LobbyPrefix)
}

// settle waits, boundedly, until LiveKit's room list shows ref's room as
// the tenant's: the list trails creations and metadata updates by
// milliseconds.
func (m *Manager) settle(ctx context.Context, ref roomRef) {
	deadline := time.Now().Add(settleTimeout)
	for {
		room, err := m.lookupRoom(ctx, ref)
		if err != nil {
			return
		}
		if room != nil {
			if _, ok := m.tenantRoomName(room, ref.tenant); ok {
				return
			}
		}
		if time.Now().After(deadline) {
			m.log.WarnContext(ctx, "LiveKit's room list did not show a new room in time; the next room count may miss it", "room", ref.name, "tenant", ref.tenant)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(settleInterval):
		}
	}
}

const (
	settleTimeout  = time.Second
	settleInterval = 2 * time.Millisecond
)

// lock takes the Locker's lock named key, converting its failures.
func (m *Manager) lock(ctx context.Context, key, what string) (unlock func(), err error) {
	unlock, err = m.locker.Lock(ctx, key)
	if err != nil {
		if ctx.Err() != nil {
			return nil, contextError(ctx.Err(), "waiting for "+what)
		}
		m.log.ErrorContext(ctx, "lock failed", "key", key, "error", err.Error())
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

// lookupLiveKitRoom is lookupRoom for a LiveKit name outside any request.
func (m *Manager) lookupLiveKitRoom(ctx context.Context, name string) (*livekit.Room, error) {
	return m.lookupRoom(ctx, roomRef{name: name, lk: name})
}

func contextError(err error, doing string) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Kind: ErrTimeout, Msg: "deadline exceeded while " + doing}
	}
	return &Error{Kind: ErrUnavailable, Msg: "canceled while " + doing}
}
