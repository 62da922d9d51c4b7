package lkgate_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"
	"google.golang.org/protobuf/proto"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

func wantLimited(t *testing.T, err error, limit string) *lkgate.Error {
	t.Helper()
	var e *lkgate.Error
	if !errors.Is(err, lkgate.ErrLimited) || !errors.As(err, &e) || e.Limit != limit {
		t.Fatalf("err = %v, want ErrLimited by %s", err, limit)
	}
	if e.RetryAfter < time.Second || e.RetryAfter%time.Second != 0 {
		t.Errorf("RetryAfter = %s, want whole seconds, at least one", e.RetryAfter)
	}
	return e
}

func tokenFor(m *lkgate.Manager, tenant, room string) error {
	_, err := m.Token(context.Background(), tenant, lkgate.TokenRequest{Room: room, Identity: "alice"})
	return err
}

func TestRoomQuota(t *testing.T) {
	forEachNaming(t, testRoomQuota)
}

func testRoomQuota(t *testing.T, naming lkgate.RoomNaming) {
	m, fake := newManager(t, lkgate.Config{RoomNames: naming, Limits: lkgate.LimitConfig{
		Default: lkgate.Limits{MaxRooms: 2},
		Tenant: func(tenant string) (lkgate.Limits, bool) {
			return lkgate.Limits{MaxRooms: 3}, tenant == "globex"
		},
	}})
	// What each outcome costs, call by call: the README's cost table.
	calls := func() map[string]int {
		got := map[string]int{}
		for _, method := range []string{"ListRooms", "CreateRoom", "UpdateRoomMetadata", "DeleteRoom", "ListParticipants"} {
			if n := fake.Calls(method); n > 0 {
				got[method] = n
			}
		}
		if n := fake.TotalCalls(); n != got["ListRooms"]+got["CreateRoom"]+got["UpdateRoomMetadata"]+got["DeleteRoom"]+got["ListParticipants"] {
			t.Errorf("calls besides %v: %d in all", got, n)
		}
		fake.ResetCalls()
		return got
	}
	// A new room: the look-up by name, the count (unfiltered), CreateRoom,
	// writing the owner, and the settle read that the list shows it.
	newRoom := map[string]int{"ListRooms": 3, "CreateRoom": 1, "UpdateRoomMetadata": 1}
	for _, room := range []string{"a1", "a2"} {
		if err := tokenFor(m, "acme", room); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(newRoom, calls()); diff != "" {
			t.Errorf("new room %s under the quota, LiveKit calls (-want +got):\n%s", room, diff)
		}
	}
	// A refusal costs the look-up and the count: two ListRooms, nothing
	// created.
	wantLimited(t, tokenFor(m, "acme", "a3"), lkgate.LimitMaxRooms)
	if diff := cmp.Diff(map[string]int{"ListRooms": 2}, calls()); diff != "" {
		t.Errorf("a refusal by max_rooms, LiveKit calls (-want +got):\n%s", diff)
	}
	if _, ok := fake.Room(lkName(t, m, "acme", "a3")); ok {
		t.Error("a refused request created its room")
	}

	// Owned rooms stay reachable at the quota, in one LiveKit call.
	if err := tokenFor(m, "acme", "a1"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"ListRooms": 1}, calls()); diff != "" {
		t.Errorf("token for an owned room at the quota, LiveKit calls (-want +got):\n%s", diff)
	}

	// Another tenant is not affected, and its own limit applies.
	for _, room := range []string{"g1", "g2", "g3"} {
		if err := tokenFor(m, "globex", room); err != nil {
			t.Fatalf("globex %s: %v", room, err)
		}
	}
	wantLimited(t, tokenFor(m, "globex", "g4"), lkgate.LimitMaxRooms)

	// A room that closes frees its place: the count is LiveKit's.
	if _, err := adminClient(fake).DeleteRoom(context.Background(), &livekit.DeleteRoomRequest{Room: lkName(t, m, "acme", "a2")}); err != nil {
		t.Fatal(err)
	}
	if err := tokenFor(m, "acme", "a3"); err != nil {
		t.Fatalf("after a room closed: %v", err)
	}
}

