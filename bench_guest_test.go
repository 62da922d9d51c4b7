package lkgate_test

import (
	"context"
	"testing"

	"github.com/lkgate/lkgate"
)

// BenchmarkGuests reports the LiveKit round trips (lkcalls/op) of each
// guest operation, as BenchmarkOperations does for the others.
func BenchmarkGuests(b *testing.B) {
	ctx := context.Background()
	// The caps on, high enough never to refuse: room-auth's cost is the
	// count, the lobby and the settle, whatever the number of lobbies.
	m, fake := newBenchManager(b, lkgate.Config{Limits: lkgate.LimitConfig{Default: lkgate.Limits{
		GuestWaitRate: lkgate.Rate{Events: lkgate.NoLimit}, MaxWaitingGuestsPerRoom: 1 << 30, MaxWaitingGuests: 1 << 30,
	}}})
	g := newGuests(b, m)
	inv, err := g.Invite(ctx, "acme", lkgate.InviteRequest{Org: "acme", Room: "bench", AllowAll: true})
	if err != nil {
		b.Fatal(err)
	}
	wait := func() *lkgate.GuestSession {
		s, err := g.RoomAuth(ctx, inv.Token, "Guest")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := fake.Join(s.Token.JWT); err != nil { // direct API: no RPC
			b.Fatal(err)
		}
		return s
	}
	for range 3 {
		wait()
	}
	run := func(name string, op func(b *testing.B)) { benchCalls(b, fake, name, op) }
	run("Invite", func(b *testing.B) {
		if _, err := g.Invite(ctx, "acme", lkgate.InviteRequest{Org: "acme", Room: "bench", AllowAll: true}); err != nil {
			b.Fatal(err)
		}
	})
	// Into a room of its own, whose lobbies Waiting below does not
	// list.
	authInv, err := g.Invite(ctx, "acme", lkgate.InviteRequest{Org: "acme", Room: "bench-auth", AllowAll: true})
	if err != nil {
		b.Fatal(err)
	}
	run("RoomAuth", func(b *testing.B) {
		if _, err := g.RoomAuth(ctx, authInv.Token, "Guest"); err != nil {
			b.Fatal(err)
		}
	})
	admitted := wait()
	run("Admit", func(b *testing.B) {
		if err := g.Admit(ctx, "acme", "bench", admitted.Identity); err != nil {
			b.Fatal(err)
		}
	})
	run("Waiting/4-lobbies", func(b *testing.B) {
		if _, err := g.Waiting(ctx, "acme", "bench"); err != nil {
			b.Fatal(err)
		}
	})
}
