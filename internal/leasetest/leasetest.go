// Package leasetest is the contract of lkgate.LeaseStore, which every
// implementation must pass: the in-process store (the root package's
// tests) and redislimit's Store run the same cases.
package leasetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lkgate/lkgate"
)

// Run runs every case against a fresh store from newStore. Stores see
// times within a day of the real clock, as the Manager's would, to a
// millisecond's precision.
func Run(t *testing.T, newStore func(t *testing.T) lkgate.LeaseStore) {
	cases := []struct {
		name string
		run  func(*testing.T, *checker)
	}{
		{"LeaseTakesAFreeName", leaseFree},
		{"LiveAfterIsExclusive", liveAfter},
		{"RefusalChangesNothing", refusalChangesNothing},
		{"LeaseNeverShortens", neverShortens},
		{"Renew", renew},
		{"RenewNeverShortens", renewNeverShortens},
		{"RenewAfterOnlyLeasesEndingAfter", renewAfter},
		{"EndedLeasesAreRetained", retained},
		{"ManyNames", manyNames},
		{"LastSweepOnlyMovesForward", lastSweep},
		{"ConcurrentLeasesOneWinner", concurrent},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, &checker{t: t, s: newStore(t), base: time.Now().Truncate(time.Millisecond)})
		})
	}
}

// checker runs a store's methods, failing the test on errors.
type checker struct {
	t      *testing.T
	s      lkgate.LeaseStore
	base   time.Time // the cases' "now"
	probes int
}

func (c *checker) at(d time.Duration) time.Time { return c.base.Add(d) }

// lease calls Lease and returns the holder that refused it, "" if taken.
func (c *checker) lease(name, tenant string, until, liveAfter time.Time) string {
	c.t.Helper()
	holder, err := c.s.Lease(context.Background(), name, tenant, until, liveAfter)
	if err != nil {
		c.t.Fatalf("Lease(%s, %s): %v", name, tenant, err)
	}
	return holder
}

// take leases name to tenant, which must succeed.
func (c *checker) take(name, tenant string, until time.Time) {
	c.t.Helper()
	if h := c.lease(name, tenant, until, c.base); h != "" {
		c.t.Fatalf("Lease(%s, %s) on a free name refused by %q", name, tenant, h)
	}
}

// holderLiveAfter asks, with a tenant never used before, who holds name
// with a lease ending after liveAfter. A probe that finds none takes the
// name (briefly): probe a name once it is no longer needed.
func (c *checker) holderLiveAfter(name string, liveAfter time.Time) string {
	c.t.Helper()
	c.probes++
	return c.lease(name, fmt.Sprintf("probe-%d", c.probes), liveAfter.Add(time.Millisecond), liveAfter)
}

// wantHolder checks that name is held by want past liveAfter ("" for no
// live lease).
func (c *checker) wantHolder(what, name string, liveAfter time.Time, want string) {
	c.t.Helper()
	if got := c.holderLiveAfter(name, liveAfter); got != want {
		c.t.Errorf("%s: %s held past %s by %q, want %q", what, name, liveAfter.Sub(c.base), got, want)
	}
}

func leaseFree(t *testing.T, c *checker) {
	c.take("standup", "acme", c.at(10*time.Minute))
	if h := c.lease("standup", "globex", c.at(10*time.Minute), c.base); h != "acme" {
		t.Errorf("another tenant's Lease on a live lease: holder %q, want acme", h)
	}
	if h := c.lease("standup", "acme", c.at(12*time.Minute), c.base); h != "" {
		t.Errorf("the holder extending its own lease: refused by %q", h)
	}
	c.take("retro", "globex", c.at(time.Minute)) // names are independent
	c.wantHolder("extended", "standup", c.at(11*time.Minute), "acme")
}

// A lease that ends exactly at liveAfter is over; one that ends a
// millisecond later is live.
func liveAfter(t *testing.T, c *checker) {
	end := c.at(10 * time.Minute)
	c.take("standup", "acme", end)
	if h := c.lease("standup", "globex", c.at(20*time.Minute), end.Add(-time.Millisecond)); h != "acme" {
		t.Errorf("a lease ending 1ms after liveAfter: holder %q, want acme", h)
	}
	if h := c.lease("standup", "globex", c.at(20*time.Minute), end); h != "" {
		t.Fatalf("a lease ending at liveAfter still refuses: holder %q", h)
	}
	// The name is globex's now, until globex's own end.
	c.wantHolder("taken over", "standup", c.at(20*time.Minute).Add(-time.Millisecond), "globex")
}

// A refused Lease neither extends the holder's lease nor records the
// refused tenant.
func refusalChangesNothing(t *testing.T, c *checker) {
	c.take("standup", "acme", c.at(10*time.Minute))
	if h := c.lease("standup", "globex", c.at(time.Hour), c.base); h != "acme" {
		t.Fatalf("holder %q, want acme", h)
	}
	c.wantHolder("after a refusal", "standup", c.at(10*time.Minute), "")
}

func neverShortens(t *testing.T, c *checker) {
	c.take("standup", "acme", c.at(20*time.Minute))
	if h := c.lease("standup", "acme", c.at(5*time.Minute), c.base); h != "" {
		t.Fatalf("the holder's shorter Lease refused by %q", h)
	}
	c.wantHolder("after a shorter Lease", "standup", c.at(20*time.Minute).Add(-time.Millisecond), "acme")
}

