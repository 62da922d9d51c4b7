package lkgate

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Names of the per-tenant limits, as carried by Error.Limit and audit
// events, and used in the limit store's keys.
const (
	LimitMaxRooms              = "max_rooms"
	LimitTokenRate             = "token_rate"
	LimitSIPCallRate           = "sip_call_rate"
	LimitMaxConcurrentSIPCalls = "max_concurrent_sip_calls"
	LimitInviteRate            = "invite_rate"
	LimitGuestWaitRate         = "guest_wait_rate"
)

// QuotaRetryAfter is the Retry-After given with a refusal by a quota on
// things held at once (rooms, concurrent SIP calls): when one is freed
// cannot be known, so this is a hint for polling, not a promise.
const QuotaRetryAfter = 30 * time.Second

// sipCallLease bounds how long a concurrent-call slot is held when the
// call's end is never reported (no webhook) and no refusal has reconciled
// it with LiveKit since.
const sipCallLease = 12 * time.Hour

// Rate allows Events per Per on average, with bursts of up to Burst.
// The zero Rate means no limit.
type Rate struct {
	Events int
	Per    time.Duration
	// Burst is how many events may come at once. Zero means Events.
	Burst int
}

// PerSecond returns a Rate of n events per second with bursts of burst.
func PerSecond(n, burst int) Rate { return Rate{Events: n, Per: time.Second, Burst: burst} }

// PerMinute returns a Rate of n events per minute with bursts of burst.
func PerMinute(n, burst int) Rate { return Rate{Events: n, Per: time.Minute, Burst: burst} }

// Unlimited reports whether r limits nothing: the zero Rate, or Events
// NoLimit.
func (r Rate) Unlimited() bool { return r.Events == 0 || r.Events == NoLimit }

func (r Rate) burst() int {
	if r.Burst == 0 {
		return r.Events
	}
	return r.Burst
}

func (r Rate) validate(field string) error {
	switch {
	case r.Events == NoLimit && r.Per == 0 && r.Burst == 0:
		return nil
	case r.Events < 0 || r.Burst < 0 || r.Per < 0:
		return invalidArg(field, "must not be negative (Rate{Events: NoLimit} alone turns the limit off)")
	case r.Events == 0 && (r.Per != 0 || r.Burst != 0):
		return invalidArg(field, "sets Per or Burst without Events")
	case r.Events > 0 && r.Per <= 0:
		return invalidArg(field, "needs a positive Per")
	}
	return nil
}

// Limits are one tenant's quotas and rates. Every zero field means no
// limit, except the guest limits (MaxWaitingGuestsPerRoom,
// MaxWaitingGuests, GuestWaitRate) and MaxBans, whose zero means their
// default: a leaked invite must not open rooms without bound, nor one
// tenant's bans cost the host without bound, on a host that set no
// limits. The zero Limits thus limits guests and bans only.
type Limits struct {
	// MaxRooms caps the rooms the tenant owns at once. It is checked when
	// a request would claim a new room, never for a room the tenant owns.
	// Unauthenticated mode claims no rooms, so it does not apply there.
	MaxRooms int
	// TokenRate limits Token calls, counted before any LiveKit call.
	TokenRate Rate
	// SIPCallRate limits SIP.Call calls that pass validation.
	SIPCallRate Rate
	// MaxConcurrentSIPCalls caps the tenant's calls in progress, from
	// dialing until the SIP participant leaves (see SIP.ReleaseCall). Under it,
	// a call to the room and identity of a call in progress is refused
	// (ErrCallInProgress).
	MaxConcurrentSIPCalls int
	// InviteRate limits Guests.Invite calls.
	InviteRate Rate
	// GuestWaitRate limits Guests.RoomAuth calls with a valid invite of the
	// tenant: guests let into lobbies. It bounds what a leaked invite link
	// can cost; invalid invites cost no LiveKit call and are not counted.
	// Zero means DefaultGuestWaitsPerMinute a minute in bursts of
	// DefaultGuestWaitBurst; Rate{Events: NoLimit} turns it off.
	GuestWaitRate Rate
	// MaxWaitingGuestsPerRoom caps the guests waiting for one room at
	// once, and MaxWaitingGuests those waiting for any of the tenant's
	// rooms: Guests.RoomAuth counts their lobby rooms in LiveKit before it
	// lets one more in. Lobbies never count against MaxRooms. Zero means
	// DefaultMaxWaitingGuestsPerRoom and DefaultMaxWaitingGuests; NoLimit
	// turns a cap off. Unauthenticated mode counts nothing.
	MaxWaitingGuestsPerRoom int
	MaxWaitingGuests        int
	// MaxBans caps the tenant's bans in force at once (Manager.Ban), each
	// in one room: the ban sweep reads every ban each BanSweepInterval and
	// asks LiveKit for the banned rooms, so an unbounded count would cost
	// the host. A ban replaced or lifted (Manager.Unban) frees its place,
	// as one that ends does. Zero means DefaultMaxBans; NoLimit turns it
	// off.
	MaxBans int
}