// The room quota holds while LiveKit's room list trails its writes. Two
// replicas share a Locker: the first holds the tenant's quota lock until the
// list shows its new room, so the second, counting after it, refuses a
// room past the quota. When the list trails longer than the first may
// wait (half of RequestTimeout), the first counts its unlisted room itself,
// and its own next request past the quota is refused too.
func TestRoomQuotaHoldsWhileTheListTrails(t *testing.T) {
	forEachNaming(t, testRoomQuotaHoldsWhileTheListTrails)
}

func testRoomQuotaHoldsWhileTheListTrails(t *testing.T, naming lkgate.RoomNaming) {
	fake := lkgatetest.NewServer(t)
	var logs lockedBuffer
	cfg := lkgate.Config{RoomNames: naming, Locker: lkgate.NewLocalLocker(), RequestTimeout: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Limits: lkgate.LimitConfig{Default: lkgate.Limits{MaxRooms: 1}}}
	if naming == lkgate.SharedNames {
		cfg.Leases = lkgate.NewMemoryLeaseStore(nil)
	}
	m1, _ := newManagerOn(t, fake, cfg)
	m2, _ := newManagerOn(t, fake, cfg)

	// The list trails by 300 ms, within the 1 s the first replica waits.
	fake.SetListLag(300 * time.Millisecond)
	first := make(chan error, 1)
	go func() { first <- tokenFor(m1, "acme", "a1") }()
	// The second replica asks once the first holds the lock and has created
	// its room, which the list does not show yet.
	for deadline := time.Now().Add(5 * time.Second); fake.Calls("CreateRoom") == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first replica created no room")
		}
	}
	wantLimited(t, tokenFor(m2, "acme", "a2"), lkgate.LimitMaxRooms)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "did not show") {
		t.Errorf("a list trailing within the wait was not waited for: %s", logs.String())
	}

	// The list trails by 10 s, past the wait: the first replica counts its
	// room itself.
	if _, err := adminClient(fake).DeleteRoom(context.Background(), &livekit.DeleteRoomRequest{Room: lkName(t, m1, "acme", "a1")}); err != nil {
		t.Fatal(err)
	}
	fake.SetListLag(10 * time.Second)
	if err := tokenFor(m1, "acme", "b1"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "did not show") {
		t.Errorf("giving up on the list was not logged: %s", logs.String())
	}
	wantLimited(t, tokenFor(m1, "acme", "b2"), lkgate.LimitMaxRooms)
	if _, ok := fake.Room(lkName(t, m1, "acme", "b2")); ok {
		t.Error("a room past the quota was created")
	}
	// The room the list does not show is still the tenant's: a token for it
	// is no new room.
	if err := tokenFor(m1, "acme", "b1"); err != nil {
		t.Errorf("a token for the unlisted room: %v", err)
	}
}

