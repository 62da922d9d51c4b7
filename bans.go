package lkgate

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
)

// A removed participant can rejoin: LiveKit hands every connected client a
// fresh 10-minute token, and self-hosted LiveKit revokes none. A ban makes
// removal stick for its duration: lkgate refuses new tokens for the
// identity in that room, and the join guard (GuardJoin) removes it again
// when it comes back with a token LiveKit refreshed. Bans live in a
// BanStore, never in LiveKit: room metadata is sent to every participant
// of the room and vanishes with the room, which a refreshed token
// re-creates without it.

// Bounds of a ban's duration (Manager.Ban).
const (
	MinBanDuration = time.Second
	// MaxBanDuration bounds a ban, and so how long a BanStore keeps one. A
	// longer exclusion is the host's to enforce: stop minting for the user.
	MaxBanDuration = 7 * 24 * time.Hour
)

// BanStore keeps bans: an identity refused from one room of one tenant
// until a time on the Manager's clock ([Config].Now). Replicas share it,
// and it must outlive a room (redislimit's Store is one). Implementations
// must be safe for concurrent use.
type BanStore interface {
	// Ban bans identity from tenant's room until until, replacing any ban
	// of the same identity and room.
	Ban(ctx context.Context, tenant, room, identity string, until time.Time) error
	// Unban lifts the ban, if any.
	Unban(ctx context.Context, tenant, room, identity string) error
	// BannedUntil returns the end of the ban of identity from tenant's room
	// if it ends after now; otherwise the zero time.
	BannedUntil(ctx context.Context, tenant, room, identity string, now time.Time) (time.Time, error)
	// Bans returns every ban that ends after now, in any order: the
	// Manager's ban sweep ([Manager.SweepBans]) looks for them in LiveKit.
	// It may also return a ban lifted or replaced meanwhile, as a store
	// whose list trails its bans does: the sweep asks BannedUntil before
	// it removes anyone.
	Bans(ctx context.Context, now time.Time) ([]Ban, error)
}

// Ban is one ban as a [BanStore] keeps it.
type Ban struct {
	Tenant string
	// Room is the room's LiveKit name, as the Manager gives it to
	// [BanStore].Ban.
	Room     string
	Identity string
	Until    time.Time
}

// banKey is one identity in one room of one tenant.
type banKey struct{ tenant, room, identity string }

// memoryBans is the in-process BanStore.
type memoryBans struct {
	now func() time.Time

	mu      sync.Mutex
	bans    map[banKey]time.Time // → until
	purgeAt int
}

// NewMemoryBanStore returns the in-process BanStore: it keeps each ban
// until it ends on now (nil means time.Now; give it the Manager's
// Config.Now). It is shared with no replica and empty after a restart.
func NewMemoryBanStore(now func() time.Time) BanStore {
	if now == nil {
		now = time.Now
	}
	return &memoryBans{now: now, bans: map[banKey]time.Time{}, purgeAt: 1024}
}

func (s *memoryBans) Ban(_ context.Context, tenant, room, identity string, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bans[banKey{tenant, room, identity}] = until
	now := s.now()
	sweepDoubled(s.bans, &s.purgeAt, func(until time.Time) bool { return !until.After(now) })
	return nil
}

func (s *memoryBans) Unban(_ context.Context, tenant, room, identity string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.bans, banKey{tenant, room, identity})
	return nil
}

func (s *memoryBans) BannedUntil(_ context.Context, tenant, room, identity string, now time.Time) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if until, ok := s.bans[banKey{tenant, room, identity}]; ok && until.After(now) {
		return until, nil
	}
	return time.Time{}, nil
}

func (s *memoryBans) Bans(_ context.Context, now time.Time) ([]Ban, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var bans []Ban
	for k, until := range s.bans {
		if until.After(now) {
			bans = append(bans, Ban{Tenant: k.tenant, Room: k.room, Identity: k.identity, Until: until})
		}
	}
	return bans, nil
}

// errBanned refuses a banned identity.
var errBanned = &Error{Kind: ErrForbidden, Field: "Identity", Msg: "this identity is banned from the room"}

// checkBan refuses identity while it is banned from ref's room. A store
// that fails refuses too (ErrUnavailable): a ban that cannot be read is
// not known to be over.
func (m *Manager) checkBan(ctx context.Context, ref roomRef, identity string) error {
	until, err := m.bans.BannedUntil(ctx, ref.tenant, ref.lk, identity, m.now())
	if err != nil {
		return m.storeFailed(ctx, "ban store", err, slog.String("room", ref.name))
	}
	if !until.IsZero() {
		return errBanned
	}
	return nil
}

