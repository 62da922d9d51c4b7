// Package bantest is the contract of lkgate.BanStore, which every
// implementation must pass: the in-process store (the root package's
// tests) and redislimit's Store run the same cases.
package bantest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lkgate/lkgate"
)

// Run runs every case against a fresh store from newStore, whose clock
// must be the real one: a case waits for a ban to end.
func Run(t *testing.T, newStore func(t *testing.T) lkgate.BanStore) {
	cases := []struct {
		name string
		run  func(*testing.T, lkgate.BanStore)
	}{
		{"BannedUntilItsEnd", bannedUntilItsEnd},
		{"OneIdentityOneRoomOneTenant", scope},
		{"LaterBanReplaces", replaces},
		{"UnbanLifts", unban},
		{"EndsOnItsOwn", ends},
		{"NamesDoNotCollide", collide},
		{"Concurrent", concurrent},
		{"BansListsTheActive", bansListsTheActive},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, newStore(t)) })
	}
}

var ctx = context.Background()

func ban(t *testing.T, s lkgate.BanStore, tenant, room, identity string, until time.Time) {
	t.Helper()
	if err := s.Ban(ctx, tenant, room, identity, until); err != nil {
		t.Fatalf("Ban(%s, %s, %s): %v", tenant, room, identity, err)
	}
}

func bannedUntil(t *testing.T, s lkgate.BanStore, tenant, room, identity string, now time.Time) time.Time {
	t.Helper()
	until, err := s.BannedUntil(ctx, tenant, room, identity, now)
	if err != nil {
		t.Fatalf("BannedUntil(%s, %s, %s): %v", tenant, room, identity, err)
	}
	return until
}

func bannedUntilItsEnd(t *testing.T, s lkgate.BanStore) {
	now := time.Now().Truncate(time.Millisecond)
	until := now.Add(time.Hour)
	if got := bannedUntil(t, s, "acme", "standup", "bob", now); !got.IsZero() {
		t.Fatalf("banned before any ban, until %s", got)
	}
	ban(t, s, "acme", "standup", "bob", until)
	if got := bannedUntil(t, s, "acme", "standup", "bob", now); !got.Equal(until) {
		t.Errorf("banned until %s, want %s", got, until)
	}
	if got := bannedUntil(t, s, "acme", "standup", "bob", until); !got.IsZero() {
		t.Errorf("still banned at its end: until %s", got)
	}
}

func scope(t *testing.T, s lkgate.BanStore) {
	now := time.Now()
	ban(t, s, "acme", "standup", "bob", now.Add(time.Hour))
	for _, k := range [][3]string{{"acme", "standup", "carol"}, {"acme", "retro", "bob"}, {"globex", "standup", "bob"}, {"", "standup", "bob"}} {
		if got := bannedUntil(t, s, k[0], k[1], k[2], now); !got.IsZero() {
			t.Errorf("%v banned by acme's ban of bob from standup", k)
		}
	}
}

func replaces(t *testing.T, s lkgate.BanStore) {
	now := time.Now().Truncate(time.Millisecond)
	ban(t, s, "acme", "standup", "bob", now.Add(time.Hour))
	ban(t, s, "acme", "standup", "bob", now.Add(time.Minute))
	if got := bannedUntil(t, s, "acme", "standup", "bob", now); !got.Equal(now.Add(time.Minute)) {
		t.Errorf("banned until %s, want the later ban's %s", got, now.Add(time.Minute))
	}
}

func unban(t *testing.T, s lkgate.BanStore) {
	now := time.Now()
	ban(t, s, "acme", "standup", "bob", now.Add(time.Hour))
	ban(t, s, "acme", "standup", "carol", now.Add(time.Hour))
	if err := s.Unban(ctx, "acme", "standup", "bob"); err != nil {
		t.Fatal(err)
	}
	if got := bannedUntil(t, s, "acme", "standup", "bob", now); !got.IsZero() {
		t.Errorf("still banned after Unban, until %s", got)
	}
	if got := bannedUntil(t, s, "acme", "standup", "carol", now); got.IsZero() {
		t.Error("Unban of bob lifted carol's ban")
	}
	if err := s.Unban(ctx, "acme", "standup", "nobody"); err != nil {
		t.Errorf("Unban of no ban: %v", err)
	}
}

// An ended ban is gone on the store's own clock too: the real time.
func ends(t *testing.T, s lkgate.BanStore) {
	ban(t, s, "acme", "standup", "bob", time.Now().Add(200*time.Millisecond))
	time.Sleep(300 * time.Millisecond)
	if got := bannedUntil(t, s, "acme", "standup", "bob", time.Now()); !got.IsZero() {
		t.Errorf("banned after its end, until %s", got)
	}
}

