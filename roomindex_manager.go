package lkgate

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"
	"golang.org/x/sync/errgroup"
)

// DefaultRoomIndexReconcile is Config.RoomIndexReconcile's default.
const DefaultRoomIndexReconcile = 5 * time.Minute

const (
	// roomIndexMargin is how long after LiveKit created a room its absence
	// from a list may still be LiveKit's list trailing the creation (a few
	// ms) or the clocks of lkgate and LiveKit disagreeing: an entry that
	// young is never removed for being unlisted.
	roomIndexMargin = time.Minute
	// reconcileExtra lengthens a reconciliation's deadline beyond
	// Config.RequestTimeout: its unfiltered ListRooms reads every room,
	// seconds at a million.
	reconcileExtra = time.Minute
	// reconcileWorkers is how many tenants a reconciliation reconciles at
	// once: a shared index answers each in a network round trip or more.
	reconcileWorkers = 8
	// maxNamesPerList bounds the names of one ListRooms request (at most
	// 256 bytes each).
	maxNamesPerList = 1000
)

// indexedRoom is r as a RoomIndex keeps it.
func indexedRoom(r *livekit.Room) IndexedRoom {
	return IndexedRoom{Name: r.GetName(), SID: r.GetSid(), Started: time.Unix(r.GetCreationTime(), 0).UTC()}
}

// roomTenant is the tenant whose rooms or lobbies r counts among, "" for
// none: the name's under ScopedNames, the owner in the metadata under
// SharedNames.
func (m *Manager) roomTenant(r *livekit.Room) string {
	tenant, _ := m.tenantOf(r.GetName(), r.GetMetadata())
	// An owner written by another tool may be anything: keep it out of
	// the index's keys.
	if m.cfg.RoomNames == SharedNames && validateText("tenant", tenant, MaxTenantBytes) != nil {
		return ""
	}
	return tenant
}

// indexStarted records in the room index that r, LiveKit's answer to a
// write of this Manager, is tenant's: nothing if r is not (yet) the
// tenant's, as a shared name before its claim. A failure is logged, not
// returned: the write it follows succeeded, and the next reconciliation
// repairs the index.
func (m *Manager) indexStarted(ctx context.Context, tenant string, r *livekit.Room) {
	if m.index == nil || tenant == "" || r == nil || r.GetSid() == "" || m.roomTenant(r) != tenant {
		return
	}
	if err := m.index.Started(ctx, tenant, indexedRoom(r)); err != nil {
		m.logFailure(ctx, slog.LevelWarn, "room index failed: the next reconciliation adds the room", err,
			slog.String("room", r.GetName()), slog.String("tenant", tenant))
	}
}

// indexFinished records in the room index that the session sid of
// tenant's room lk (its LiveKit name) ended, after this Manager deleted
// it; an empty sid is the index's own entry for lk. Failures are logged
// as indexStarted's.
func (m *Manager) indexFinished(ctx context.Context, tenant, lk, sid string) {
	if m.index == nil || tenant == "" {
		return
	}
	err := func() error {
		if sid == "" {
			e, ok, err := m.index.Room(ctx, tenant, lk)
			if err != nil || !ok {
				return err
			}
			sid = e.SID
		}
		return m.index.Finished(ctx, tenant, IndexedRoom{Name: lk, SID: sid})
	}()
	if err != nil {
		m.logFailure(ctx, slog.LevelWarn, "room index failed: the next reconciliation removes the room", err,
			slog.String("room", lk), slog.String("tenant", tenant))
	}
}