// Ban bans identity from the tenant's room for d, then removes it from the
// room if it is there, and returns the ban's end. While banned, [Manager.Token],
// [Guests.Admit] and [SIP.Call] refuse the identity in that room with
// [ErrForbidden], and [Manager.GuardJoin] removes it when it rejoins with
// a token LiveKit refreshed. A later Ban replaces the ban's end; the
// identity need not be in the room. Nothing of the ban is visible to the
// room's participants: it lives in [Config].Bans only.
//
// Errors: [ErrInvalidArgument] for d outside [MinBanDuration] to
// [MaxBanDuration] or an invalid identity; [ErrLimited] when the tenant
// has [Limits].MaxBans bans in force (1,000 by default); [ErrNotFound]
// under [SharedNames] for a room that is not open and the tenant's;
// [ErrUnavailable] when the ban store fails, in which case nobody was
// removed; LiveKit's errors for the removal, after the ban was recorded.
func (m *Manager) Ban(ctx context.Context, tenant, room, identity string, d time.Duration) (time.Time, error) {
	o := operation{op: "ban participant", action: ActionParticipantBan, tenant: tenant, room: room, target: identity,
		details: map[string]string{"duration_seconds": strconv.FormatInt(int64(d/time.Second), 10)}}
	return runResult(ctx, m, o, func(ctx context.Context, a *auditRecord) (time.Time, error) {
		if err := validateText("Identity", identity, MaxIdentityBytes); err != nil {
			return time.Time{}, err
		}
		if d < MinBanDuration || d > MaxBanDuration {
			return time.Time{}, invalidArg("Duration", "must lie between %s and %s", MinBanDuration, MaxBanDuration)
		}
		ref, _, err := m.authorize(ctx, tenant, room, false)
		if err != nil {
			return time.Time{}, err
		}
		now := m.now()
		until := now.Add(d).Truncate(time.Second)
		release, err := m.takeBanPlace(ctx, ref, identity, until.Sub(now))
		if err != nil {
			return time.Time{}, err
		}
		if err := m.bans.Ban(ctx, ref.tenant, ref.lk, identity, until); err != nil {
			release()
			return time.Time{}, m.storeFailed(ctx, "ban store", err, slog.String("room", ref.name))
		}
		a.set("until", until.UTC().Format(time.RFC3339))
		_, err = m.rooms.RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: ref.lk, Identity: identity})
		err = fromLiveKit("ban participant", room, err)
		a.set("removed", strconv.FormatBool(err == nil))
		if errors.Is(err, ErrNotFound) {
			err = nil // not in the room (or no room open): the ban alone keeps it out
		}
		return until, err
	})
}

// Unban lifts identity's ban from the tenant's room, if any. Errors:
// [ErrNotFound] under [SharedNames] for a room that is not open and the
// tenant's; [ErrUnavailable] when the ban store fails.
func (m *Manager) Unban(ctx context.Context, tenant, room, identity string) error {
	o := operation{op: "unban participant", action: ActionParticipantUnban, tenant: tenant, room: room, target: identity}
	return m.run(ctx, o, func(ctx context.Context, _ *auditRecord) error {
		ref, err := m.participantRoom(ctx, tenant, room, identity)
		if err != nil {
			return err
		}
		if err := m.bans.Unban(ctx, ref.tenant, ref.lk, identity); err != nil {
			return m.storeFailed(ctx, "ban store", err, slog.String("room", ref.name))
		}
		if err := m.limits.Release(ctx, limitKey(LimitMaxBans, ref.tenant), banHolder(ref, identity)); err != nil {
			// Lifted all the same: the place frees itself when the ban
			// would have ended.
			m.logFailure(ctx, slog.LevelWarn, "limit store failed: the lifted ban holds its place among max_bans until its end", err,
				slog.String("room", ref.name))
		}
		return nil
	})
}

// banHolder names one ban's place among its tenant's MaxBans.
func banHolder(ref roomRef, identity string) string { return ref.lk + "\x00" + identity }

// takeBanPlace takes (or renews, for a ban replaced) the place of
// identity's ban from ref's room among the tenant's MaxBans, for ttl, the
// ban's length; release gives it back if the ban is not recorded.
func (m *Manager) takeBanPlace(ctx context.Context, ref roomRef, identity string, ttl time.Duration) (release func(), err error) {
	l, err := m.limitsOf(ctx, ref.tenant)
	if err != nil {
		return nil, err
	}
	limit := l.maxBans()
	if limit == 0 {
		return func() {}, nil
	}
	key, holder := limitKey(LimitMaxBans, ref.tenant), banHolder(ref, identity)
	ok, err := m.limits.Acquire(ctx, key, holder, limit, ttl)
	if err != nil {
		return nil, m.limitStoreError(ctx, LimitMaxBans, err)
	}
	if !ok {
		return nil, limited(LimitMaxBans, QuotaRetryAfter, "the tenant has %d bans in force, its limit (%s)", limit, LimitMaxBans)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := m.limits.Release(ctx, key, holder); err != nil {
			m.logFailure(ctx, slog.LevelWarn, "limit store failed: an unrecorded ban holds its place among max_bans", err,
				slog.String("room", ref.name))
		}
	}, nil
}
