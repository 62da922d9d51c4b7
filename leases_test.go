package lkgate_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

// The lease of a shared name, as lkgate documents it: a claim holds the
// name for leaseWindow (the 10 minutes of LiveKit's refreshed tokens plus
// 90 s of leeway), every token minted for it until its expiry plus
// tokenLeeway, and every sweep that sees the room open for leaseWindow
// plus two sweep intervals from then.
const (
	tokenLeeway = 90 * time.Second
	leaseWindow = 10*time.Minute + tokenLeeway
	// sweepCover is how long a lease outlives the last sweep that saw its
	// room open.
	sweepCover = leaseWindow + 2*lkgate.DefaultLeaseSweepInterval
)

// advanceSweeping moves clk forward by d in steps of at most one sweep
// interval, sweeping after each, as a Manager's sweeper would.
func advanceSweeping(t *testing.T, m *lkgate.Manager, clk *lkgatetest.Clock, d time.Duration) {
	t.Helper()
	for d > 0 {
		step := min(d, lkgate.DefaultLeaseSweepInterval)
		clk.Advance(step)
		d -= step
		if err := m.SweepLeases(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// leaseEnv is a Manager under SharedNames with a settable clock.
type leaseEnv struct {
	m     *lkgate.Manager
	fake  *lkgatetest.Server
	clk   *lkgatetest.Clock
	store lkgate.LeaseStore
}

func newLeaseEnv(t *testing.T) *leaseEnv {
	t.Helper()
	e := &leaseEnv{clk: lkgatetest.NewClock(fixedNow)}
	e.store = lkgate.NewMemoryLeaseStore(e.clk.Now)
	e.m, e.fake = newManager(t, lkgate.Config{RoomNames: lkgate.SharedNames, Now: e.clk.Now, Leases: e.store})
	return e
}

// mint mints a token of tenant for room x, lasting ttl.
func (e *leaseEnv) mint(tenant string, ttl time.Duration) (*lkgate.Token, error) {
	return e.m.Token(context.Background(), tenant, lkgate.TokenRequest{Room: "x", Identity: "id-" + tenant, TTL: ttl})
}

// closeRoom deletes room x, as LiveKit does when it empties.
func (e *leaseEnv) closeRoom(t *testing.T) {
	t.Helper()
	if _, err := adminClient(e.fake).DeleteRoom(context.Background(), &livekit.DeleteRoomRequest{Room: "x"}); err != nil {
		t.Fatal(err)
	}
}

// wantRefused checks that tenant cannot have x, and that the refusal left
// no room behind.
func (e *leaseEnv) wantRefused(t *testing.T, tenant, when string) {
	t.Helper()
	if _, err := e.mint(tenant, 0); !errors.Is(err, lkgate.ErrForbidden) {
		t.Fatalf("%s: %s's token = %v, want ErrForbidden", when, tenant, err)
	}
	if _, ok := e.fake.Room("x"); ok {
		t.Fatalf("%s: the refused token created the room", when)
	}
}

func (e *leaseEnv) wantAllowed(t *testing.T, tenant, when string) {
	t.Helper()
	if _, err := e.mint(tenant, 0); err != nil {
		t.Fatalf("%s: %s's token = %v, want it minted", when, tenant, err)
	}
	if got := roomMetadata(t, e.fake, "x")[lkgate.OwnerKey]; got != tenant {
		t.Fatalf("%s: x belongs to %v, want %s", when, got, tenant)
	}
}

// A token keeps its name from other tenants until it has expired, plus
// the leeway, even after the room closed: LiveKit would let its holder
// join the next tenant's room of that name.
func TestLeaseOutlivesTheRoomForTheTokensLife(t *testing.T) {
	e := newLeaseEnv(t)
	tok, err := e.mint("acme", 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	e.closeRoom(t)
	e.wantRefused(t, "globex", "at once")
	// The claim's own lease (leaseWindow) has ended; the token's has not.
	end := tok.ExpiresAt.Add(tokenLeeway)
	advanceSweeping(t, e.m, e.clk, end.Sub(e.clk.Now())-time.Second)
	e.wantRefused(t, "globex", "a second before the token's expiry plus the leeway")
	advanceSweeping(t, e.m, e.clk, 2*time.Second)
	e.wantAllowed(t, "globex", "a second after it")
}

// A room that stays open keeps its name through the sweeps, however long
// ago its last token was minted; once it closes, the name is free a
// sweep's cover later.
func TestSweepsKeepAnOpenRoomsLease(t *testing.T) {
	e := newLeaseEnv(t)
	if _, err := e.mint("acme", 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	// acme's participant stays: LiveKit keeps refreshing its token.
	e.fake.AddParticipant("x", lkgatetest.Participant{Identity: "id-acme", Attributes: map[string]string{lkgate.TenantAttribute: "acme"}})
	advanceSweeping(t, e.m, e.clk, time.Hour)
	if _, err := e.m.Token(context.Background(), "globex", lkgate.TokenRequest{Room: "x", Identity: "g"}); !errors.Is(err, lkgate.ErrForbidden) {
		t.Fatalf("an hour on, the open room's name: globex's token = %v, want ErrForbidden", err)
	}
	// The lease itself, not only the room's metadata, is acme's and live.
	now := e.clk.Now()
	if holder, err := e.store.Lease(context.Background(), "x", "globex", now, now); err != nil || holder != "acme" {
		t.Fatalf("an hour on, the lease store gives x to %q (%v), want it held by acme", holder, err)
	}

	e.closeRoom(t)
	advanceSweeping(t, e.m, e.clk, sweepCover-time.Second)
	e.wantRefused(t, "globex", "a second before the last sweep's cover ends")
	advanceSweeping(t, e.m, e.clk, 2*time.Second)
	e.wantAllowed(t, "globex", "a second after")
}

// A Manager whose sweeps have stopped cannot know which rooms stayed open
// meanwhile: another tenant's lease that had not ended at its last sweep
// counts as live, and the next sweep renews it for a full cover.
func TestStaleSweepsKeepLeasesLive(t *testing.T) {
	e := newLeaseEnv(t)
	if _, err := e.mint("acme", time.Minute); err != nil {
		t.Fatal(err)
	}
	e.closeRoom(t)
	// Past the claim's lease, without a sweep.
	e.clk.Advance(leaseWindow + time.Minute)
	e.wantRefused(t, "globex", "sweeps stale")

	// The first sweep after the gap renews every lease that was live at the
	// last one: the room may have been open until a moment ago.
	if err := e.m.SweepLeases(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.wantRefused(t, "globex", "right after the gap's sweep")
	advanceSweeping(t, e.m, e.clk, sweepCover-time.Second)
	e.wantRefused(t, "globex", "a second before the gap sweep's cover ends")
	advanceSweeping(t, e.m, e.clk, 2*time.Second)
	e.wantAllowed(t, "globex", "a second after")
}

// The in-process store is empty after a restart: a new Manager with a new
// memory store gives a leased name to another tenant at once, while the
// first tenant's tokens still live. This is the restart gap
// NewMemoryLeaseStore documents, measured; a shared store closes it.
func TestMemoryLeaseStoreRestartGap(t *testing.T) {
	e := newLeaseEnv(t)
	if _, err := e.mint("acme", 30*time.Minute); err != nil {
		t.Fatal(err)
	}
	e.closeRoom(t)
	e.wantRefused(t, "globex", "before the restart")

	restarted, _ := newManagerOn(t, e.fake, lkgate.Config{RoomNames: lkgate.SharedNames, Now: e.clk.Now})
	if _, err := restarted.Token(context.Background(), "globex", lkgate.TokenRequest{Room: "x", Identity: "g"}); err != nil {
		t.Fatalf("after the restart: %v, want the name free (the restart gap)", err)
	}
	// The same store, shared by the restarted process, would have refused.
	shared, _ := newManagerOn(t, e.fake, lkgate.Config{RoomNames: lkgate.SharedNames, Now: e.clk.Now, Leases: e.store})
	e.closeRoom(t)
	if _, err := shared.Token(context.Background(), "globex", lkgate.TokenRequest{Room: "x", Identity: "g"}); !errors.Is(err, lkgate.ErrForbidden) {
		t.Errorf("a Manager on acme's lease store: %v, want ErrForbidden", err)
	}
}