// Guest limits: their names, their defaults, and the value that turns one
// off.
const (
	LimitMaxWaitingGuestsPerRoom = "max_waiting_guests_per_room"
	LimitMaxWaitingGuests        = "max_waiting_guests"

	DefaultMaxWaitingGuestsPerRoom = 10
	DefaultMaxWaitingGuests        = 50
	DefaultGuestWaitsPerMinute     = 20
	DefaultGuestWaitBurst          = 10

	// LimitMaxBans names MaxBans, and DefaultMaxBans is its default.
	LimitMaxBans   = "max_bans"
	DefaultMaxBans = 1000

	// NoLimit turns off a limit whose zero means a default: as a cap
	// (MaxWaitingGuests, MaxWaitingGuestsPerRoom), or as the Events of a
	// Rate (GuestWaitRate) whose Per and Burst are zero.
	NoLimit = -1
)

// maxBans is MaxBans with its default applied; 0 means off.
func (l Limits) maxBans() int {
	switch l.MaxBans {
	case 0:
		return DefaultMaxBans
	case NoLimit:
		return 0
	}
	return l.MaxBans
}

// guestWaitRate is GuestWaitRate with its default applied.
func (l Limits) guestWaitRate() Rate {
	if l.GuestWaitRate == (Rate{}) {
		return PerMinute(DefaultGuestWaitsPerMinute, DefaultGuestWaitBurst)
	}
	return l.GuestWaitRate
}

// waitingCaps returns the guest caps with their defaults applied; 0 means
// off.
func (l Limits) waitingCaps() (perRoom, perTenant int) {
	orDefault := func(n, def int) int {
		switch n {
		case 0:
			return def
		case NoLimit:
			return 0
		}
		return n
	}
	return orDefault(l.MaxWaitingGuestsPerRoom, DefaultMaxWaitingGuestsPerRoom), orDefault(l.MaxWaitingGuests, DefaultMaxWaitingGuests)
}

func (l Limits) validate(field string) error {
	if l.MaxRooms < 0 {
		return invalidArg(field+".MaxRooms", "must not be negative")
	}
	if l.MaxConcurrentSIPCalls < 0 {
		return invalidArg(field+".MaxConcurrentSIPCalls", "must not be negative")
	}
	if err := l.TokenRate.validate(field + ".TokenRate"); err != nil {
		return err
	}
	if err := l.SIPCallRate.validate(field + ".SIPCallRate"); err != nil {
		return err
	}
	if err := l.InviteRate.validate(field + ".InviteRate"); err != nil {
		return err
	}
	if l.MaxWaitingGuestsPerRoom < NoLimit {
		return invalidArg(field+".MaxWaitingGuestsPerRoom", "must not be negative (NoLimit turns the cap off)")
	}
	if l.MaxWaitingGuests < NoLimit {
		return invalidArg(field+".MaxWaitingGuests", "must not be negative (NoLimit turns the cap off)")
	}
	if l.MaxBans < NoLimit {
		return invalidArg(field+".MaxBans", "must not be negative (NoLimit turns the cap off)")
	}
	return l.GuestWaitRate.validate(field + ".GuestWaitRate")
}

