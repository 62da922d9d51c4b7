package lkgate

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"golang.org/x/sync/errgroup"
)

// DefaultBanSweepInterval is Config.BanSweepInterval's default: how long
// a banned client that only signals, or any banned client without
// webhooks, may stay in the room.
const DefaultBanSweepInterval = 10 * time.Second

// banSweepWorkers is how many banned rooms a sweep reads at once.
const banSweepWorkers = 8

// SweepBans removes every participant banned from the room it is in
// ([Manager.Ban]) and reports how many it removed. The join guard removes
// a banned identity that rejoins, but only on its participant_joined
// webhook, which LiveKit never sends for a client that only signals
// (never completes ICE) and never without webhooks; such a client keeps
// receiving the room's participants and updates, and a full client the
// room's media, until this sweep finds it.
//
// The Manager runs it every [Config].BanSweepInterval unless that is
// negative. It costs one [BanStore].Bans; with bans, one ListRooms by the
// banned rooms' names (per 1,000), then for each banned room that is open
// and still its tenant's a GetParticipant of its one banned identity, or
// one ListParticipants for several, and for each banned identity found
// a [BanStore].BannedUntil (the store's word, not its list, decides) and a
// RemoveParticipant, audited as [ActionGuardRemove] with reason "banned".
// Without bans it makes no LiveKit call.
//
// Errors: [ErrUnavailable] when the ban store fails; LiveKit's. A failure
// in one room does not stop the others.
func (m *Manager) SweepBans(ctx context.Context) (removed int, err error) {
	return runResult(ctx, m, operation{op: "sweep bans", tenantless: true}, func(ctx context.Context, _ *auditRecord) (int, error) {
		bans, err := m.bans.Bans(ctx, m.now())
		if err != nil {
			return 0, m.storeFailed(ctx, "ban store", err)
		}
		byRoom := map[string][]Ban{}
		for _, b := range bans {
			byRoom[b.Room] = append(byRoom[b.Room], b)
		}
		open, err := m.listRoomsNamed(ctx, slices.Sorted(maps.Keys(byRoom)))
		if err != nil {
			return 0, err
		}
		var (
			mu     sync.Mutex
			failed error
			g      errgroup.Group
		)
		g.SetLimit(banSweepWorkers)
		for _, r := range open {
			// A ban holds in its tenant's room only: under SharedNames the
			// name may have passed to another tenant since.
			owner, _ := m.tenantOf(r.GetName(), r.GetMetadata())
			banned := map[string]bool{}
			for _, b := range byRoom[r.GetName()] {
				if b.Tenant == owner {
					banned[b.Identity] = true
				}
			}
			if len(banned) == 0 {
				continue
			}
			g.Go(func() error {
				n, err := m.sweepRoom(ctx, owner, r.GetName(), banned)
				mu.Lock()
				defer mu.Unlock()
				removed += n
				if err != nil && failed == nil {
					failed = err
				}
				return nil
			})
		}
		_ = g.Wait()
		return removed, failed
	})
}

// presentBanned returns which of the banned identities are in the LiveKit
// room lk: for one, GetParticipant, whose answer does not grow with the
// room (one ban in a webinar of thousands is the usual case); for more,
// one ListParticipants. A room closed since has none.
func (m *Manager) presentBanned(ctx context.Context, lk, name string, banned map[string]bool) ([]string, error) {
	if len(banned) == 1 {
		for identity := range banned {
			_, err := m.rooms.GetParticipant(ctx, &livekit.RoomParticipantIdentity{Room: lk, Identity: identity})
			if err = fromLiveKit("get participant", name, err); errors.Is(err, ErrNotFound) {
				return nil, nil
			} else if err != nil {
				return nil, err
			}
			return []string{identity}, nil
		}
	}
	res, err := m.rooms.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: lk})
	if err = fromLiveKit("list participants", name, err); errors.Is(err, ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var present []string
	for _, p := range res.GetParticipants() {
		if banned[p.GetIdentity()] {
			present = append(present, p.GetIdentity())
		}
	}
	return present, nil
}

// sweepRoom removes the banned identities among the participants of the
// LiveKit room lk, tenant's.
func (m *Manager) sweepRoom(ctx context.Context, tenant, lk string, banned map[string]bool) (removed int, err error) {
	_, name := m.tenantOf(lk, "") // as the tenant knows it
	present, err := m.presentBanned(ctx, lk, name, banned)
	if err != nil {
		return 0, err
	}
	for _, identity := range present {
		o := operation{op: "sweep bans", action: ActionGuardRemove, tenant: tenant, room: name, target: identity,
			tenantless: true, details: map[string]string{"reason": "banned", "found_by": "ban_sweep"}}
		err := m.run(ctx, o, func(ctx context.Context, a *auditRecord) error {
			a.Subject = "lkgate"
			until, err := m.bans.BannedUntil(ctx, tenant, lk, identity, m.now())
			if err != nil {
				return m.storeFailed(ctx, "ban store", err, slog.String("room", name))
			}
			if until.IsZero() {
				a.drop() // lifted since the list
				return nil
			}
			_, err = m.rooms.RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: lk, Identity: identity})
			if err = fromLiveKit("sweep bans", name, err); errors.Is(err, ErrNotFound) {
				a.drop() // gone already
				return nil
			}
			if err == nil {
				removed++
				m.log.WarnContext(ctx, "ban sweep removed a banned participant", "tenant", tenant, "room", name, "identity", identity)
			}
			return err
		})
		if err != nil {
			return removed, err
		}
	}
	return removed, nil
}