// Under ScopedNames a tenant's rooms are the LiveKit rooms named with its
// prefix, its guests' lobbies left out: neither another tenant's rooms nor
// a plain room whose metadata names the tenant count.
func TestRoomQuotaCountsScopedRooms(t *testing.T) {
	m, fake := newManager(t, lkgate.Config{Limits: lkgate.LimitConfig{Default: lkgate.Limits{MaxRooms: 2}}})
	ctx := context.Background()
	for _, name := range []string{
		scoped(t, "acme", "a1"),
		scoped(t, "acme", lkgate.LobbyPrefix+"x"), scoped(t, "acme", lkgate.LobbyPrefix+"y"),
		scoped(t, "globex", "g1"), scoped(t, "globex", "g2"),
		scoped(t, "acme_", "a2"), scoped(t, "acm", "e_a3"), // prefixes that look alike
		"t4_acme", // a plain name that does not parse
	} {
		fake.AddParticipant(name, lkgatetest.Participant{Identity: "p"})
	}
	if _, err := adminClient(fake).CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "claimed", Metadata: `{"auth_id":"acme"}`}); err != nil {
		t.Fatal(err)
	}
	fake.ResetCalls()
	// acme has one room: a new one is allowed, counted and created.
	if err := tokenFor(m, "acme", "a2"); err != nil {
		t.Fatalf("second room: %v", err)
	}
	// Read by name, count (unfiltered), create, record the owner, settle.
	calls := map[string]int{}
	for _, method := range []string{"ListRooms", "CreateRoom", "UpdateRoomMetadata"} {
		calls[method] = fake.Calls(method)
	}
	if diff := cmp.Diff(map[string]int{"ListRooms": 3, "CreateRoom": 1, "UpdateRoomMetadata": 1}, calls); diff != "" {
		t.Errorf("LiveKit calls for a new room under the quota (-want +got):\n%s", diff)
	}
	r, ok := fake.Room(scoped(t, "acme", "a2"))
	if !ok || r.Metadata != `{"auth_id":"acme"}` {
		t.Fatalf("the new room: %v (exists %v)", r, ok)
	}

	fake.ResetCalls()
	wantLimited(t, tokenFor(m, "acme", "a3"), lkgate.LimitMaxRooms)
	if _, ok := fake.Room(scoped(t, "acme", "a3")); ok {
		t.Error("a refused request created its room")
	}
	if n := fake.Calls("CreateRoom") + fake.Calls("UpdateRoomMetadata"); n != 0 {
		t.Errorf("a refused request made %d create calls", n)
	}
	rooms, err := m.ListRooms(ctx, "acme")
	if err != nil || len(rooms) != 2 {
		t.Errorf("acme lists %v (%v), want a1 and a2", rooms, err)
	}
}