// LimitConfig configures per-tenant limits. Its zero value limits guests
// only (see Limits).
type LimitConfig struct {
	// Default applies to every tenant that Tenant does not override,
	// including the empty tenant of unauthenticated mode.
	Default Limits
	// Tenant returns a tenant's own limits; ok false means Default. It is
	// called on every limited operation, so it must be fast (a map lookup,
	// not a database query).
	Tenant func(tenant string) (l Limits, ok bool)
	// Store keeps rate and concurrency state. Nil means an in-process
	// store, exact for one replica; replicas enforce one limit together
	// through a shared store such as redislimit's.
	Store LimitStore
}

// LimitStore keeps the state behind rate limits and concurrency quotas.
// Keys are "lkgate:limit:<limit>:<tenant>", such as
// "lkgate:limit:token_rate:acme". A concurrent SIP call holds two slots: one
// of its tenant's key, whose holder is its LiveKit room, identity and call
// id (CallAttribute) joined by NUL bytes, and the only slot of that key
// followed by NUL, room, NUL, identity, held by its call id. If it fails,
// the limited operation fails with ErrUnavailable: a limit is never
// skipped. Implementations must be safe for concurrent use.
type LimitStore interface {
	// Allow takes one event from the rate limit named key. A refusal
	// returns allowed false and how long to wait before one event would
	// be allowed.
	Allow(ctx context.Context, key string, r Rate) (allowed bool, retryAfter time.Duration, err error)
	// Acquire takes a slot named holder among the max slots of key for at
	// most ttl. Acquiring a slot already held renews it.
	Acquire(ctx context.Context, key, holder string, max int, ttl time.Duration) (ok bool, err error)
	// Release frees holder's slot of key; releasing a free slot is no error.
	Release(ctx context.Context, key, holder string) error
	// Holders returns the holders of key's live slots with the time each
	// lease expires.
	Holders(ctx context.Context, key string) (map[string]time.Time, error)
}

// limitsOf returns tenant's limits; LimitConfig.Tenant's answers are
// checked on use, and a bad one refuses the operation rather than lifting
// the limit.
func (m *Manager) limitsOf(ctx context.Context, tenant string) (Limits, error) {
	if f := m.cfg.TenantLimits; f != nil {
		if l, ok := f(tenant); ok {
			if err := l.validate("Limits.Tenant"); err != nil {
				m.logFailure(ctx, slog.LevelError, "invalid per-tenant limits", err, slog.String("tenant", tenant))
				return Limits{}, &Error{Kind: ErrNotConfigured, Msg: "the tenant's limits are misconfigured"}
			}
			return l, nil
		}
	}
	return m.cfg.DefaultLimits, nil
}

// allowFor takes one event from the tenant's rate picked by rate.
func (m *Manager) allowFor(ctx context.Context, tenant, limit string, pick func(Limits) Rate) error {
	l, err := m.limitsOf(ctx, tenant)
	if err != nil {
		return err
	}
	return m.allow(ctx, tenant, limit, pick(l))
}

func limitKey(limit, tenant string) string { return "lkgate:limit:" + limit + ":" + tenant }

// allow takes one event from the tenant's rate named limit.
func (m *Manager) allow(ctx context.Context, tenant, limit string, r Rate) error {
	if r.Unlimited() {
		return nil
	}
	ok, wait, err := m.limits.Allow(ctx, limitKey(limit, tenant), r)
	if err != nil {
		return m.limitStoreError(ctx, limit, err)
	}
	if !ok {
		return limited(limit, wait, "the tenant's %s (%d per %s) is exhausted", limit, r.Events, r.Per)
	}
	return nil
}

