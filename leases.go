package lkgate

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
)

// A LiveKit token names a room by its name, and LiveKit hands every
// connected participant a fresh token for that name, again on every
// rejoin. Under SharedNames a name therefore stays with the tenant that
// used it until every token naming it has expired: a lease, taken when
// the name is claimed and stretched by every token minted for it, and by a
// sweep that renews the lease of every room still open. The sweep, not
// webhooks, is what carries a lease past the room's last participant, so a
// lost webhook can never shorten one.

// LeaseStore keeps the leases of shared room names. It must survive
// restarts and be shared by replicas: redislimit's Store is one. Lease
// records must be kept for LeaseRetention after they end, so that a sweep
// resuming after a gap can still renew them. Times are the Manager's clock
// (Config.Now). Implementations must be safe for concurrent use.
type LeaseStore interface {
	// Lease gives name to tenant until at least until. If another tenant
	// holds a lease on name that ends after liveAfter, it changes nothing
	// and returns that tenant.
	Lease(ctx context.Context, name, tenant string, until, liveAfter time.Time) (holder string, err error)
	// Renew pushes the lease of each name in rooms to at least until,
	// keeping its holder; a name without a lease record is leased to the
	// tenant rooms maps it to, unless that is empty.
	Renew(ctx context.Context, rooms map[string]string, until time.Time) error
	// RenewAfter pushes every lease that ends after after to at least
	// until.
	RenewAfter(ctx context.Context, after, until time.Time) error
	// LastSweep returns the start of the last completed sweep, by any
	// replica; zero if none.
	LastSweep(ctx context.Context) (time.Time, error)
	// SetLastSweep records t as the start of the last completed sweep,
	// unless a later one is recorded.
	SetLastSweep(ctx context.Context, t time.Time) error
}

const (
	// refreshedTokenTTL is the life of the token LiveKit hands every
	// connected participant, renewed every 5 minutes (livekit-server
	// v1.8.4's tokenDefaultTTL).
	refreshedTokenTTL = 10 * time.Minute
	// tokenLeeway covers LiveKit's one minute of leeway on token expiry,
	// and clocks (lkgate's replicas', LiveKit's) up to 30 s apart.
	tokenLeeway = 90 * time.Second
	// leaseWindow is how long a name stays leased after its room was last
	// seen open: the last refreshed token's life, plus the leeway.
	leaseWindow = refreshedTokenTTL + tokenLeeway
	// DefaultLeaseSweepInterval is Config.LeaseSweepInterval's default.
	DefaultLeaseSweepInterval = 30 * time.Second
	// LeaseRetention is how long a LeaseStore keeps a lease record after
	// the lease ended. If every replica stops sweeping for longer, leases
	// that ended in the gap are forgotten.
	LeaseRetention = 24 * time.Hour
)

// leaser runs the leases of a Manager under SharedNames.
type leaser struct {
	store    LeaseStore
	interval time.Duration
	stop     context.CancelFunc
	done     chan struct{}

	mu        sync.Mutex
	lastSweep time.Time // start of this process's last completed sweep
}

// staleAfter is how long without a completed sweep before this process
// stops trusting that every open room's lease has been renewed.
func (l *leaser) staleAfter() time.Duration { return 2 * l.interval }

// liveAfter is the instant after which another tenant's lease counts as
// live. While this process's sweeps are current, that is now. Before its
// first sweep, or when sweeps fail, it is the start of its last completed
// sweep: a lease that had not ended by then may belong to a room that has
// stayed open since, with tokens LiveKit keeps refreshing.
func (l *leaser) liveAfter(now time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) <= l.staleAfter() {
		return now
	}
	return l.lastSweep
}

// lease gives ref's name to its tenant until at least until; another
// tenant's live lease refuses it. A no-op under ScopedNames and in
// unauthenticated mode.
func (m *Manager) lease(ctx context.Context, ref roomRef, until time.Time) error {
	if m.leases == nil || !ref.checked() {
		return nil
	}
	holder, err := m.leases.store.Lease(ctx, ref.lk, ref.tenant, until, m.leases.liveAfter(m.now()))
	if err != nil {
		return m.storeFailed(ctx, "lease store", err, slog.String("room", ref.name))
	}
	if holder != "" {
		return errOtherOwner
	}
	return nil
}

// leaseToken stretches ref's lease over a token expiring at exp.
func (m *Manager) leaseToken(ctx context.Context, ref roomRef, exp time.Time) error {
	return m.lease(ctx, ref, exp.Add(tokenLeeway))
}

