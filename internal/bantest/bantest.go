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
