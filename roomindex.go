package lkgate

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"
)

// RoomIndex keeps the names of each tenant's LiveKit rooms, so that
// listing a tenant's rooms and counting them for its quota cost that
// tenant's rooms instead of one unfiltered ListRooms of every room on
// LiveKit (see docs/scaling.md). The Manager reads the index for names
// only and asks LiveKit for those rooms by name: LiveKit's answer is what
// is listed and counted, so a name the index keeps after its room ended
// costs a few bytes of request, never a room that does not exist.
//
// The index is fed by the Manager's own creations, claims and deletions,
// by LiveKit's room_started and room_finished webhooks, and reconciled
// against a full LiveKit list periodically. Webhooks arrive duplicated,
// late and out of order, and some never arrive: every method is
// idempotent, and Started and Finished commute for one room session.
//
// Implementations must be safe for concurrent use by several Managers
// (replicas). NewMemoryRoomIndex keeps one process's index; redislimit's
// RoomIndex shares one between replicas.
type RoomIndex interface {
	// Started records that the room session r began. It is ignored if
	// the index has seen that session (r.SID) finish, or holds a later
	// session (by Started, then SID) under the same name.
	Started(ctx context.Context, tenant string, r IndexedRoom) error
	// Finished records that the room session r ended: it removes the
	// room if the index holds that session under r.Name, and remembers
	// r.SID as finished for at least FinishedMemory, so that a Started
	// delivered after it is ignored.
	Finished(ctx context.Context, tenant string, r IndexedRoom) error
	// Rooms returns the tenant's rooms, in no given order.
	Rooms(ctx context.Context, tenant string) ([]IndexedRoom, error)
	// Room returns the tenant's entry for the LiveKit room name, if any:
	// a read of that one entry, whatever the tenant's size.
	Room(ctx context.Context, tenant, name string) (IndexedRoom, bool, error)
	// Tenants returns every tenant that has a room in the index.
	Tenants(ctx context.Context) ([]string, error)
	// Reconcile makes the tenant's entries agree with listed, every room
	// of the tenant in a full LiveKit list: a listed session the index
	// lacks is added (unless it finished); an entry listed under another
	// session is replaced by the later one; an entry that is not listed
	// and Started before before is removed. Entries started since before
	// are kept: LiveKit's list trails its creations.
	Reconcile(ctx context.Context, tenant string, listed []IndexedRoom, before time.Time) (ReconcileResult, error)
}

// FinishedMemory is how long a RoomIndex remembers a finished room session
// at least: longer than LiveKit retries a webhook.
const FinishedMemory = time.Hour

// IndexedRoom is one LiveKit room session in a RoomIndex.
type IndexedRoom struct {
	// Name is the room's LiveKit name (scoped, under ScopedNames).
	Name string
	// SID is LiveKit's id of the room session ("RM_…"); a room re-created
	// under the same name is a new session with a new SID.
	SID string
	// Started is when LiveKit created the room (its creation time, to the
	// second).
	Started time.Time
}

// ReconcileResult counts what one RoomIndex.Reconcile changed.
type ReconcileResult struct {
	// Added is the number of listed sessions the index lacked.
	Added int
	// Removed is the number of entries that were not listed, or listed
	// under a later session.
	Removed int
}

// later reports whether a is a later session of a room name than b: by
// Started, to the second as LiveKit gives it, then by SID.
func (a IndexedRoom) later(b IndexedRoom) bool {
	if as, bs := a.Started.Unix(), b.Started.Unix(); as != bs {
		return as > bs
	}
	return a.SID > b.SID
}

// memoryRoomIndex is the in-process RoomIndex.
type memoryRoomIndex struct {
	now func() time.Time

	mu       sync.Mutex
	rooms    map[string]map[string]IndexedRoom // tenant → name → session
	finished map[string]time.Time              // SID → remembered until
	purgeAt  int                               // len(finished) that triggers the next purge
}

// NewMemoryRoomIndex returns the in-process RoomIndex: it holds the rooms
// that are live on LiveKit (and those a lost room_finished left, until the
// next reconciliation), and remembers a finished session for
// FinishedMemory on now (nil means time.Now; give it the Manager's
// Config.Now), so its size follows the rooms and the sessions of one
// FinishedMemory. It is shared with no replica and empty after a restart
// until the Manager's first reconciliation.
func NewMemoryRoomIndex(now func() time.Time) RoomIndex {
	if now == nil {
		now = time.Now
	}
	return &memoryRoomIndex{now: now, rooms: map[string]map[string]IndexedRoom{}, finished: map[string]time.Time{}, purgeAt: 1024}
}

// finishedLocked reports whether the session sid is remembered finished.
func (x *memoryRoomIndex) finishedLocked(sid string, now time.Time) bool {
	until, ok := x.finished[sid]
	return ok && until.After(now)
}

// putLocked stores r as the tenant's session of r.Name.
func (x *memoryRoomIndex) putLocked(tenant string, r IndexedRoom) {
	rooms := x.rooms[tenant]
	if rooms == nil {
		rooms = map[string]IndexedRoom{}
		x.rooms[tenant] = rooms
	}
	rooms[r.Name] = r
}

// deleteLocked removes the tenant's entry name, and the tenant once it
// has none.
func (x *memoryRoomIndex) deleteLocked(tenant, name string) {
	delete(x.rooms[tenant], name)
	if len(x.rooms[tenant]) == 0 {
		delete(x.rooms, tenant)
	}
}

func (x *memoryRoomIndex) Started(_ context.Context, tenant string, r IndexedRoom) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.finishedLocked(r.SID, x.now()) {
		return nil
	}
	if cur, ok := x.rooms[tenant][r.Name]; ok && !r.later(cur) {
		return nil
	}
	x.putLocked(tenant, r)
	return nil
}

func (x *memoryRoomIndex) Finished(_ context.Context, tenant string, r IndexedRoom) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	now := x.now()
	if until := now.Add(FinishedMemory); until.After(x.finished[r.SID]) {
		x.finished[r.SID] = until
	}
	if cur, ok := x.rooms[tenant][r.Name]; ok && cur.SID == r.SID {
		x.deleteLocked(tenant, r.Name)
	}
	sweepDoubled(x.finished, &x.purgeAt, func(until time.Time) bool { return !until.After(now) })
	return nil
}

func (x *memoryRoomIndex) Rooms(_ context.Context, tenant string) ([]IndexedRoom, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return slices.Collect(maps.Values(x.rooms[tenant])), nil
}

func (x *memoryRoomIndex) Room(_ context.Context, tenant, name string) (IndexedRoom, bool, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	r, ok := x.rooms[tenant][name]
	return r, ok, nil
}

func (x *memoryRoomIndex) Tenants(context.Context) ([]string, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return slices.Collect(maps.Keys(x.rooms)), nil
}

func (x *memoryRoomIndex) Reconcile(_ context.Context, tenant string, listed []IndexedRoom, before time.Time) (ReconcileResult, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	var res ReconcileResult
	now := x.now()
	names := make(map[string]bool, len(listed))
	for _, l := range listed {
		names[l.Name] = true
		cur, ok := x.rooms[tenant][l.Name]
		switch {
		case x.finishedLocked(l.SID, now):
		case !ok:
			x.putLocked(tenant, l)
			res.Added++
		case l.later(cur):
			x.putLocked(tenant, l)
			res.Added++
			res.Removed++
		}
	}
	for name, r := range x.rooms[tenant] {
		if !names[name] && r.Started.Before(before) {
			x.deleteLocked(tenant, name)
			res.Removed++
		}
	}
	return res, nil
}