// startSweeper sweeps at once, then every interval, until Close.
func (m *Manager) startSweeper() {
	ctx, cancel := context.WithCancel(context.Background())
	m.leases.stop, m.leases.done = cancel, make(chan struct{})
	go func() {
		defer close(m.leases.done)
		tick := time.NewTicker(m.leases.interval)
		defer tick.Stop()
		for {
			if err := m.SweepLeases(ctx); err != nil && ctx.Err() == nil {
				m.logFailure(ctx, slog.LevelWarn, "lease sweep failed; shared names other tenants used recently stay refused until one succeeds", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}

// SweepLeases renews the lease of every room open in LiveKit, under
// [SharedNames]; the Manager runs it every [Config].LeaseSweepInterval, and
// a test may call it directly. After a gap of two intervals without any
// replica's sweep, it first renews every lease that had not ended when the
// last sweep started: a room may have closed at any moment of the gap.
// Under [ScopedNames] it does nothing.
func (m *Manager) SweepLeases(ctx context.Context) error {
	l := m.leases
	if l == nil {
		return nil
	}
	start := m.now()
	until := start.Add(leaseWindow + l.staleAfter())
	storeFailed := func(err error) error {
		return withContext(m.storeFailed(ctx, "lease store", err), "sweep leases", "")
	}
	prev, err := l.store.LastSweep(ctx)
	if err != nil {
		return storeFailed(err)
	}
	if start.Sub(prev) > l.staleAfter() {
		if err := l.store.RenewAfter(ctx, prev, until); err != nil {
			return storeFailed(err)
		}
	}
	res, err := m.rooms.ListRooms(ctx, &livekit.ListRoomsRequest{})
	if err != nil {
		return fromLiveKit("sweep leases", "", err)
	}
	rooms := make(map[string]string, len(res.GetRooms()))
	for _, r := range res.GetRooms() {
		rooms[r.GetName()], _ = ownerOf(r.GetMetadata())
	}
	if err := l.store.Renew(ctx, rooms, until); err != nil {
		return storeFailed(err)
	}
	if err := l.store.SetLastSweep(ctx, start); err != nil {
		return storeFailed(err)
	}
	l.mu.Lock()
	l.lastSweep = later(l.lastSweep, start)
	l.mu.Unlock()
	return nil
}

// memoryLeases is the in-process LeaseStore.
type memoryLeases struct {
	now func() time.Time

	mu        sync.Mutex
	leases    map[string]memoryLease
	lastSweep time.Time
	purgeAt   int // len(leases) that triggers the next purge
}

type memoryLease struct {
	tenant string
	until  time.Time
}

// NewMemoryLeaseStore returns the in-process LeaseStore: exact for one
// process while it runs, shared with no replica, and empty after a
// restart, which frees every name at once (the restart gap). now is its
// clock for dropping old records; nil means time.Now.
func NewMemoryLeaseStore(now func() time.Time) LeaseStore {
	if now == nil {
		now = time.Now
	}
	return &memoryLeases{now: now, leases: map[string]memoryLease{}, purgeAt: 1024}
}

func (s *memoryLeases) Lease(_ context.Context, name, tenant string, until, liveAfter time.Time) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.leases[name]
	if ok && cur.tenant != tenant && cur.until.After(liveAfter) {
		return cur.tenant, nil
	}
	if ok && cur.tenant == tenant {
		until = later(until, cur.until)
	}
	s.leases[name] = memoryLease{tenant: tenant, until: until}
	s.purge()
	return "", nil
}

func (s *memoryLeases) Renew(_ context.Context, rooms map[string]string, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, owner := range rooms {
		if cur, ok := s.leases[name]; ok {
			s.leases[name] = memoryLease{tenant: cur.tenant, until: later(cur.until, until)}
		} else if owner != "" {
			s.leases[name] = memoryLease{tenant: owner, until: until}
		}
	}
	s.purge()
	return nil
}

func (s *memoryLeases) RenewAfter(_ context.Context, after, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, cur := range s.leases {
		if cur.until.After(after) && cur.until.Before(until) {
			s.leases[name] = memoryLease{tenant: cur.tenant, until: until}
		}
	}
	return nil
}

func (s *memoryLeases) LastSweep(context.Context) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastSweep, nil
}

func (s *memoryLeases) SetLastSweep(_ context.Context, t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastSweep = later(s.lastSweep, t)
	return nil
}

// purge drops records LeaseRetention past their end (see sweepDoubled).
func (s *memoryLeases) purge() {
	if len(s.leases) >= s.purgeAt {
		cutoff := s.now().Add(-LeaseRetention)
		sweepDoubled(s.leases, &s.purgeAt, func(l memoryLease) bool { return l.until.Before(cutoff) })
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
