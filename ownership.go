package lkgate

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
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
		m.logFailure(ctx, slog.LevelWarn, "could not record the owner of a new room", fromLiveKit("record owner", ref.name, err),
			slog.String("room", ref.name), slog.String("tenant", ref.tenant))
	}
	return nil
}

// createCounted creates a scoped room within the tenant's room quota: a
// room that exists costs one ListRooms by name; a new one is counted and
// created under the tenant's quota lock.
//
// Once the look-up finds no room, the creation is audited (room.create)
// whatever its outcome, unless the count finds the room made meanwhile.
func (m *Manager) createCounted(ctx context.Context, ref roomRef, agents []AgentDispatch, maxRooms int) error {
	room, err := m.lookupRoom(ctx, ref)
	if err != nil || room != nil {
		return err
	}
	tried := false
	err = m.counted(ctx, ref, maxRooms, func() error { tried = true; return m.createScoped(ctx, ref, agents) })
	if tried || err != nil {
		m.audit(ctx, AuditEvent{Tenant: ref.tenant, Action: ActionRoomCreate, Room: ref.name}, err)
	}
	return err
}

// counted runs create, which makes ref's room, within the tenant's room
// quota; it does not run it if the count shows the room already.
func (m *Manager) counted(ctx context.Context, ref roomRef, maxRooms int, create func() error) error {
	return m.withCount(ctx, ref, func(c roomCount) error {
		if c.mine {
			return nil
		}
		if c.rooms >= maxRooms {
			return limited(LimitMaxRooms, QuotaRetryAfter, "the tenant has %d rooms, its limit (max_rooms)", c.rooms)
		}
		if err := create(); err != nil {
			return err
		}
		m.settle(ctx, ref, tenantRoom)
		return nil
	})
}

// withCount runs f, which may create one room of ref's tenant (a room or a
// lobby) within a quota, with a fresh count of the tenant's rooms.
//
// Quotas are counted from LiveKit, the one source of truth (rooms close
// on their own), under a per-tenant lock, before anything is created: a
// refused request leaves no room behind. f holds the lock until LiveKit's
// room list shows what it created (settle), so that the next count, here
// or on another replica, sees it; for at most half of
// Config.RequestTimeout, past which this Manager counts the room itself
// until the list shows it, and another replica's count may miss it.
func (m *Manager) withCount(ctx context.Context, ref roomRef, f func(roomCount) error) error {
	unlock, err := m.lock(ctx, "lkgate:tenant-rooms:"+ref.tenant, "the tenant's room quota lock")
	if err != nil {
		return err
	}
	defer unlock()
	c, err := m.countRooms(ctx, ref)
	if err != nil {
		return err
	}
	return f(c)
}

// roomCount is what one unfiltered ListRooms tells of a tenant's rooms.
type roomCount struct {
	rooms int  // the tenant's rooms, lobbies left out
	mine  bool // ref's room is one of them
	// lobbies are the tenant's guest lobbies, and roomLobbies those of
	// ref's room. A lobby whose guest's pass has certainly expired is not
	// among them but in stale, for the guest count to close.
	lobbies, roomLobbies int
	stale                []staleLobby
}

// staleLobby is a lobby left to a guest that can no longer be admitted.
type staleLobby struct {
	lk       string
	ofTenant bool // counted in lobbies
	ofRoom   bool // counted in roomLobbies
}

