package lkgate

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
)

// Room quotas (Limits.MaxRooms, and the guests' lobbies) are counted from
// LiveKit's own room list under a per-tenant lock, before anything is
// created; the Manager counts the rooms it created itself until the list
// shows them. With a room index (Config.RoomIndex) the list is LiveKit's
// answer for the tenant's indexed names: a room a participant's join
// created counts once its room_started webhook, or the next
// reconciliation, puts it in the index.

// createCounted creates a scoped room, if it does not exist, within the
// tenant's room quota. Once the look-up finds no room, the creation is
// audited (room.create) whatever its outcome, unless the count finds the
// room made meanwhile.
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
	return m.withCount(ctx, ref, 0, func(c roomCount) error {
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
// lobby), under the tenant's lock with a fresh count of its rooms; f holds
// the lock until settle sees what it created, so that the next count, here
// or on another replica, sees it too. Lobbies older than lobbyTTL go to the
// count's stale (0: none do).
func (m *Manager) withCount(ctx context.Context, ref roomRef, lobbyTTL time.Duration, f func(roomCount) error) error {
	unlock, err := m.lock(ctx, "lkgate:tenant-rooms:"+ref.tenant, "the tenant's room quota lock")
	if err != nil {
		return err
	}
	defer unlock()
	c, err := m.countRooms(ctx, ref, lobbyTTL)
	if err != nil {
		return err
	}
	return f(c)
}

// roomCount is what LiveKit's list tells of a tenant's rooms.
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
	lk, sid  string
	ofTenant bool // counted in lobbies
	ofRoom   bool // counted in roomLobbies
}

// countRooms counts the rooms and lobbies of ref's tenant, and reports
// whether ref is one of its rooms.
func (m *Manager) countRooms(ctx context.Context, ref roomRef, lobbyTTL time.Duration) (roomCount, error) {
	var c roomCount
	all, err := m.roomsToCount(ctx, ref)
	if err != nil {
		return c, err
	}
	lobbyPrefix := m.lobbyPrefix(ref)
	now := m.now()
	var shown map[string]bool // the tenant's rooms and lobbies, if any are unlisted
	if m.unlisted.any(ref.tenant) {
		shown = map[string]bool{}
	}
	for _, r := range all {
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
		ofRoom := strings.HasPrefix(r.GetName(), lobbyPrefix)
		switch {
		case kind != tenantLobby && !ofRoom:
		case lobbyTTL > 0 && lobbyExpired(r, lobbyTTL, now):
			c.stale = append(c.stale, staleLobby{lk: r.GetName(), sid: r.GetSid(), ofTenant: kind == tenantLobby, ofRoom: ofRoom})
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
		if strings.HasPrefix(lk, lobbyPrefix) {
			c.roomLobbies++
		}
	}
	return c, nil
}

// roomsToCount returns the LiveKit rooms among which countRooms finds
// ref's tenant's: one unfiltered ListRooms, or, with a room index, the
// tenant's indexed rooms and ref's by name. LiveKit's answer trails a
// creation by name as unfiltered, so settle and unlistedRooms serve both.
func (m *Manager) roomsToCount(ctx context.Context, ref roomRef) ([]*livekit.Room, error) {
	if m.index != nil {
		return m.indexedRooms(ctx, ref.tenant, nil, ref.lk)
	}
	res, err := m.rooms.ListRooms(ctx, &livekit.ListRoomsRequest{})
	if err != nil {
		return nil, fromLiveKit("list rooms", ref.name, err)
	}
	return res.GetRooms(), nil
}

// settle waits, polling with a backoff for at most half of
// Config.RequestTimeout, until LiveKit's room list, which trails creations
// and metadata updates, shows ref's room as the tenant's kind; past that,
// this Manager counts the room itself (unlistedRooms) and logs that
// another replica may miss it.
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

// unlistedRooms are the rooms and lobbies settle gave up on: the tenant's
// next count adds them until the list shows them or unlistedTTL passes.
// The zero value is empty.
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
