package lkgate_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

// faults names the store operations that fail; the zero value fails none.
type faults struct {
	mu  sync.Mutex
	ops map[string]bool
}

// set makes exactly ops fail.
func (f *faults) set(ops ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = map[string]bool{}
	for _, op := range ops {
		f.ops[op] = true
	}
}

func (f *faults) err(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ops[op] {
		return fmt.Errorf("%s: store down", op)
	}
	return nil
}

// brokenLimits is a LimitStore whose operations fail as f says.
type brokenLimits struct {
	lkgate.LimitStore
	f *faults
}

func (s brokenLimits) Allow(ctx context.Context, key string, r lkgate.Rate) (bool, time.Duration, error) {
	if err := s.f.err("Allow"); err != nil {
		return false, 0, err
	}
	return s.LimitStore.Allow(ctx, key, r)
}

func (s brokenLimits) Acquire(ctx context.Context, key, holder string, max int, ttl time.Duration) (bool, error) {
	if err := s.f.err("Acquire"); err != nil {
		return false, err
	}
	return s.LimitStore.Acquire(ctx, key, holder, max, ttl)
}

func (s brokenLimits) Release(ctx context.Context, key, holder string) error {
	if err := s.f.err("Release"); err != nil {
		return err
	}
	return s.LimitStore.Release(ctx, key, holder)
}

func (s brokenLimits) Holders(ctx context.Context, key string) (map[string]time.Time, error) {
	if err := s.f.err("Holders"); err != nil {
		return nil, err
	}
	return s.LimitStore.Holders(ctx, key)
}

// brokenLeases is a LeaseStore whose operations fail as f says.
type brokenLeases struct {
	lkgate.LeaseStore
	f *faults
}

func (s brokenLeases) Lease(ctx context.Context, name, tenant string, until, liveAfter time.Time) (string, error) {
	if err := s.f.err("Lease"); err != nil {
		return "", err
	}
	return s.LeaseStore.Lease(ctx, name, tenant, until, liveAfter)
}

func (s brokenLeases) Renew(ctx context.Context, rooms map[string]string, until time.Time) error {
	if err := s.f.err("Renew"); err != nil {
		return err
	}
	return s.LeaseStore.Renew(ctx, rooms, until)
}

func (s brokenLeases) RenewAfter(ctx context.Context, after, until time.Time) error {
	if err := s.f.err("RenewAfter"); err != nil {
		return err
	}
	return s.LeaseStore.RenewAfter(ctx, after, until)
}

func (s brokenLeases) LastSweep(ctx context.Context) (time.Time, error) {
	if err := s.f.err("LastSweep"); err != nil {
		return time.Time{}, err
	}
	return s.LeaseStore.LastSweep(ctx)
}

func (s brokenLeases) SetLastSweep(ctx context.Context, t time.Time) error {
	if err := s.f.err("SetLastSweep"); err != nil {
		return err
	}
	return s.LeaseStore.SetLastSweep(ctx, t)
}

// brokenLocker is a Locker whose Lock fails as f says.
type brokenLocker struct {
	lkgate.Locker
	f *faults
}

func (l brokenLocker) Lock(ctx context.Context, key string) (func(), error) {
	if err := l.f.err("Lock"); err != nil {
		return nil, err
	}
	return l.Locker.Lock(ctx, key)
}

