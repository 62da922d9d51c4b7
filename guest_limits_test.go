package lkgate_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

// noRate turns a rate off explicitly.
var noRate = lkgate.Rate{Events: lkgate.NoLimit}

// lobbyRooms are the LiveKit rooms of the fake that are guest lobbies.
func lobbyRooms(t *testing.T, fake *lkgatetest.Server) []string {
	t.Helper()
	res, err := adminClient(fake).ListRooms(context.Background(), &livekit.ListRoomsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var lobbies []string
	for _, r := range res.Rooms {
		name := r.Name
		if _, clean, ok := lkgate.ParseScopedRoomName(name); ok {
			name = clean
		}
		if strings.HasPrefix(name, lkgate.LobbyPrefix) {
			lobbies = append(lobbies, r.Name)
		}
	}
	return lobbies
}

// The case: a tenant at its room quota, one invite redeemed 15
// times, each guest joining its lobby. Lobbies do not count against
// MaxRooms, but every one is counted against the guest caps before its
// token exists, so the 16 rooms become 3 + the cap, whether each guest
// joins before the next redeems or all redeem first; a refusal creates
// nothing, and a denied guest's place is free at once.
func TestWaitingGuestCapsBoundLobbies(t *testing.T) {
	forEachNaming(t, func(t *testing.T, naming lkgate.RoomNaming) {
		e := newGuestEnv(t, lkgate.Config{RoomNames: naming, Limits: lkgate.LimitConfig{Default: lkgate.Limits{
			MaxRooms: 3, MaxWaitingGuestsPerRoom: 5, MaxWaitingGuests: 8, GuestWaitRate: noRate,
		}}})
		ctx := context.Background()
		for _, room := range []string{"r1", "r2", "r3"} {
			if _, err := e.m.Token(ctx, "acme", lkgate.TokenRequest{Room: room, Identity: "host"}); err != nil {
				t.Fatal(err)
			}
		}
		wantLimited(t, mustFail(e.m.Token(ctx, "acme", lkgate.TokenRequest{Room: "r4", Identity: "host"})), lkgate.LimitMaxRooms)

		// Redeem and join, 15 times over.
		inv := e.invite(t, lkgate.InviteRequest{Org: "acme", Room: "r1", AllowAll: true})
		var waiting []*lkgate.GuestSession
		for i := range 15 {
			s, err := e.guests.RoomAuth(ctx, inv.Token, "G")
			if i >= 5 {
				if le := wantLimited(t, err, lkgate.LimitMaxWaitingGuestsPerRoom); le.RetryAfter != lkgate.QuotaRetryAfter {
					t.Errorf("Retry-After %s", le.RetryAfter)
				}
				continue
			}
			if err != nil {
				t.Fatalf("guest %d: %v", i+1, err)
			}
			if _, err := e.fake.Join(s.Token.JWT); err != nil {
				t.Fatal(err)
			}
			waiting = append(waiting, s)
		}
		if n := len(lobbyRooms(t, e.fake)); n != 5 {
			t.Errorf("%d lobbies for r1, want 5", n)
		}

		// Redeem 15 times first, join afterwards: the lobbies counted are
		// those room-auth opened, joined or not.
		inv2 := e.invite(t, lkgate.InviteRequest{Org: "acme", Room: "r2", AllowAll: true})
		var pending []*lkgate.GuestSession
		for i := range 15 {
			e.fake.ResetCalls()
			s, err := e.guests.RoomAuth(ctx, inv2.Token, "G")
			if i >= 3 {
				wantLimited(t, err, lkgate.LimitMaxWaitingGuests)
				// The count alone (after SharedNames' look-up): nothing
				// is created.
				if n, want := e.fake.TotalCalls(), map[lkgate.RoomNaming]int{lkgate.ScopedNames: 1, lkgate.SharedNames: 2}[naming]; n != want || e.fake.Calls("CreateRoom") != 0 {
					t.Errorf("a refused room-auth cost %d LiveKit calls (%d CreateRoom), want %d", n, e.fake.Calls("CreateRoom"), want)
				}
				continue
			}
			if err != nil {
				t.Fatalf("guest %d of r2: %v", i+1, err)
			}
			pending = append(pending, s)
		}
		for _, s := range pending {
			if _, err := e.fake.Join(s.Token.JWT); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(lobbyRooms(t, e.fake)); n != 8 {
			t.Errorf("%d lobbies in all, want 8 (MaxWaitingGuests)", n)
		}
		if res, err := adminClient(e.fake).ListRooms(ctx, &livekit.ListRoomsRequest{}); err != nil || len(res.Rooms) != 3+8 {
			t.Errorf("LiveKit rooms %v %v, want the tenant's 3 and 8 lobbies", res.GetRooms(), err)
		}

		// Another tenant's guests are counted apart.
		other := e.invite(t, lkgate.InviteRequest{Org: "globex", Room: "g1", AllowAll: true})
		if _, err := e.guests.RoomAuth(ctx, other.Token, "G"); err != nil {
			t.Errorf("globex's guest: %v", err)
		}

		// Denying a guest closes its lobby: its place is free at once.
		if err := e.guests.Deny(lkgate.WithSubject(ctx, "host"), "acme", "r1", waiting[0].Identity); err != nil {
			t.Fatal(err)
		}
		if _, ok := e.fake.Room(waiting[0].LobbyRoom); ok {
			t.Error("the denied guest's lobby is still open")
		}
		if _, err := e.guests.RoomAuth(ctx, inv.Token, "G"); err != nil {
			t.Errorf("room-auth after a deny: %v", err)
		}
		wantLimited(t, mustFail(e.guests.RoomAuth(ctx, inv.Token, "G")), lkgate.LimitMaxWaitingGuestsPerRoom)
	})
}

// The guest limits apply with no limits configured: GuestWaitRate first,
// then the caps; NoLimit turns each off, and with both caps off room-auth
// makes no LiveKit call under ScopedNames and opens no lobby.
func TestGuestLimitDefaults(t *testing.T) {
	ctx := context.Background()
	t.Run("rate", func(t *testing.T) {
		e := newGuestEnv(t, lkgate.Config{})
		for i := range lkgate.DefaultGuestWaitBurst + 1 {
			// A room each, so that no cap is reached.
			inv := e.invite(t, lkgate.InviteRequest{Org: "acme", Room: "r" + string(rune('a'+i)), AllowAll: true})
			_, err := e.guests.RoomAuth(ctx, inv.Token, "G")
			if i < lkgate.DefaultGuestWaitBurst {
				if err != nil {
					t.Fatal(err)
				}
				continue
			}
			if le := wantLimited(t, err, lkgate.LimitGuestWaitRate); le.RetryAfter != time.Minute/lkgate.DefaultGuestWaitsPerMinute {
				t.Errorf("Retry-After %s", le.RetryAfter)
			}
		}
	})
	t.Run("caps", func(t *testing.T) {
		e := newGuestEnv(t, lkgate.Config{Limits: lkgate.LimitConfig{Default: lkgate.Limits{GuestWaitRate: noRate}}})
		for r := range lkgate.DefaultMaxWaitingGuests / lkgate.DefaultMaxWaitingGuestsPerRoom {
			inv := e.invite(t, lkgate.InviteRequest{Org: "acme", Room: "r" + string(rune('a'+r)), AllowAll: true})
			for range lkgate.DefaultMaxWaitingGuestsPerRoom {
				if _, err := e.guests.RoomAuth(ctx, inv.Token, "G"); err != nil {
					t.Fatal(err)
				}
			}
			wantLimited(t, mustFail(e.guests.RoomAuth(ctx, inv.Token, "G")), lkgate.LimitMaxWaitingGuestsPerRoom)
		}
		inv := e.invite(t, lkgate.InviteRequest{Org: "acme", Room: "one-more", AllowAll: true})
		wantLimited(t, mustFail(e.guests.RoomAuth(ctx, inv.Token, "G")), lkgate.LimitMaxWaitingGuests)
		if n := len(lobbyRooms(t, e.fake)); n != lkgate.DefaultMaxWaitingGuests {
			t.Errorf("%d lobbies, want %d", n, lkgate.DefaultMaxWaitingGuests)
		}
	})
	t.Run("off", func(t *testing.T) {
		// Through a tenant's own limits, whose zero fields mean the
		// defaults too.
		e := newGuestEnv(t, lkgate.Config{Limits: lkgate.LimitConfig{Tenant: func(string) (lkgate.Limits, bool) {
			return lkgate.Limits{GuestWaitRate: noRate, MaxWaitingGuestsPerRoom: lkgate.NoLimit, MaxWaitingGuests: lkgate.NoLimit}, true
		}}})
		inv := e.invite(t, lkgate.InviteRequest{Org: "acme", Room: "r", AllowAll: true})
		for range 2 * lkgate.DefaultMaxWaitingGuests {
			if _, err := e.guests.RoomAuth(ctx, inv.Token, "G"); err != nil {
				t.Fatal(err)
			}
		}
		if n := e.fake.TotalCalls(); n != 0 || len(lobbyRooms(t, e.fake)) != 0 {
			t.Errorf("room-auth without caps: %d LiveKit calls, %d lobbies", n, len(lobbyRooms(t, e.fake)))
		}
	})
	t.Run("one cap off", func(t *testing.T) {
		e := newGuestEnv(t, lkgate.Config{Limits: lkgate.LimitConfig{Default: lkgate.Limits{GuestWaitRate: noRate, MaxWaitingGuestsPerRoom: lkgate.NoLimit, MaxWaitingGuests: 12}}})
		inv := e.invite(t, lkgate.InviteRequest{Org: "acme", Room: "r", AllowAll: true})
		for range 12 {
			if _, err := e.guests.RoomAuth(ctx, inv.Token, "G"); err != nil {
				t.Fatal(err)
			}
		}
		wantLimited(t, mustFail(e.guests.RoomAuth(ctx, inv.Token, "G")), lkgate.LimitMaxWaitingGuests)
	})
}

// Concurrent room-auths, on two replicas sharing a lock, never let more
// guests wait than the cap: the count and the lobby's creation happen
// under the tenant's lock, which is held until LiveKit lists the lobby.
func TestWaitingGuestCapUnderConcurrency(t *testing.T) {
	forEachNaming(t, func(t *testing.T, naming lkgate.RoomNaming) {
		locker := lkgate.NewLocalLocker()
		cfg := lkgate.Config{RoomNames: naming, Locker: locker,
			Limits: lkgate.LimitConfig{Default: lkgate.Limits{GuestWaitRate: noRate, MaxWaitingGuestsPerRoom: 4}}}
		ma, fake := newManager(t, cfg)
		mb, _ := newManagerOn(t, fake, cfg)
		a, b := newGuests(t, ma), newGuests(t, mb)
		inv, err := a.Invite(context.Background(), "acme", lkgate.InviteRequest{Org: "acme", Room: "standup", AllowAll: true})
		if err != nil {
			t.Fatal(err)
		}
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			ok, cap int
		)
		for i := range 24 {
			g := []*lkgate.Guests{a, b}[i%2]
			wg.Go(func() {
				_, err := g.RoomAuth(context.Background(), inv.Token, "G")
				mu.Lock()
				defer mu.Unlock()
				var e *lkgate.Error
				switch {
				case err == nil:
					ok++
				case errors.As(err, &e) && e.Limit == lkgate.LimitMaxWaitingGuestsPerRoom:
					cap++
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if ok != 4 || cap != 20 || len(lobbyRooms(t, fake)) != 4 {
			t.Errorf("%d let in, %d refused, %d lobbies; want 4, 20, 4", ok, cap, len(lobbyRooms(t, fake)))
		}
	})
}

// A guest still in its lobby once its pass has expired can never be
// admitted: the next count closes its lobby instead of counting it, so a
// forgotten browser tab does not hold a place for ever.
func TestExpiredGuestsLoseTheirPlace(t *testing.T) {
	forEachNaming(t, func(t *testing.T, naming lkgate.RoomNaming) {
		// lkgate's clock runs ahead; the fake's, which stamps the lobbies'
		// creation, stays with the SDK's tokens. A lobby's creation time
		// is in whole seconds: the steps below keep two seconds off.
		e := newGuestEnv(t, lkgate.Config{RoomNames: naming, Limits: lkgate.LimitConfig{Default: lkgate.Limits{MaxWaitingGuestsPerRoom: 1}}})
		ctx := context.Background()
		inv := e.invite(t, lkgate.InviteRequest{Org: "acme", Room: "standup", AllowAll: true, Duration: 2 * time.Hour})
		old := e.waiting(t, inv, "Forgotten")

		// Until the pass has certainly expired (LobbyTTL, and a minute
		// for the clocks), the guest keeps its place.
		e.clk.Advance(lkgate.DefaultLobbyTTL + time.Minute - 2*time.Second)
		wantLimited(t, mustFail(e.guests.RoomAuth(ctx, inv.Token, "New")), lkgate.LimitMaxWaitingGuestsPerRoom)
		if _, ok := e.fake.Room(old.LobbyRoom); !ok {
			t.Fatal("the lobby of a guest that may still be admitted was closed")
		}
		e.clk.Advance(4 * time.Second)
		e.fake.ResetCalls()
		s, err := e.guests.RoomAuth(ctx, inv.Token, "New")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := e.fake.Room(old.LobbyRoom); ok {
			t.Error("the expired guest's lobby is still open")
		}
		if _, ok := e.fake.Room(s.LobbyRoom); !ok {
			t.Error("the new guest has no lobby")
		}
		if n := e.fake.Calls("DeleteRoom"); n != 1 {
			t.Errorf("%d DeleteRoom calls, want 1", n)
		}
	})
}

func TestGuestLimitValidation(t *testing.T) {
	for name, tt := range map[string]struct {
		l     lkgate.Limits
		field string
	}{
		"per-room cap below NoLimit":   {lkgate.Limits{MaxWaitingGuestsPerRoom: -2}, "Limits.Default.MaxWaitingGuestsPerRoom"},
		"tenant cap below NoLimit":     {lkgate.Limits{MaxWaitingGuests: -5}, "Limits.Default.MaxWaitingGuests"},
		"NoLimit with a period":        {lkgate.Limits{GuestWaitRate: lkgate.Rate{Events: lkgate.NoLimit, Per: time.Minute}}, "Limits.Default.GuestWaitRate"},
		"NoLimit with a burst":         {lkgate.Limits{GuestWaitRate: lkgate.Rate{Events: lkgate.NoLimit, Burst: 3}}, "Limits.Default.GuestWaitRate"},
		"negative events, not NoLimit": {lkgate.Limits{GuestWaitRate: lkgate.Rate{Events: -2, Per: time.Minute}}, "Limits.Default.GuestWaitRate"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := lkgate.New(lkgate.Config{URL: "http://lk", APIKey: "k", APISecret: lkgatetest.APISecret, Limits: lkgate.LimitConfig{Default: tt.l}})
			wantErr(t, err, lkgate.ErrInvalidArgument, tt.field)
		})
	}
	off := lkgate.Limits{MaxWaitingGuestsPerRoom: lkgate.NoLimit, MaxWaitingGuests: lkgate.NoLimit, GuestWaitRate: noRate, TokenRate: noRate}
	if _, err := lkgate.New(lkgate.Config{URL: "http://lk", APIKey: "k", APISecret: lkgatetest.APISecret, Limits: lkgate.LimitConfig{Default: off}}); err != nil {
		t.Errorf("NoLimit refused: %v", err)
	}
}