// countRooms counts the rooms and lobbies of ref's tenant, and reports
// whether ref is one of its rooms.
func (m *Manager) countRooms(ctx context.Context, ref roomRef) (roomCount, error) {
	var c roomCount
	res, err := m.rooms.ListRooms(ctx, &livekit.ListRoomsRequest{})
	if err != nil {
		return c, fromLiveKit("list rooms", ref.name, err)
	}
	var lobbyPrefix string
	if m.guests != nil {
		lobbyPrefix = m.lobbyPrefix(ref)
	}
	now := m.now()
	var shown map[string]bool // the tenant's rooms and lobbies, if any are unlisted
	if m.unlisted.any(ref.tenant) {
		shown = map[string]bool{}
	}
	for _, r := range res.GetRooms() {
		name, kind := m.roomKind(r, ref.tenant)
		if shown != nil && kind != notTenants {
			shown[r.GetName()] = true
		}
		if kind == tenantRoom {
			c.rooms++
			c.mine = c.mine || name == ref.name
			continue
		}
		// Under SharedNames a lobby that a guest's join re-created has no
		// owner in its metadata; its name still gives its room.
		ofRoom := lobbyPrefix != "" && strings.HasPrefix(r.GetName(), lobbyPrefix)
		switch {
		case kind != tenantLobby && !ofRoom:
		case m.guests != nil && m.guests.staleLobby(r, now):
			c.stale = append(c.stale, staleLobby{lk: r.GetName(), ofTenant: kind == tenantLobby, ofRoom: ofRoom})
		default:
			if kind == tenantLobby {
				c.lobbies++
			}
			if ofRoom {
				c.roomLobbies++
			}
		}
	}
	for lk, kind := range m.unlisted.of(ref.tenant, shown) {
		if kind == tenantRoom {
			c.rooms++
			c.mine = c.mine || lk == ref.lk
			continue
		}
		c.lobbies++
		if lobbyPrefix != "" && strings.HasPrefix(lk, lobbyPrefix) {
			c.roomLobbies++
		}
	}
	return c, nil
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

// tenantRoomName reports whether r is one of tenant's rooms (not a lobby),
// and its name as the tenant knows it.
func (m *Manager) tenantRoomName(r *livekit.Room, tenant string) (string, bool) {
	name, kind := m.roomKind(r, tenant)
	return name, kind == tenantRoom
}

// settle waits until LiveKit's room list shows ref's room as the tenant's
// room or lobby (kind): the list trails creations and metadata updates,
// by milliseconds when LiveKit is well. It polls with a backoff (2 ms,
// doubling to 100 ms), through failed reads, for at most half of
// Config.RequestTimeout and never past ctx's deadline. A room the list
// still does not show is then counted by this Manager itself until the
// list shows it (see unlistedRooms); another replica's count may miss it
// meanwhile, which is logged.
func (m *Manager) settle(ctx context.Context, ref roomRef, kind roomClass) {
	deadline := time.Now().Add(m.cfg.RequestTimeout / 2)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	for wait := settleFirstPoll; ; wait = min(2*wait, settleMaxPoll) {
		room, err := m.lookupRoom(ctx, ref)
		if err == nil && room != nil {
			if _, k := m.roomKind(room, ref.tenant); k == kind {
				return
			}
		}
		if !time.Now().Add(wait).Before(deadline) {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
			continue
		case <-ctx.Done():
			t.Stop()
		}
		break
	}
	m.unlisted.add(ref.tenant, ref.lk, kind)
	m.log.WarnContext(ctx, "LiveKit's room list did not show a new room in time; this replica counts it until it does, another may miss it", "room", ref.name, "tenant", ref.tenant)
}

const (
	settleFirstPoll = 2 * time.Millisecond
	settleMaxPoll   = 100 * time.Millisecond
	// unlistedTTL is how long a room LiveKit's list does not show is
	// counted: past it the room has closed (Config.Room.EmptyTimeout, if
	// nobody joined) or the list shows it.
	unlistedTTL = time.Minute
)

// unlistedRooms are rooms and lobbies this Manager created that LiveKit's
// room list did not show when settle gave up: the tenant's next count adds
// them until the list shows them or unlistedTTL passes, so that a list
// that trails cannot lift a quota on this replica. The zero value is
// empty.
type unlistedRooms struct {
	mu    sync.Mutex
	rooms map[string]unlistedRoom // by LiveKit name
}

type unlistedRoom struct {
	tenant string
	kind   roomClass
	until  time.Time
}

func (u *unlistedRooms) add(tenant, lk string, kind roomClass) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.rooms == nil {
		u.rooms = map[string]unlistedRoom{}
	}
	u.rooms[lk] = unlistedRoom{tenant: tenant, kind: kind, until: time.Now().Add(unlistedTTL)}
}

// of returns the LiveKit names and kinds of tenant's unlisted rooms that
// listed, the names in LiveKit's list, does not hold, and forgets those it
// holds and those expired.
func (u *unlistedRooms) of(tenant string, listed map[string]bool) map[string]roomClass {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out map[string]roomClass
	now := time.Now()
	for lk, r := range u.rooms {
		switch {
		case listed[lk] || now.After(r.until):
			delete(u.rooms, lk)
		case r.tenant == tenant:
			if out == nil {
				out = map[string]roomClass{}
			}
			out[lk] = r.kind
		}
	}
	return out
}

// any reports whether tenant has unlisted rooms, so that a count builds
// the set of listed names only then.
func (u *unlistedRooms) any(tenant string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, r := range u.rooms {
		if r.tenant == tenant {
			return true
		}
	}
	return false
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