// Racing requests for many new rooms of one tenant never exceed its quota.
func TestRoomQuotaUnderRace(t *testing.T) {
	forEachNaming(t, func(t *testing.T, naming lkgate.RoomNaming) {
		m, fake := newManager(t, lkgate.Config{RoomNames: naming, Limits: lkgate.LimitConfig{Default: lkgate.Limits{MaxRooms: 3}}})
		var wg sync.WaitGroup
		var mu sync.Mutex
		var ok, refused int
		for i := range 20 {
			wg.Go(func() {
				err := tokenFor(m, "acme", fmt.Sprintf("r%d", i))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, lkgate.ErrLimited):
					refused++
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		res, err := adminClient(fake).ListRooms(context.Background(), &livekit.ListRoomsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if ok != 3 || refused != 17 || len(res.Rooms) != 3 {
			t.Errorf("ok %d, refused %d, rooms %d; want 3, 17, 3", ok, refused, len(res.Rooms))
		}
	})
}

func TestTokenRate(t *testing.T) {
	clock := lkgatetest.NewClock(fixedNow)
	m, fake := newManager(t, lkgate.Config{Now: clock.Now, Limits: lkgate.LimitConfig{
		Default: lkgate.Limits{TokenRate: lkgate.PerSecond(2, 4)},
	}})
	for i := range 4 {
		if err := tokenFor(m, "acme", "standup"); err != nil {
			t.Fatalf("burst token %d: %v", i, err)
		}
	}
	fake.ResetCalls()
	e := wantLimited(t, tokenFor(m, "acme", "standup"), lkgate.LimitTokenRate)
	if e.RetryAfter != time.Second {
		t.Errorf("RetryAfter = %s, want 1s (one token refills in 500ms)", e.RetryAfter)
	}
	if fake.TotalCalls() != 0 {
		t.Errorf("a refused token made %d LiveKit calls", fake.TotalCalls())
	}
	if err := tokenFor(m, "globex", "standup-g"); err != nil {
		t.Errorf("another tenant was limited: %v", err)
	}
	clock.Advance(500 * time.Millisecond)
	if err := tokenFor(m, "acme", "standup"); err != nil {
		t.Errorf("after the refill: %v", err)
	}
	wantLimited(t, tokenFor(m, "acme", "standup"), lkgate.LimitTokenRate)
	// Invalid requests are refused before the rate, and do not use it up.
	clock.Advance(time.Second)
	if _, err := m.Token(context.Background(), "acme", lkgate.TokenRequest{Room: "standup"}); !errors.Is(err, lkgate.ErrInvalidArgument) {
		t.Fatal(err)
	}
	for range 2 {
		if err := tokenFor(m, "acme", "standup"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestInviteRate(t *testing.T) {
	clock := lkgatetest.NewClock(fixedNow)
	m, _ := newManager(t, lkgate.Config{Now: clock.Now, Limits: lkgate.LimitConfig{
		Default: lkgate.Limits{InviteRate: lkgate.PerMinute(1, 1)},
	}})
	g := newGuests(t, m)
	inv := lkgate.InviteRequest{Org: "acme", Room: "standup", AllowAll: true}
	if _, err := g.Invite(context.Background(), "acme", inv); err != nil {
		t.Fatal(err)
	}
	e := wantLimited(t, mustFail(g.Invite(context.Background(), "acme", inv)), lkgate.LimitInviteRate)
	if e.RetryAfter != time.Minute {
		t.Errorf("RetryAfter = %s, want 1m", e.RetryAfter)
	}
	clock.Advance(time.Minute)
	if _, err := g.Invite(context.Background(), "acme", inv); err != nil {
		t.Errorf("after a minute: %v", err)
	}
}

func mustFail[T any](_ T, err error) error { return err }

// lockedBuffer is a bytes.Buffer safe for a Manager's concurrent logging.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLimitedSIPEnv(t *testing.T, naming lkgate.RoomNaming, limits lkgate.Limits) (*sipEnv, *lkgatetest.Clock, lkgate.LimitStore) {
	t.Helper()
	clock := lkgatetest.NewClock(fixedNow)
	store := lkgate.NewMemoryLimitStore(clock.Now)
	e := newSIPEnvWith(t, lkgate.Config{RoomNames: naming, Now: clock.Now, Limits: lkgate.LimitConfig{Default: limits, Store: store}})
	return e, clock, store
}

func callAs(identity string) lkgate.CallRequest {
	c := call("support", "+4930123456")
	c.Identity = identity
	return c
}

// leftEvent is the participant_left event of identity in the LiveKit room
// room, or nil if it is not there.
func leftEvent(fake *lkgatetest.Server, room, identity string) *livekit.WebhookEvent {
	r, _ := fake.Room(room)
	for _, p := range fake.Participants(room) {
		if p.Identity == identity {
			return &livekit.WebhookEvent{Event: webhook.EventParticipantLeft, Room: r, Participant: p}
		}
	}
	return nil
}

func TestConcurrentSIPCalls(t *testing.T) {
	forEachNaming(t, testConcurrentSIPCalls)
}

func testConcurrentSIPCalls(t *testing.T, naming lkgate.RoomNaming) {
	e, clock, _ := newLimitedSIPEnv(t, naming, lkgate.Limits{MaxConcurrentSIPCalls: 2})
	ctx := context.Background()
	support := lkName(t, e.m, "acme", "support")
	for _, id := range []string{"p1", "p2"} {
		if _, err := e.sip.Call(ctx, "acme", callAs(id)); err != nil {
			t.Fatal(err)
		}
	}
	dialed := len(e.fake.Dialed())
	e.fake.ResetCalls()
	wantLimited(t, mustFail(e.sip.Call(ctx, "acme", callAs("p3"))), lkgate.LimitMaxConcurrentSIPCalls)
	if len(e.fake.Dialed()) != dialed {
		t.Error("a refused call was dialed")
	}
	// No slot has settled (3 minutes): nothing to reconcile, no call.
	if n := e.fake.TotalCalls(); n != 0 {
		t.Errorf("a refusal with no settled slot made %d LiveKit calls, want 0", n)
	}
	if _, err := e.sip.Call(ctx, "globex", lkgate.CallRequest{Room: "g", Identity: "p1", To: "+4930123456"}); err != nil {
		t.Errorf("another tenant was limited: %v", err)
	}

	// participant_left of the SIP participant frees its slot.
	ev := leftEvent(e.fake, support, "p1")
	if _, err := adminClient(e.fake).RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: support, Identity: "p1"}); err != nil {
		t.Fatal(err)
	}
	if err := e.sip.ReleaseCall(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sip.Call(ctx, "acme", callAs("p3")); err != nil {
		t.Fatalf("after a call ended: %v", err)
	}

	// Without the webhook, a refusal reconciles settled slots with LiveKit.
	if _, err := adminClient(e.fake).RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: support, Identity: "p2"}); err != nil {
		t.Fatal(err)
	}
	wantLimited(t, mustFail(e.sip.Call(ctx, "acme", callAs("p4"))), lkgate.LimitMaxConcurrentSIPCalls)
	clock.Advance(4 * time.Minute)
	if _, err := e.sip.Call(ctx, "acme", callAs("p4")); err != nil {
		t.Fatalf("a slot of an ended call was not reconciled: %v", err)
	}
	// p3's slot has settled and its call is live: the refusal costs the
	// reconcile, one ListParticipants for p3's room, and nothing else.
	e.fake.ResetCalls()
	wantLimited(t, mustFail(e.sip.Call(ctx, "acme", callAs("p5"))), lkgate.LimitMaxConcurrentSIPCalls)
	if n, lp := e.fake.TotalCalls(), e.fake.Calls("ListParticipants"); n != 1 || lp != 1 {
		t.Errorf("a refusal with a settled slot made %d LiveKit calls (%d ListParticipants), want 1 ListParticipants", n, lp)
	}
}

// A call that fails, or that the rate refuses, holds no slot.
func TestFailedCallsHoldNoSlot(t *testing.T) {
	e, _, store := newLimitedSIPEnv(t, lkgate.ScopedNames, lkgate.Limits{MaxConcurrentSIPCalls: 1, SIPCallRate: lkgate.PerMinute(2, 2)})
	ctx := context.Background()
	e.fake.SetFarEnd("+4930999999", lkgatetest.FarEnd{CallStatus: 486})
	busy := call("support", "+4930999999")
	if _, err := e.sip.Call(ctx, "acme", busy); !errors.Is(err, lkgate.ErrBusy) {
		t.Fatalf("err = %v, want ErrBusy", err)
	}
	if _, err := e.sip.Call(ctx, "acme", callAs("p1")); err != nil {
		t.Fatalf("the failed call kept its slot: %v", err)
	}
	wantLimited(t, mustFail(e.sip.Call(ctx, "acme", callAs("p2"))), lkgate.LimitMaxConcurrentSIPCalls)
	ev := leftEvent(e.fake, lkName(t, e.m, "acme", "support"), "p1")
	if ev == nil {
		t.Fatal("p1 is not in the room")
	}
	if err := e.sip.ReleaseCall(ctx, ev); err != nil {
		t.Fatal(err)
	}
	wantLimited(t, mustFail(e.sip.Call(ctx, "acme", callAs("p2"))), lkgate.LimitSIPCallRate)
	// The rate's refusal released the slot it had taken, and the busy
	// call's: the tenant's and each participant's.
	key, support := "lkgate:limit:max_concurrent_sip_calls:acme", lkName(t, e.m, "acme", "support")
	for _, k := range []string{key, key + "\x00" + support + "\x00phone", key + "\x00" + support + "\x00p1", key + "\x00" + support + "\x00p2"} {
		if h, err := store.Holders(ctx, k); err != nil || len(h) != 0 {
			t.Errorf("slots of %q held after the refusals: %v, %v", k, h, err)
		}
	}
}

// A second call to the room and identity of a call in progress is refused
// (ErrCallInProgress) and never dialed, below the limit too: LiveKit would
// replace the first call's participant, whose participant_left would then
// free the slot the second call holds. In both namings.
func TestCallInProgressIsRefused(t *testing.T) {
	forEachNaming(t, testCallInProgressIsRefused)
}

func testCallInProgressIsRefused(t *testing.T, naming lkgate.RoomNaming) {
	e, _, _ := newLimitedSIPEnv(t, naming, lkgate.Limits{MaxConcurrentSIPCalls: 2})
	ctx := context.Background()
	support := lkName(t, e.m, "acme", "support")
	first, err := e.sip.Call(ctx, "acme", callAs("p1"))
	if err != nil {
		t.Fatal(err)
	}
	if d := e.fake.Dialed(); d[0].ParticipantAttributes[lkgate.CallAttribute] == "" {
		t.Fatalf("a call holding a slot was dialed without %s: %v", lkgate.CallAttribute, d[0].ParticipantAttributes)
	}
	err = mustFail(e.sip.Call(ctx, "acme", callAs("p1")))
	var le *lkgate.Error
	if !errors.Is(err, lkgate.ErrCallInProgress) || !errors.Is(err, lkgate.ErrConflict) || !errors.As(err, &le) || le.Field != "Identity" {
		t.Fatalf("second call to p1: %v, want ErrCallInProgress (an ErrConflict) on Identity", err)
	}
	if n := len(e.fake.Dialed()); n != 1 {
		t.Errorf("%d calls dialed, want 1: the second was dialed", n)
	}
	if ps := e.fake.Participants(support); len(ps) != 1 || ps[0].Sid != first.ParticipantSID {
		t.Errorf("the first call's participant was replaced: %v", ps)
	}
	// The refusal took no slot: another participant can still be called.
	if _, err := e.sip.Call(ctx, "acme", callAs("p2")); err != nil {
		t.Fatal(err)
	}
	wantLimited(t, mustFail(e.sip.Call(ctx, "acme", callAs("p3"))), lkgate.LimitMaxConcurrentSIPCalls)

	// Once the first call has ended, its participant can be called again.
	ev := leftEvent(e.fake, support, "p1")
	if _, err := adminClient(e.fake).RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: support, Identity: "p1"}); err != nil {
		t.Fatal(err)
	}
	if err := e.sip.ReleaseCall(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sip.Call(ctx, "acme", callAs("p1")); err != nil {
		t.Fatalf("calling p1 again after its call ended: %v", err)
	}
}

// Racing calls to one participant dial it once, whatever the limit.
func TestRacingCallsToOneParticipant(t *testing.T) {
	e, _, _ := newLimitedSIPEnv(t, lkgate.ScopedNames, lkgate.Limits{MaxConcurrentSIPCalls: 10})
	var placed, refused atomic.Int32
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			_, err := e.sip.Call(context.Background(), "acme", callAs("p1"))
			switch {
			case err == nil:
				placed.Add(1)
			case errors.Is(err, lkgate.ErrCallInProgress):
				refused.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if placed.Load() != 1 || refused.Load() != 9 || len(e.fake.Dialed()) != 1 {
		t.Errorf("%d placed, %d refused, %d dialed; want 1, 9, 1", placed.Load(), refused.Load(), len(e.fake.Dialed()))
	}
}

// Only the call a participant_left names (CallAttribute) is freed: the
// late or replayed event of an earlier call to the same room and identity,
// the event of a SIP participant lkgate did not dial, and a non-SIP
// participant's free nothing.
func TestReleaseCallFreesOnlyItsCall(t *testing.T) {
	e, _, _ := newLimitedSIPEnv(t, lkgate.ScopedNames, lkgate.Limits{MaxConcurrentSIPCalls: 1})
	ctx := context.Background()
	support := lkName(t, e.m, "acme", "support")
	if _, err := e.sip.Call(ctx, "acme", callAs("p1")); err != nil {
		t.Fatal(err)
	}
	earlier := leftEvent(e.fake, support, "p1")
	if _, err := adminClient(e.fake).RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: support, Identity: "p1"}); err != nil {
		t.Fatal(err)
	}
	if err := e.sip.ReleaseCall(ctx, earlier); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sip.Call(ctx, "acme", callAs("p1")); err != nil {
		t.Fatal(err)
	}
	current := leftEvent(e.fake, support, "p1")
	notDialed := proto.Clone(current).(*livekit.WebhookEvent)
	delete(notDialed.Participant.Attributes, lkgate.CallAttribute)
	notSIP := proto.Clone(current).(*livekit.WebhookEvent)
	notSIP.Participant.Kind = livekit.ParticipantInfo_STANDARD
	for name, ev := range map[string]*livekit.WebhookEvent{"earlier call": earlier, "not dialed by lkgate": notDialed, "not SIP": notSIP} {
		if err := e.sip.ReleaseCall(ctx, ev); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	wantLimited(t, mustFail(e.sip.Call(ctx, "acme", callAs("p2"))), lkgate.LimitMaxConcurrentSIPCalls)
	if err := mustFail(e.sip.Call(ctx, "acme", callAs("p1"))); !errors.Is(err, lkgate.ErrCallInProgress) {
		t.Errorf("calling p1 again: %v, want ErrCallInProgress", err)
	}
	if n := len(e.fake.Dialed()); n != 2 {
		t.Errorf("%d calls dialed, want 2", n)
	}
	if err := e.sip.ReleaseCall(ctx, current); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sip.Call(ctx, "acme", callAs("p2")); err != nil {
		t.Fatalf("after the call's own participant_left: %v", err)
	}
}

// Without webhooks, a refusal frees the settled slots of calls that are
// gone from LiveKit: a call is gone when no participant carries its id,
// even if one has its identity (LiveKit hangs up a SIP participant that
// another participant joining as it replaces). A participant's slot left
// behind by a release that failed halfway is freed the same way.
func TestReconcileCallsByCall(t *testing.T) {
	e, clock, store := newLimitedSIPEnv(t, lkgate.ScopedNames, lkgate.Limits{MaxConcurrentSIPCalls: 1})
	ctx := context.Background()
	support := lkName(t, e.m, "acme", "support")
	if _, err := e.sip.Call(ctx, "acme", callAs("p1")); err != nil {
		t.Fatal(err)
	}
	e.fake.AddParticipant(support, lkgatetest.Participant{Identity: "p1"})
	wantLimited(t, mustFail(e.sip.Call(ctx, "acme", callAs("p2"))), lkgate.LimitMaxConcurrentSIPCalls)
	clock.Advance(4 * time.Minute)
	e.fake.ResetCalls()
	if _, err := e.sip.Call(ctx, "acme", callAs("p2")); err != nil {
		t.Fatalf("the slot of a replaced call was not reconciled: %v", err)
	}
	if n := e.fake.Calls("ListParticipants"); n != 1 {
		t.Errorf("reconcile: %d ListParticipants, want 1", n)
	}

	// p2's call ends while its release fails halfway: the tenant's slot is
	// freed, the participant's is not.
	key := "lkgate:limit:max_concurrent_sip_calls:acme"
	held, err := store.Holders(ctx, key)
	if err != nil || len(held) != 1 {
		t.Fatalf("holders %v, %v", held, err)
	}
	for holder := range held {
		if err := store.Release(ctx, key, holder); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := adminClient(e.fake).RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: support, Identity: "p2"}); err != nil {
		t.Fatal(err)
	}
	if err := mustFail(e.sip.Call(ctx, "acme", callAs("p2"))); !errors.Is(err, lkgate.ErrCallInProgress) {
		t.Fatalf("calling p2 before its slot settled: %v, want ErrCallInProgress", err)
	}
	clock.Advance(4 * time.Minute)
	if _, err := e.sip.Call(ctx, "acme", callAs("p2")); err != nil {
		t.Fatalf("the participant's slot of an ended call was not reconciled: %v", err)
	}
}