func renew(t *testing.T, c *checker) {
	ctx := context.Background()
	c.take("held", "acme", c.at(5*time.Minute))
	c.take("ended", "acme", c.at(-time.Hour))
	rooms := map[string]string{
		"held":     "globex", // a record keeps its holder, whatever the room says
		"ended":    "",       // an ended lease is renewed too
		"unleased": "globex", // no record: leased to the room's owner
		"nobody":   "",       // no record, no owner: nothing
	}
	until := c.at(30 * time.Minute)
	if err := c.s.Renew(ctx, rooms, until); err != nil {
		t.Fatal(err)
	}
	if err := c.s.Renew(ctx, nil, until); err != nil {
		t.Errorf("Renew of no rooms: %v", err)
	}
	live := until.Add(-time.Millisecond)
	c.wantHolder("renewed", "held", live, "acme")
	c.wantHolder("renewed after its end", "ended", live, "acme")
	c.wantHolder("leased by Renew", "unleased", live, "globex")
	c.wantHolder("renewed up to until, no further", "held", until, "")
	c.wantHolder("no owner", "nobody", c.at(-24*time.Hour), "")
}

func renewNeverShortens(t *testing.T, c *checker) {
	c.take("standup", "acme", c.at(time.Hour))
	if err := c.s.Renew(context.Background(), map[string]string{"standup": "acme"}, c.at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	c.wantHolder("after a shorter Renew", "standup", c.at(time.Hour).Add(-time.Millisecond), "acme")
}

// RenewAfter moves the leases that end after after, and only those.
func renewAfter(t *testing.T, c *checker) {
	ctx := context.Background()
	after, until := c.base, c.at(30*time.Minute)
	c.take("ended-before", "acme", after.Add(-time.Minute))
	c.take("ended-at", "acme", after)
	c.take("ends-after", "globex", after.Add(time.Minute))
	c.take("ends-later", "acme", c.at(time.Hour))
	sweep := c.at(-time.Minute)
	if err := c.s.SetLastSweep(ctx, sweep); err != nil {
		t.Fatal(err)
	}
	if err := c.s.RenewAfter(ctx, after, until); err != nil {
		t.Fatal(err)
	}
	c.wantHolder("renewed", "ends-after", until.Add(-time.Millisecond), "globex")
	c.wantHolder("renewed up to until, no further", "ends-after", until, "")
	c.wantHolder("not shortened", "ends-later", c.at(time.Hour).Add(-time.Millisecond), "acme")
	c.wantHolder("ended before after", "ended-before", after.Add(-time.Minute), "")
	c.wantHolder("ended at after", "ended-at", after, "")
	if got, err := c.s.LastSweep(ctx); err != nil || !got.Equal(sweep) {
		t.Errorf("LastSweep after RenewAfter: %v %v, want %v", got, err, sweep)
	}
}

// A lease ended less than LeaseRetention ago is still on record, so a
// sweep resuming after a gap renews it.
func retained(t *testing.T, c *checker) {
	ended := c.base.Add(-lkgate.LeaseRetention).Add(time.Hour)
	c.take("standup", "acme", ended)
	until := c.at(30 * time.Minute)
	if err := c.s.RenewAfter(context.Background(), ended.Add(-time.Minute), until); err != nil {
		t.Fatal(err)
	}
	c.wantHolder("renewed after 23 hours", "standup", until.Add(-time.Millisecond), "acme")
}

// Renew and RenewAfter over more names than fit one request.
func manyNames(t *testing.T, c *checker) {
	ctx := context.Background()
	const n = 1300
	rooms := make(map[string]string, n)
	for i := range n {
		rooms[fmt.Sprint("room-", i)] = "acme"
	}
	if err := c.s.Renew(ctx, rooms, c.at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	until := c.at(30 * time.Minute)
	if err := c.s.RenewAfter(ctx, c.base, until); err != nil {
		t.Fatal(err)
	}
	missed := 0
	for name := range rooms {
		if c.holderLiveAfter(name, until.Add(-time.Millisecond)) != "acme" {
			missed++
		}
	}
	if missed > 0 {
		t.Errorf("%d of %d leases not renewed to %s", missed, n, until.Sub(c.base))
	}
}

func lastSweep(t *testing.T, c *checker) {
	ctx := context.Background()
	if got, err := c.s.LastSweep(ctx); err != nil || !got.IsZero() {
		t.Fatalf("LastSweep of a new store: %v %v, want zero", got, err)
	}
	steps := []struct{ set, want time.Duration }{
		{0, 0},
		{-time.Minute, 0}, // earlier: ignored
		{time.Minute, time.Minute},
		{time.Minute, time.Minute},
	}
	for _, s := range steps {
		if err := c.s.SetLastSweep(ctx, c.at(s.set)); err != nil {
			t.Fatal(err)
		}
		got, err := c.s.LastSweep(ctx)
		if err != nil || !got.Equal(c.at(s.want)) {
			t.Errorf("after SetLastSweep(%s): %v %v, want %s", s.set, got.Sub(c.base), err, s.want)
		}
	}
}

// Tenants racing for one free name: exactly one gets it, and every other
// is told that one.
func concurrent(t *testing.T, c *checker) {
	const n = 16
	holders := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			h, err := c.s.Lease(context.Background(), "standup", fmt.Sprint("tenant-", i), c.at(10*time.Minute), c.base)
			if err != nil {
				t.Error(err)
			}
			holders[i] = h
		})
	}
	close(start)
	wg.Wait()
	winner := ""
	for i, h := range holders {
		if h == "" {
			if winner != "" {
				t.Fatalf("both %s and tenant-%d took the name", winner, i)
			}
			winner = fmt.Sprint("tenant-", i)
		}
	}
	if winner == "" {
		t.Fatalf("nobody took a free name: %v", holders)
	}
	for i, h := range holders {
		if h != "" && h != winner {
			t.Errorf("tenant-%d refused by %q, the winner is %s", i, h, winner)
		}
	}
}