func (m *Manager) limitStoreError(ctx context.Context, limit string, err error) error {
	return m.storeFailed(ctx, "limit store", err, slog.String("limit", limit))
}

func limited(limit string, retryAfter time.Duration, format string, args ...any) *Error {
	// Rounded up: a client that waits exactly RetryAfter must succeed.
	retryAfter = max(retryAfter+time.Second-1, time.Second).Truncate(time.Second)
	return &Error{Kind: ErrLimited, Limit: limit, RetryAfter: retryAfter, Msg: fmt.Sprintf(format, args...)}
}

// memoryLimits is the in-process LimitStore.
type memoryLimits struct {
	now func() time.Time

	mu      sync.Mutex
	rates   map[string]*rate.Limiter
	sweepAt int // len(rates) that triggers the next sweep
	slots   map[string]map[string]time.Time
}

// NewMemoryLimitStore returns the in-process LimitStore: token buckets
// (golang.org/x/time/rate) and leases kept in memory, exact for one
// process. Buckets that have refilled are dropped, so memory follows the
// active tenants. now is its clock; nil means time.Now.
func NewMemoryLimitStore(now func() time.Time) LimitStore {
	if now == nil {
		now = time.Now
	}
	return &memoryLimits{now: now, rates: map[string]*rate.Limiter{}, sweepAt: 1024, slots: map[string]map[string]time.Time{}}
}

func (s *memoryLimits) Allow(_ context.Context, key string, r Rate) (bool, time.Duration, error) {
	now := s.now()
	every := rate.Every(r.Per / time.Duration(r.Events))
	s.mu.Lock()
	defer s.mu.Unlock()
	lim, ok := s.rates[key]
	if !ok {
		lim = rate.NewLimiter(every, r.burst())
		s.rates[key] = lim
		// Full buckets behave exactly like new ones.
		sweepDoubled(s.rates, &s.sweepAt, func(l *rate.Limiter) bool { return l.TokensAt(now) >= float64(l.Burst()) })
	} else if lim.Limit() != every || lim.Burst() != r.burst() {
		lim.SetLimitAt(now, every)
		lim.SetBurstAt(now, r.burst())
	}
	res := lim.ReserveN(now, 1)
	if wait := res.DelayFrom(now); wait > 0 {
		res.CancelAt(now)
		return false, wait, nil
	}
	return true, 0, nil
}

// sweepDoubled drops the entries of m that are stale once m has doubled
// since the last sweep (*next), so that its cost is amortised over the
// insertions.
func sweepDoubled[K comparable, V any](m map[K]V, next *int, stale func(V) bool) {
	if len(m) < *next {
		return
	}
	for k, v := range m {
		if stale(v) {
			delete(m, k)
		}
	}
	*next = max(1024, 2*len(m))
}

func (s *memoryLimits) Acquire(_ context.Context, key, holder string, limit int, ttl time.Duration) (bool, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	held := s.liveSlots(key, now)
	if _, renew := held[holder]; !renew && len(held) >= limit {
		return false, nil
	}
	if held == nil {
		held = map[string]time.Time{}
		s.slots[key] = held
	}
	held[holder] = now.Add(ttl)
	return true, nil
}

func (s *memoryLimits) Release(_ context.Context, key, holder string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.slots[key], holder)
	if len(s.slots[key]) == 0 {
		delete(s.slots, key)
	}
	return nil
}

func (s *memoryLimits) Holders(_ context.Context, key string) (map[string]time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.liveSlots(key, s.now())), nil
}

// liveSlots returns key's slots after dropping the expired ones.
func (s *memoryLimits) liveSlots(key string, now time.Time) map[string]time.Time {
	held := s.slots[key]
	for h, until := range held {
		if !now.Before(until) {
			delete(held, h)
		}
	}
	return held
}