func TestLimitConfigValidation(t *testing.T) {
	for field, l := range map[string]lkgate.Limits{
		"Limits.Default.MaxRooms":              {MaxRooms: -1},
		"Limits.Default.MaxConcurrentSIPCalls": {MaxConcurrentSIPCalls: -1},
		"Limits.Default.TokenRate":             {TokenRate: lkgate.Rate{Events: 5}},
		"Limits.Default.SIPCallRate":           {SIPCallRate: lkgate.Rate{Per: time.Second}},
		"Limits.Default.InviteRate":            {InviteRate: lkgate.Rate{Events: 1, Per: time.Second, Burst: -1}},
	} {
		_, err := lkgate.New(lkgate.Config{URL: "http://127.0.0.1:1", APIKey: "k", APISecret: lkgatetest.APISecret, Limits: lkgate.LimitConfig{Default: l}})
		wantErr(t, err, lkgate.ErrInvalidArgument, field)
	}
	// A bad per-tenant answer refuses the operation; it never lifts a limit.
	m, _ := newManager(t, lkgate.Config{Limits: lkgate.LimitConfig{Tenant: func(string) (lkgate.Limits, bool) {
		return lkgate.Limits{TokenRate: lkgate.Rate{Events: 1}}, true
	}}})
	if err := tokenFor(m, "acme", "r"); !errors.Is(err, lkgate.ErrNotConfigured) {
		t.Errorf("err = %v, want ErrNotConfigured", err)
	}
}