// Every operation of the stores the Manager uses (LimitStore, LeaseStore,
// Locker) that fails makes the request fail closed with ErrUnavailable,
// or, where the store was to lift a limit, leaves the limit in force:
// nothing is dialed, created or minted that the limit would refuse, and
// once the store is back the same request succeeds.
func TestLimitStoreFailure(t *testing.T) {
	ctx := context.Background()
	unavailable := func(t *testing.T, what string, err error) {
		t.Helper()
		if !errors.Is(err, lkgate.ErrUnavailable) {
			t.Fatalf("%s with the store failing: %v, want ErrUnavailable", what, err)
		}
	}

	t.Run("Allow", func(t *testing.T) {
		f := &faults{}
		m, fake := newManager(t, lkgate.Config{Limits: lkgate.LimitConfig{
			Default: lkgate.Limits{TokenRate: lkgate.PerSecond(10, 10), InviteRate: lkgate.PerSecond(10, 10)},
			Store:   brokenLimits{LimitStore: lkgate.NewMemoryLimitStore(nil), f: f},
		}})
		g := newGuests(t, m)
		inv, err := g.Invite(ctx, "acme", lkgate.InviteRequest{Org: "acme", Room: "standup", AllowAll: true})
		if err != nil {
			t.Fatal(err)
		}
		f.set("Allow")
		fake.ResetCalls()
		err = tokenFor(m, "acme", "r")
		unavailable(t, "token", err)
		if got := err.Error(); got != "lkgate: token: room \"r\": the limit store is unavailable" {
			t.Errorf("error text %q", got)
		}
		unavailable(t, "invite", mustFail(g.Invite(ctx, "acme", lkgate.InviteRequest{Org: "acme", Room: "standup", AllowAll: true})))
		// The guest wait rate applies by default.
		unavailable(t, "guest room-auth", mustFail(g.RoomAuth(ctx, inv.Token, "Guest")))
		if n := fake.TotalCalls(); n != 0 {
			t.Errorf("refusals made %d LiveKit calls, want 0", n)
		}
		f.set()
		if err := tokenFor(m, "acme", "r"); err != nil {
			t.Errorf("token with the store back: %v", err)
		}
	})

	// A call's rate failing frees the slot the call took first.
	t.Run("Allow/call", func(t *testing.T) {
		f := &faults{}
		e := newSIPEnvWith(t, lkgate.Config{Limits: lkgate.LimitConfig{
			Default: lkgate.Limits{MaxConcurrentSIPCalls: 1, SIPCallRate: lkgate.PerSecond(10, 10)},
			Store:   brokenLimits{LimitStore: lkgate.NewMemoryLimitStore(nil), f: f},
		}})
		f.set("Allow")
		unavailable(t, "call", mustFail(e.sip.Call(ctx, "acme", callAs("p1"))))
		if n := len(e.fake.Dialed()); n != 0 {
			t.Errorf("%d calls dialed", n)
		}
		f.set()
		if _, err := e.sip.Call(ctx, "acme", callAs("p1")); err != nil {
			t.Errorf("the failed call kept its slot: %v", err)
		}
	})

	t.Run("Acquire", func(t *testing.T) {
		f := &faults{}
		e := newSIPEnvWith(t, lkgate.Config{Limits: lkgate.LimitConfig{
			Default: lkgate.Limits{MaxConcurrentSIPCalls: 1},
			Store:   brokenLimits{LimitStore: lkgate.NewMemoryLimitStore(nil), f: f},
		}})
		f.set("Acquire")
		e.fake.ResetCalls()
		unavailable(t, "call", mustFail(e.sip.Call(ctx, "acme", callAs("p1"))))
		if n, d := e.fake.TotalCalls(), len(e.fake.Dialed()); n != 0 || d != 0 {
			t.Errorf("%d LiveKit calls, %d dialed; want none", n, d)
		}
	})

	// The slots of calls that ended without their webhook are freed by a
	// reconcile that lists the slots; if it cannot, the call is refused.
	t.Run("Holders", func(t *testing.T) {
		f := &faults{}
		clock := lkgatetest.NewClock(fixedNow)
		e := newSIPEnvWith(t, lkgate.Config{Now: clock.Now, Limits: lkgate.LimitConfig{
			Default: lkgate.Limits{MaxConcurrentSIPCalls: 1},
			Store:   brokenLimits{LimitStore: lkgate.NewMemoryLimitStore(clock.Now), f: f},
		}})
		if _, err := e.sip.Call(ctx, "acme", callAs("p1")); err != nil {
			t.Fatal(err)
		}
		// p1 hangs up and its webhook is lost; its slot settles.
		if _, err := adminClient(e.fake).RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: lkName(t, e.m, "acme", "support"), Identity: "p1"}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(lkgate.MaxRingingTimeout + 2*time.Minute)
		f.set("Holders")
		err := mustFail(e.sip.Call(ctx, "acme", callAs("p2")))
		if !errors.Is(err, lkgate.ErrLimited) && !errors.Is(err, lkgate.ErrUnavailable) {
			t.Fatalf("call over the limit with the slots unreadable: %v, want ErrLimited or ErrUnavailable", err)
		}
		if n := len(e.fake.Dialed()); n != 1 {
			t.Errorf("%d calls dialed, want 1 (p1's)", n)
		}
		f.set()
		if _, err := e.sip.Call(ctx, "acme", callAs("p2")); err != nil {
			t.Errorf("with the store back the ended call was not reconciled: %v", err)
		}
	})

	// A release that fails keeps the slot: the limit stays in force until
	// a release or a reconcile succeeds.
	t.Run("Release", func(t *testing.T) {
		f := &faults{}
		e := newSIPEnvWith(t, lkgate.Config{Limits: lkgate.LimitConfig{
			Default: lkgate.Limits{MaxConcurrentSIPCalls: 1},
			Store:   brokenLimits{LimitStore: lkgate.NewMemoryLimitStore(nil), f: f},
		}})
		if _, err := e.sip.Call(ctx, "acme", callAs("p1")); err != nil {
			t.Fatal(err)
		}
		support := lkName(t, e.m, "acme", "support")
		left := leftEvent(e.fake, support, "p1")
		if _, err := adminClient(e.fake).RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: support, Identity: "p1"}); err != nil {
			t.Fatal(err)
		}
		f.set("Release")
		unavailable(t, "release", e.sip.ReleaseCall(ctx, left))
		f.set()
		wantLimited(t, mustFail(e.sip.Call(ctx, "acme", callAs("p2"))), lkgate.LimitMaxConcurrentSIPCalls)
		if err := e.sip.ReleaseCall(ctx, left); err != nil {
			t.Fatal(err)
		}
		if _, err := e.sip.Call(ctx, "acme", callAs("p2")); err != nil {
			t.Errorf("after the release: %v", err)
		}
	})

	// Under shared names a name is the tenant's through its lease: a token
	// without one is not minted.
	t.Run("Lease", func(t *testing.T) {
		f := &faults{}
		m, _ := newManager(t, lkgate.Config{RoomNames: lkgate.SharedNames, Leases: brokenLeases{LeaseStore: lkgate.NewMemoryLeaseStore(nil), f: f}})
		if err := tokenFor(m, "acme", "r"); err != nil {
			t.Fatal(err)
		}
		f.set("Lease")
		unavailable(t, "token for an owned room", tokenFor(m, "acme", "r"))
		unavailable(t, "token for a new room", tokenFor(m, "acme", "new"))
		f.set()
		if err := tokenFor(m, "acme", "r"); err != nil {
			t.Errorf("with the store back: %v", err)
		}
	})

	// A sweep that cannot read or write the leases fails; the leases it
	// could not renew keep other tenants' names refused.
	for _, op := range []string{"LastSweep", "RenewAfter", "Renew", "SetLastSweep"} {
		t.Run(op, func(t *testing.T) {
			f := &faults{}
			clock := lkgatetest.NewClock(time.Now())
			m, _ := newManager(t, lkgate.Config{RoomNames: lkgate.SharedNames, Now: clock.Now,
				Leases: brokenLeases{LeaseStore: lkgate.NewMemoryLeaseStore(clock.Now), f: f}})
			if err := tokenFor(m, "acme", "r"); err != nil {
				t.Fatal(err)
			}
			// RenewAfter runs only after a gap of two sweep intervals.
			clock.Advance(3 * lkgate.DefaultLeaseSweepInterval)
			f.set(op)
			unavailable(t, "sweep", m.SweepLeases(ctx))
			f.set()
			if err := tokenFor(m, "globex", "r"); !errors.Is(err, lkgate.ErrForbidden) {
				t.Errorf("another tenant's token for acme's room after a failed sweep: %v, want ErrForbidden", err)
			}
		})
	}

	// The Locker serialises shared-name claims and room-quota counts: no
	// room is created without it.
	for _, naming := range namings {
		t.Run("Lock/"+naming.String(), func(t *testing.T) {
			f := &faults{}
			cfg := lkgate.Config{RoomNames: naming, Locker: brokenLocker{Locker: lkgate.NewLocalLocker(), f: f}}
			if naming == lkgate.ScopedNames {
				cfg.Limits.Default.MaxRooms = 5
			}
			m, fake := newManager(t, cfg)
			f.set("Lock")
			unavailable(t, "token for a new room", tokenFor(m, "acme", "new"))
			if n := fake.Calls("CreateRoom"); n != 0 {
				t.Errorf("%d rooms created without the lock", n)
			}
			f.set()
			if err := tokenFor(m, "acme", "new"); err != nil {
				t.Errorf("with the lock back: %v", err)
			}
		})
	}
}