// Tenant, room and identity are kept apart, whatever characters they
// hold.
func collide(t *testing.T, s lkgate.BanStore) {
	now := time.Now()
	ban(t, s, "a:b", "c", "d", now.Add(time.Hour))
	for _, k := range [][3]string{{"a", "b:c", "d"}, {"a", "b", "c:d"}, {"a:b:c", "", "d"}, {"a:b", "c:d", ""}} {
		if got := bannedUntil(t, s, k[0], k[1], k[2], now); !got.IsZero() {
			t.Errorf("%q banned by the ban of %q", k, [3]string{"a:b", "c", "d"})
		}
	}
}

// listed returns s.Bans(now) by tenant, room and identity, failing t on a
// ban listed twice.
func listed(t *testing.T, s lkgate.BanStore, now time.Time) map[[3]string]time.Time {
	t.Helper()
	bans, err := s.Bans(ctx, now)
	if err != nil {
		t.Fatalf("Bans: %v", err)
	}
	m := make(map[[3]string]time.Time, len(bans))
	for _, b := range bans {
		k := [3]string{b.Tenant, b.Room, b.Identity}
		if _, ok := m[k]; ok {
			t.Errorf("%q listed twice", k)
		}
		m[k] = b.Until
	}
	return m
}

// Bans lists each ban that ends after now once, with its end,
// whatever characters the names hold: the sweep finds the rooms and
// identities it names.
func bansListsTheActive(t *testing.T, s lkgate.BanStore) {
	now := time.Now().Truncate(time.Millisecond)
	if got := listed(t, s, now); len(got) != 0 {
		t.Fatalf("listed before any ban: %q", got)
	}
	want := map[[3]string]time.Time{}
	for i, k := range [][3]string{
		{"acme", "standup", "bob"}, {"acme", "retro", "bob"}, {"acme", "standup", "carol"}, {"globex", "standup", "bob"},
		{"", "standup", "bob"}, // the tenant of unauthenticated mode
		// One name each without the lengths, or with a parser that
		// counts runes or reads digits off the names.
		{"a:b", "c", "d"}, {"a", "b:c", "d"}, {"a", "b", "c:d"}, {"a:b:c", "", "d"}, {"a:b", "c:d", ""},
		{"1:", "2:3", "4"}, {"12", "3:4", "5"}, {"ü:1", "0:", "é"},
	} {
		want[k] = now.Add(time.Hour + time.Duration(i)*time.Millisecond)
		ban(t, s, k[0], k[1], k[2], want[k])
	}
	soon := [3]string{"acme", "standup", "soon"}
	want[soon] = now.Add(time.Millisecond)
	ban(t, s, soon[0], soon[1], soon[2], want[soon])
	ban(t, s, "acme", "standup", "ends-now", now)
	ban(t, s, "acme", "standup", "ended", now.Add(-time.Minute))
	ban(t, s, "acme", "standup", "lifted", now.Add(time.Hour))
	if err := s.Unban(ctx, "acme", "standup", "lifted"); err != nil {
		t.Fatal(err)
	}
	// Shortened: it must stay listed until its new end, and may be
	// listed until its old one (the sweep reads BannedUntil).
	shortened := [3]string{"acme", "retro", "bob"}
	ban(t, s, shortened[0], shortened[1], shortened[2], now.Add(time.Minute))
	got := listed(t, s, now)
	if until, ok := got[shortened]; !ok || until.Before(now.Add(time.Minute)) {
		t.Errorf("the shortened ban is listed until %s (listed: %v), want at least %s", until, ok, now.Add(time.Minute))
	}
	delete(got, shortened)
	delete(want, shortened)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Bans(now) (-want +got):\n%s", diff)
	}
	// Later, the bans that end by then are not listed.
	later := now.Add(time.Minute)
	delete(want, soon)
	got = listed(t, s, later)
	delete(got, shortened)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Bans(now+1m) (-want +got):\n%s", diff)
	}
}

func concurrent(t *testing.T, s lkgate.BanStore) {
	now := time.Now()
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			id := fmt.Sprintf("p%d", i)
			if err := s.Ban(ctx, "acme", "standup", id, now.Add(time.Hour)); err != nil {
				t.Error(err)
			}
			if until, err := s.BannedUntil(ctx, "acme", "standup", id, now); err != nil || until.IsZero() {
				t.Errorf("%s: %s %v", id, until, err)
			}
		})
	}
	wg.Wait()
}