// The in-process store forgets refilled buckets, and what it forgets
// behaves as before.
func TestMemoryStoreSweep(t *testing.T) {
	clock := lkgatetest.NewClock(fixedNow)
	s := lkgate.NewMemoryLimitStore(clock.Now)
	ctx := context.Background()
	r := lkgate.PerSecond(1, 1)
	for i := range 5000 {
		if ok, _, _ := s.Allow(ctx, fmt.Sprint(i), r); !ok {
			t.Fatal("fresh key refused")
		}
		if i%1000 == 0 {
			clock.Advance(2 * time.Second)
		}
	}
	if ok, wait, _ := s.Allow(ctx, "4999", r); ok || wait != time.Second {
		t.Errorf("a drained bucket: ok %v wait %s", ok, wait)
	}
	clock.Advance(time.Second)
	if ok, _, _ := s.Allow(ctx, "0", r); !ok {
		t.Error("a refilled key was refused")
	}
}

// RetryAfter is rounded up: waiting exactly that long succeeds.
func TestRetryAfterRoundsUp(t *testing.T) {
	clock := lkgatetest.NewClock(fixedNow)
	m, _ := newManager(t, lkgate.Config{Now: clock.Now, Limits: lkgate.LimitConfig{
		Default: lkgate.Limits{TokenRate: lkgate.Rate{Events: 2, Per: 3 * time.Second, Burst: 1}},
	}})
	if err := tokenFor(m, "acme", "r"); err != nil {
		t.Fatal(err)
	}
	e := wantLimited(t, tokenFor(m, "acme", "r"), lkgate.LimitTokenRate)
	if e.RetryAfter != 2*time.Second {
		t.Fatalf("RetryAfter = %s for a 1.5s refill, want 2s", e.RetryAfter)
	}
	clock.Advance(e.RetryAfter)
	if err := tokenFor(m, "acme", "r"); err != nil {
		t.Errorf("after RetryAfter: %v", err)
	}
}