// indexedRooms returns LiveKit's answer for the tenant's rooms and lobbies
// that the room index names and keep accepts (nil: all), and for extra
// names: ListRooms by name, in requests of at most maxNamesPerList names,
// so that the cost follows the tenant's rooms. An entry LiveKit does not
// return and that started before roomIndexMargin is finished in the index
// (read repair). The answer is LiveKit's, unfiltered: the caller keeps what
// roomKind gives the tenant.
func (m *Manager) indexedRooms(ctx context.Context, tenant string, keep func(lk string) bool, extra ...string) ([]*livekit.Room, error) {
	start := m.now()
	entries, err := m.index.Rooms(ctx, tenant)
	if err != nil {
		return nil, m.storeFailed(ctx, "room index", err, slog.String("tenant", tenant))
	}
	if keep != nil {
		// A copy: the index's slice may be its own.
		entries = slices.DeleteFunc(slices.Clone(entries), func(e IndexedRoom) bool { return !keep(e.Name) })
	}
	names := make([]string, 0, len(entries)+len(extra))
	seen := make(map[string]bool, len(entries)+len(extra))
	for _, e := range entries {
		if !seen[e.Name] {
			seen[e.Name] = true
			names = append(names, e.Name)
		}
	}
	for _, n := range extra {
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	rooms, err := m.listRoomsNamed(ctx, names)
	if err != nil {
		return nil, err
	}
	listed := make(map[string]bool, len(rooms))
	for _, r := range rooms {
		listed[r.GetName()] = true
	}
	for _, e := range entries {
		if !listed[e.Name] && e.Started.Before(start.Add(-roomIndexMargin)) {
			// Gone from LiveKit for good: a later session has another SID.
			if err := m.index.Finished(ctx, tenant, e); err != nil {
				m.logFailure(ctx, slog.LevelWarn, "room index failed: the next reconciliation removes the room", err,
					slog.String("room", e.Name), slog.String("tenant", tenant))
			}
		}
	}
	return rooms, nil
}

// listRoomsNamed returns LiveKit's answer for the rooms of these LiveKit
// names that are open, in ListRooms requests of at most maxNamesPerList
// names: none for no names.
func (m *Manager) listRoomsNamed(ctx context.Context, names []string) ([]*livekit.Room, error) {
	var rooms []*livekit.Room
	for len(names) > 0 {
		chunk := names[:min(len(names), maxNamesPerList)]
		names = names[len(chunk):]
		res, err := m.rooms.ListRooms(ctx, &livekit.ListRoomsRequest{Names: chunk})
		if err != nil {
			return nil, fromLiveKit("list rooms", "", err)
		}
		rooms = append(rooms, res.GetRooms()...)
	}
	return rooms, nil
}

// IndexRoomEvent feeds LiveKit's room_started and room_finished webhooks
// to [Config].RoomIndex: the room is recorded as its tenant's (from its
// name under [ScopedNames], its metadata's owner under [SharedNames]), or
// removed. Other events, rooms of no tenant, and a Manager without a room
// index do nothing. Call it once per verified event: httpx's webhook route
// does, after its dedupe and before RecordUsage; duplicates and any order
// are harmless, and events never delivered are repaired by the next
// reconciliation ([Manager.ReconcileRoomIndex]).
//
// Errors: the index's, as [ErrUnavailable], so that the webhook's answer
// (503) makes LiveKit retry it.
func (m *Manager) IndexRoomEvent(ctx context.Context, ev *livekit.WebhookEvent) error {
	r := ev.GetRoom()
	e := ev.GetEvent()
	if m.index == nil || e != webhook.EventRoomStarted && e != webhook.EventRoomFinished || r.GetSid() == "" {
		return nil
	}
	tenant := m.roomTenant(r)
	if tenant == "" {
		return nil
	}
	return m.run(ctx, operation{op: "index room", tenant: tenant, room: r.GetName(), tenantless: true}, func(ctx context.Context, _ *auditRecord) error {
		write := m.index.Started
		if e == webhook.EventRoomFinished {
			write = m.index.Finished
		}
		if err := write(ctx, tenant, indexedRoom(r)); err != nil {
			return m.storeFailed(ctx, "room index", err, slog.String("room", r.GetName()), slog.String("tenant", tenant))
		}
		return nil
	})
}

// ReconcileRoomIndex makes [Config].RoomIndex agree with LiveKit: one
// unfiltered ListRooms, grouped by tenant (rooms and guest lobbies alike,
// since room quotas count both), then [RoomIndex].Reconcile for every
// tenant listed or in the index, so that rooms whose webhooks were lost
// are added and rooms that ended unseen are removed. Entries younger than
// a minute before the list are kept: LiveKit's list trails its
// creations. Without a room index it does nothing.
//
// The Manager runs it every [Config].RoomIndexReconcile unless that is
// negative; a host that turns it off runs it itself, on one replica, as
// often as it wants lists and quotas repaired. It costs one unfiltered
// ListRooms (linear in every room on LiveKit) and one index call per
// tenant, bounded by [Config].RequestTimeout plus a minute (a caller's
// earlier deadline wins).
//
// Errors: LiveKit's; [ErrUnavailable] if the index failed for a tenant
// (the others are reconciled all the same).
func (m *Manager) ReconcileRoomIndex(ctx context.Context) (ReconcileResult, error) {
	return runResult(ctx, m, operation{op: "reconcile room index", tenantless: true, extra: reconcileExtra}, func(ctx context.Context, _ *auditRecord) (ReconcileResult, error) {
		var total ReconcileResult
		if m.index == nil {
			return total, nil
		}
		before := m.now().Add(-roomIndexMargin)
		res, err := m.rooms.ListRooms(ctx, &livekit.ListRoomsRequest{})
		if err != nil {
			return total, fromLiveKit("list rooms", "", err)
		}
		byTenant := map[string][]IndexedRoom{}
		for _, r := range res.GetRooms() {
			if tenant := m.roomTenant(r); tenant != "" {
				byTenant[tenant] = append(byTenant[tenant], indexedRoom(r))
			}
		}
		known, err := m.index.Tenants(ctx)
		if err != nil {
			return total, m.storeFailed(ctx, "room index", err)
		}
		for _, tenant := range known {
			if _, ok := byTenant[tenant]; !ok {
				byTenant[tenant] = nil
			}
		}
		var (
			mu     sync.Mutex
			failed error
			g      errgroup.Group
		)
		g.SetLimit(reconcileWorkers)
		for tenant, listed := range byTenant {
			g.Go(func() error {
				if ctx.Err() != nil {
					return nil // reported once, below
				}
				r, err := m.index.Reconcile(ctx, tenant, listed, before)
				mu.Lock()
				defer mu.Unlock()
				if err != nil && ctx.Err() == nil {
					failed = m.storeFailed(ctx, "room index", err, slog.String("tenant", tenant))
				}
				total.Added += r.Added
				total.Removed += r.Removed
				return nil
			})
		}
		_ = g.Wait()
		if ctx.Err() != nil {
			return total, contextError(ctx.Err(), "reconciling the room index")
		}
		return total, failed
	})
}