// A leaked invite costs its tenant at most GuestWaitRate; junk invites cost
// nothing and use none of it.
func TestGuestWaitRate(t *testing.T) {
	clock := lkgatetest.NewClock(time.Now()) // the fake checks token times against the real clock
	m, fake := newManager(t, lkgate.Config{Now: clock.Now, Limits: lkgate.LimitConfig{
		Default: lkgate.Limits{GuestWaitRate: lkgate.PerMinute(2, 2)},
	}})
	g := newGuests(t, m)
	inv, err := g.Invite(context.Background(), "acme", lkgate.InviteRequest{Org: "acme", Room: "standup", AllowAll: true})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := g.RoomAuth(context.Background(), inv.Token[:len(inv.Token)-4]+"AAAA", "Guest"); !errors.Is(err, lkgate.ErrInvalidArgument) {
			t.Fatalf("tampered invite: %v", err)
		}
	}
	for range 2 {
		if _, err := g.RoomAuth(context.Background(), inv.Token, "Guest"); err != nil {
			t.Fatal(err)
		}
	}
	fake.ResetCalls()
	wantLimited(t, mustFail(g.RoomAuth(context.Background(), inv.Token, "Guest")), lkgate.LimitGuestWaitRate)
	if fake.TotalCalls() != 0 {
		t.Errorf("a refused room-auth made %d LiveKit calls", fake.TotalCalls())
	}
	clock.Advance(30 * time.Second)
	if _, err := g.RoomAuth(context.Background(), inv.Token, "Guest"); err != nil {
		t.Errorf("after the refill: %v", err)
	}
}
