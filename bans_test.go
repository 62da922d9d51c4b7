package lkgate_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

// A ban removes the participant, then keeps its identity out of that room
// alone, of that tenant alone, until it ends: tokens, guest admission and
// SIP calls are refused with no LiveKit call, and the join guard removes
// the identity when it comes back with a refreshed token.
func TestBanKeepsTheIdentityOut(t *testing.T) {
	forEachNaming(t, testBanKeepsTheIdentityOut)
}

func testBanKeepsTheIdentityOut(t *testing.T, naming lkgate.RoomNaming) {
	clk := lkgatetest.NewClock(time.Now())
	m, fake := newManager(t, lkgate.Config{RoomNames: naming, Now: clk.Now})
	ctx := context.Background()
	for _, tenant := range []string{"acme", "globex"} {
		if _, err := m.Token(ctx, tenant, lkgate.TokenRequest{Room: "standup-" + tenant, Identity: "bob"}); err != nil {
			t.Fatal(err)
		}
	}
	standup := lkName(t, m, "acme", "standup-acme")
	fake.AddParticipant(standup, lkgatetest.Participant{Identity: "bob", Attributes: map[string]string{lkgate.TenantAttribute: "acme"}})

	until, err := m.Ban(ctx, "acme", "standup-acme", "bob", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if want := clk.Now().Add(time.Hour).Truncate(time.Second); !until.Equal(want) {
		t.Errorf("banned until %s, want %s", until, want)
	}
	if _, ok := fake.Participant(standup, "bob"); ok {
		t.Error("Ban left bob in the room")
	}

	fake.ResetCalls()
	_, err = m.Token(ctx, "acme", lkgate.TokenRequest{Room: "standup-acme", Identity: "bob"})
	if e := (*lkgate.Error)(nil); !errors.As(err, &e) || e.Kind != lkgate.ErrForbidden || e.Field != "Identity" {
		t.Fatalf("token for a banned identity: %v, want ErrForbidden on Identity", err)
	}
	if n := fake.TotalCalls(); n != 0 {
		t.Errorf("the refusal made %d LiveKit calls", n)
	}
	for _, ok := range []struct{ tenant, room, identity string }{
		{"acme", "standup-acme", "carol"}, {"acme", "retro", "bob"}, {"globex", "standup-globex", "bob"},
	} {
		if _, err := m.Token(ctx, ok.tenant, lkgate.TokenRequest{Room: ok.room, Identity: ok.identity}); err != nil {
			t.Errorf("%+v refused by acme's ban of bob from standup: %v", ok, err)
		}
	}

	// Back with the token LiveKit refreshed: the guard removes it.
	room, _ := fake.Room(standup)
	back := fake.AddParticipant(standup, lkgatetest.Participant{Identity: "bob", Attributes: map[string]string{lkgate.TenantAttribute: "acme"}})
	if removed, err := m.GuardJoin(ctx, joinEvent(room, back)); !removed || err != nil {
		t.Errorf("guard on a banned rejoin: removed %v, %v", removed, err)
	}
	if _, ok := fake.Participant(standup, "bob"); ok {
		t.Error("the guard left the banned bob in the room")
	}
	carol := fake.AddParticipant(standup, lkgatetest.Participant{Identity: "carol", Attributes: map[string]string{lkgate.TenantAttribute: "acme"}})
	if removed, err := m.GuardJoin(ctx, joinEvent(room, carol)); removed || err != nil {
		t.Errorf("guard on carol: removed %v, %v", removed, err)
	}

	clk.Advance(time.Hour)
	if _, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: "standup-acme", Identity: "bob"}); err != nil {
		t.Errorf("token after the ban ended: %v", err)
	}
	if _, err := m.Ban(ctx, "acme", "standup-acme", "bob", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := m.Unban(ctx, "acme", "standup-acme", "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: "standup-acme", Identity: "bob"}); err != nil {
		t.Errorf("token after Unban: %v", err)
	}
}

// A banned identity is refused a call into the room and admission from a
// lobby.
func TestBanRefusesCallsAndAdmission(t *testing.T) {
	m, fake := newManager(t, lkgate.Config{})
	ctx := lkgate.WithSubject(context.Background(), "alice")
	trunk := fake.AddOutboundTrunk("acme.example:5060", "+15550000001")
	sip := fake.NewSIP(t, m, lkgate.SIPConfig{Trunks: lkgate.StaticTrunk(trunk)})
	if _, err := m.Ban(ctx, "acme", "standup", "phone", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := sip.Call(ctx, "acme", lkgate.CallRequest{Room: "standup", Identity: "phone", To: "+4930123456"}); !errors.Is(err, lkgate.ErrForbidden) {
		t.Errorf("call as a banned identity: %v", err)
	}
	if len(fake.Dialed()) != 0 {
		t.Errorf("dialed %v", fake.Dialed())
	}

	guests := newGuests(t, m)
	inv, err := guests.Invite(ctx, "acme", lkgate.InviteRequest{Room: "standup", AllowAll: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := guests.RoomAuth(context.Background(), inv.Token, "Guest")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fake.Join(s.Token.JWT); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Ban(ctx, "acme", "standup", s.Identity, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := guests.Admit(ctx, "acme", "standup", s.Identity); !errors.Is(err, lkgate.ErrForbidden) {
		t.Errorf("admitting a banned guest: %v", err)
	}
	if msg, ok := fake.Admission(s.LobbyRoom, s.Identity); ok && msg.Type == lkgate.AdmissionAdmit {
		t.Errorf("the banned guest got an admission: %+v", msg)
	}
}

// What the room's participants can see of a ban: nothing. The ban writes
// no room metadata and no participant's attributes or metadata; the others
// only see the banned participant leave.
func TestBanIsInvisibleToTheRoom(t *testing.T) {
	forEachNaming(t, func(t *testing.T, naming lkgate.RoomNaming) {
		m, fake := newManager(t, lkgate.Config{RoomNames: naming})
		ctx := context.Background()
		if _, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: "standup", Identity: "alice"}); err != nil {
			t.Fatal(err)
		}
		standup := lkName(t, m, "acme", "standup")
		fake.AddParticipant(standup, lkgatetest.Participant{Identity: "alice", Attributes: map[string]string{lkgate.TenantAttribute: "acme"}})
		fake.AddParticipant(standup, lkgatetest.Participant{Identity: "bob", Attributes: map[string]string{lkgate.TenantAttribute: "acme"}})
		before, _ := fake.Room(standup)
		alice, _ := fake.Participant(standup, "alice")
		fake.ResetCalls()
		if _, err := m.Ban(ctx, "acme", "standup", "bob", time.Hour); err != nil {
			t.Fatal(err)
		}
		for _, method := range []string{"UpdateRoomMetadata", "UpdateParticipant", "SendData", "CreateRoom"} {
			if n := fake.Calls(method); n != 0 {
				t.Errorf("Ban made %d %s calls", n, method)
			}
		}
		after, _ := fake.Room(standup)
		aliceAfter, _ := fake.Participant(standup, "alice")
		if after.GetMetadata() != before.GetMetadata() || !maps.Equal(aliceAfter.GetAttributes(), alice.GetAttributes()) || aliceAfter.GetMetadata() != alice.GetMetadata() {
			t.Errorf("the ban shows: room metadata %q → %q, alice's attributes %v → %v", before.GetMetadata(), after.GetMetadata(), alice.GetAttributes(), aliceAfter.GetAttributes())
		}
	})
}

// A ban's duration is bounded, and an invalid ban is refused before any
// LiveKit or store call.
func TestBanBounds(t *testing.T) {
	m, fake := newManager(t, lkgate.Config{})
	for _, d := range []time.Duration{0, -time.Second, lkgate.MinBanDuration - 1, lkgate.MaxBanDuration + time.Second} {
		if _, err := m.Ban(context.Background(), "acme", "standup", "bob", d); !errors.Is(err, lkgate.ErrInvalidArgument) {
			t.Errorf("Ban for %s: %v", d, err)
		}
	}
	if _, err := m.Ban(context.Background(), "acme", "standup", "", time.Hour); !errors.Is(err, lkgate.ErrInvalidArgument) {
		t.Errorf("Ban of an empty identity: %v", err)
	}
	if n := fake.TotalCalls(); n != 0 {
		t.Errorf("%d LiveKit calls", n)
	}
	if _, err := m.Ban(context.Background(), "acme", "standup", "bob", lkgate.MaxBanDuration); err != nil {
		t.Errorf("Ban for MaxBanDuration: %v", err)
	}
}

// failingBans is a BanStore that is down.
type failingBans struct{}

var errBansDown = errors.New("redis: connection refused password=hunter2")

func (failingBans) Ban(context.Context, string, string, string, time.Time) error { return errBansDown }
func (failingBans) Unban(context.Context, string, string, string) error          { return errBansDown }
func (failingBans) BannedUntil(context.Context, string, string, string, time.Time) (time.Time, error) {
	return time.Time{}, errBansDown
}
func (failingBans) Bans(context.Context, time.Time) ([]lkgate.Ban, error) { return nil, errBansDown }

// A ban store that fails fails closed: a ban is an error and removes no
// one, a token is refused (ErrUnavailable) and the guard reports the
// failure, so that LiveKit retries the webhook.
func TestBanStoreFailureFailsClosed(t *testing.T) {
	m, fake := newManager(t, lkgate.Config{Bans: failingBans{}})
	ctx := context.Background()
	if _, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: "standup", Identity: "bob"}); !errors.Is(err, lkgate.ErrUnavailable) {
		t.Errorf("token while the ban store is down: %v", err)
	}
	standup := lkName(t, m, "acme", "standup")
	bob := fake.AddParticipant(standup, lkgatetest.Participant{Identity: "bob", Attributes: map[string]string{lkgate.TenantAttribute: "acme"}})
	if _, err := m.Ban(ctx, "acme", "standup", "bob", time.Hour); !errors.Is(err, lkgate.ErrUnavailable) {
		t.Errorf("Ban while the store is down: %v", err)
	} else if errors.Is(err, errBansDown) {
		t.Error("the store's error reached the caller")
	}
	if _, ok := fake.Participant(standup, "bob"); !ok {
		t.Error("a ban that was not recorded removed bob")
	}
	room, _ := fake.Room(standup)
	if _, err := m.GuardJoin(ctx, joinEvent(room, bob)); !errors.Is(err, lkgate.ErrUnavailable) {
		t.Errorf("guard while the ban store is down: %v", err)
	}
}

// DeleteRoom ends the meeting for everyone in the tenant's room; another
// tenant's room answers as a missing one, and under SharedNames the name
// stays leased to its owner.
func TestDeleteRoom(t *testing.T) {
	forEachNaming(t, func(t *testing.T, naming lkgate.RoomNaming) {
		m, fake := newManager(t, lkgate.Config{RoomNames: naming})
		ctx := context.Background()
		if _, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: "standup", Identity: "alice"}); err != nil {
			t.Fatal(err)
		}
		standup := lkName(t, m, "acme", "standup")
		for _, id := range []string{"alice", "bob"} {
			fake.AddParticipant(standup, lkgatetest.Participant{Identity: id, Attributes: map[string]string{lkgate.TenantAttribute: "acme"}})
		}
		// The same answer, but for the name the caller gave.
		foreign := m.DeleteRoom(ctx, "globex", "standup")
		if !errors.Is(foreign, lkgate.ErrNotFound) {
			t.Fatalf("globex deletes acme's standup: %v", foreign)
		}
		for _, tt := range []struct{ tenant, room string }{{"globex", "standup"}, {"acme", "standup2"}, {"globex", "standup2"}} {
			err := m.DeleteRoom(ctx, tt.tenant, tt.room)
			if !errors.Is(err, lkgate.ErrNotFound) {
				t.Errorf("%s deletes %s: %v", tt.tenant, tt.room, err)
			} else if got, want := strings.ReplaceAll(err.Error(), "standup2", "standup"), foreign.Error(); got != want {
				t.Errorf("%s deletes %s: %q, another tenant's room %q", tt.tenant, tt.room, got, want)
			}
		}
		if len(fake.Participants(standup)) != 2 {
			t.Fatal("a refused delete removed participants")
		}
		if err := m.DeleteRoom(ctx, "acme", "standup"); err != nil {
			t.Fatal(err)
		}
		if _, ok := fake.Room(standup); ok {
			t.Error("the room is still open")
		}
		if naming == lkgate.SharedNames {
			if _, err := m.Token(ctx, "globex", lkgate.TokenRequest{Room: "standup", Identity: "g"}); !errors.Is(err, lkgate.ErrForbidden) {
				t.Errorf("globex takes the deleted room's name while acme's lease lives: %v", err)
			}
		}
	})
}

// staleList is a BanStore whose list also shows the bans stale, lifted
// since, as a store whose list trails its bans may.
type staleList struct {
	lkgate.BanStore
	stale []lkgate.Ban
}

func (s staleList) Bans(ctx context.Context, now time.Time) ([]lkgate.Ban, error) {
	bans, err := s.BanStore.Bans(ctx, now)
	return append(bans, s.stale...), err
}

// A banned identity back in its room unseen by the guard (a client that
// only signals, or no webhooks) is removed by the ban sweep: of that room
// of that tenant only, and only while the store says it is banned. With
// no ban the sweep makes no LiveKit call.
func TestSweepBansRemovesBannedParticipants(t *testing.T) {
	forEachNaming(t, func(t *testing.T, naming lkgate.RoomNaming) {
		log := &auditLog{}
		bans := lkgate.NewMemoryBanStore(nil)
		m, fake := newManager(t, lkgate.Config{RoomNames: naming, Auditor: log, BanSweepInterval: -1,
			Bans: staleList{BanStore: bans}})
		ctx := context.Background()
		fake.ResetCalls()
		if n, err := m.SweepBans(ctx); n != 0 || err != nil {
			t.Fatalf("sweep without bans: %d, %v", n, err)
		}
		if n := fake.TotalCalls(); n != 0 {
			t.Errorf("a sweep without bans made %d LiveKit calls", n)
		}
		for _, tenant := range []string{"acme", "globex"} {
			if _, err := m.Token(ctx, tenant, lkgate.TokenRequest{Room: "standup-" + tenant, Identity: "bob"}); err != nil {
				t.Fatal(err)
			}
		}
		acme, globex := lkName(t, m, "acme", "standup-acme"), lkName(t, m, "globex", "standup-globex")
		if _, err := m.Ban(ctx, "acme", "standup-acme", "bob", time.Hour); err != nil {
			t.Fatal(err)
		}
		// Back in acme's room unseen, and in globex's, with carol.
		for _, room := range []string{acme, globex} {
			for _, id := range []string{"bob", "carol"} {
				fake.AddParticipant(room, lkgatetest.Participant{Identity: id})
			}
		}
		log.take()
		fake.ResetCalls()
		if n, err := m.SweepBans(ctx); n != 1 || err != nil {
			t.Fatalf("sweep: removed %d, %v; want bob", n, err)
		}
		if got, want := fake.TotalCalls(), 3; got != want { // ListRooms by name, ListParticipants, RemoveParticipant
			t.Errorf("the sweep made %d LiveKit calls, want %d", got, want)
		}
		if _, ok := fake.Participant(acme, "bob"); ok {
			t.Error("the sweep left the banned bob in acme's room")
		}
		for _, stays := range [][2]string{{acme, "carol"}, {globex, "bob"}, {globex, "carol"}} {
			if _, ok := fake.Participant(stays[0], stays[1]); !ok {
				t.Errorf("the sweep removed %s from %s", stays[1], stays[0])
			}
		}
		evs := log.take()
		if len(evs) != 1 || evs[0].Action != lkgate.ActionGuardRemove || evs[0].Tenant != "acme" || evs[0].Room != "standup-acme" ||
			evs[0].Target != "bob" || evs[0].Subject != "lkgate" || evs[0].Outcome != lkgate.OutcomeSuccess ||
			evs[0].Details["reason"] != "banned" || evs[0].Details["found_by"] != "ban_sweep" {
			t.Errorf("audit events %+v, want bob's removal from acme's standup", evs)
		}

		// A ban the list still shows but the store has lifted removes no one.
		fake.AddParticipant(acme, lkgatetest.Participant{Identity: "bob"})
		if err := m.Unban(ctx, "acme", "standup-acme", "bob"); err != nil {
			t.Fatal(err)
		}
		m2, _ := newManagerOn(t, fake, lkgate.Config{RoomNames: naming, Auditor: log, BanSweepInterval: -1,
			Bans: staleList{BanStore: bans, stale: []lkgate.Ban{{Tenant: "acme", Room: acme, Identity: "bob", Until: time.Now().Add(time.Hour)}}}})
		log.take()
		if n, err := m2.SweepBans(ctx); n != 0 || err != nil {
			t.Errorf("sweep of a lifted ban: removed %d, %v", n, err)
		}
		if _, ok := fake.Participant(acme, "bob"); !ok {
			t.Error("the sweep removed bob after his ban was lifted")
		}
		if evs := log.take(); len(evs) != 0 {
			t.Errorf("a sweep that removed no one audited %+v", evs)
		}
	})
}

// Under SharedNames a ban holds in its tenant's room: once the name is
// another tenant's, the sweep leaves the identity in it.
func TestSweepBansOnlyInTheTenantsRoom(t *testing.T) {
	m, fake := newManager(t, lkgate.Config{RoomNames: lkgate.SharedNames, BanSweepInterval: -1})
	ctx := context.Background()
	if _, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: "standup", Identity: "alice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Ban(ctx, "acme", "standup", "bob", time.Hour); err != nil {
		t.Fatal(err)
	}
	// The room closed and globex's tool opened it under the name.
	admin := lkgate.NewRoomService(fake.URL(), lkgatetest.APIKey, lkgatetest.APISecret)
	if _, err := admin.DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: "standup"}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "standup", Metadata: `{"auth_id":"globex"}`}); err != nil {
		t.Fatal(err)
	}
	fake.AddParticipant("standup", lkgatetest.Participant{Identity: "bob"})
	if n, err := m.SweepBans(ctx); n != 0 || err != nil {
		t.Errorf("sweep: removed %d, %v; want no one", n, err)
	}
	if _, ok := fake.Participant("standup", "bob"); !ok {
		t.Error("acme's ban removed bob from globex's room")
	}
}

// The Manager sweeps by itself every BanSweepInterval, and refuses an
// interval under a second; a failing store fails the sweep with
// ErrUnavailable and no LiveKit call.
func TestBanSweepRunsAndFails(t *testing.T) {
	if _, err := lkgate.New(lkgate.Config{URL: "http://127.0.0.1:1", APIKey: "k", APISecret: strings.Repeat("s", 32), BanSweepInterval: time.Millisecond}); !errors.Is(err, lkgate.ErrInvalidArgument) || !strings.Contains(err.Error(), "BanSweepInterval") {
		t.Errorf("a 1 ms interval: %v", err)
	}
	m, fake := newManager(t, lkgate.Config{BanSweepInterval: time.Second})
	ctx := context.Background()
	standup := lkName(t, m, "acme", "standup")
	if _, err := m.Ban(ctx, "acme", "standup", "bob", time.Hour); err != nil {
		t.Fatal(err)
	}
	fake.AddParticipant(standup, lkgatetest.Participant{Identity: "bob"})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, ok := fake.Participant(standup, "bob"); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the background sweep did not remove bob within 10 s")
		}
	}

	down, fake2 := newManager(t, lkgate.Config{Bans: failingBans{}, BanSweepInterval: -1})
	fake2.ResetCalls()
	if _, err := down.SweepBans(ctx); !errors.Is(err, lkgate.ErrUnavailable) || errors.Is(err, errBansDown) {
		t.Errorf("sweep while the store is down: %v", err)
	}
	if n := fake2.TotalCalls(); n != 0 {
		t.Errorf("a failed sweep made %d LiveKit calls", n)
	}
}

// A tenant holds at most MaxBans bans in force (DefaultMaxBans when
// unset): one more is refused before anything is recorded or removed, a
// ban replaced keeps its place, and an unban or a ban's end frees one.
// Other tenants' bans are their own.
func TestMaxBans(t *testing.T) {
	clk := lkgatetest.NewClock(time.Now())
	m, fake := newManager(t, lkgate.Config{Now: clk.Now, BanSweepInterval: -1, Limits: lkgate.LimitConfig{
		Tenant: func(tenant string) (lkgate.Limits, bool) { return lkgate.Limits{MaxBans: 2}, tenant == "acme" }}})
	ctx := context.Background()
	ban := func(tenant, identity string, d time.Duration) error {
		_, err := m.Ban(ctx, tenant, "standup", identity, d)
		return err
	}
	for _, id := range []string{"bob", "carol"} {
		if err := ban("acme", id, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if err := ban("acme", "bob", 2*time.Hour); err != nil {
		t.Errorf("replacing bob's ban: %v", err)
	}
	standup := lkName(t, m, "acme", "standup")
	fake.AddParticipant(standup, lkgatetest.Participant{Identity: "dave"})
	fake.ResetCalls()
	err := ban("acme", "dave", time.Hour)
	if e := (*lkgate.Error)(nil); !errors.As(err, &e) || e.Kind != lkgate.ErrLimited || e.Limit != lkgate.LimitMaxBans || e.RetryAfter <= 0 {
		t.Fatalf("a third ban: %v, want ErrLimited on max_bans", err)
	}
	if n := fake.TotalCalls(); n != 0 {
		t.Errorf("the refused ban made %d LiveKit calls", n)
	}
	if _, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: "standup", Identity: "dave"}); err != nil {
		t.Errorf("the refused ban was recorded: %v", err)
	}
	if err := m.Unban(ctx, "acme", "standup", "carol"); err != nil {
		t.Fatal(err)
	}
	if err := ban("acme", "dave", time.Minute); err != nil {
		t.Errorf("a ban after an unban: %v", err)
	}
	clk.Advance(time.Minute + time.Second)
	if err := ban("acme", "erin", time.Hour); err != nil {
		t.Errorf("a ban after dave's ended: %v", err)
	}
	for i := range lkgate.DefaultMaxBans {
		if err := ban("globex", fmt.Sprint("p", i), time.Hour); err != nil {
			t.Fatalf("globex's ban %d of its default %d: %v", i+1, lkgate.DefaultMaxBans, err)
		}
	}
	if err := ban("globex", "one-more", time.Hour); !errors.Is(err, lkgate.ErrLimited) {
		t.Errorf("globex's ban over DefaultMaxBans: %v", err)
	}
}

// A room with one ban is asked for that participant alone, whose answer
// does not grow with the room; a room with several, for its list once.
func TestSweepBansLooksUpOneBanAlone(t *testing.T) {
	m, fake := newManager(t, lkgate.Config{BanSweepInterval: -1})
	ctx := context.Background()
	standup := lkName(t, m, "acme", "standup")
	for i := range 50 {
		fake.AddParticipant(standup, lkgatetest.Participant{Identity: fmt.Sprint("viewer-", i)})
	}
	sweep := func(want int) {
		t.Helper()
		fake.ResetCalls()
		if n, err := m.SweepBans(ctx); n != want || err != nil {
			t.Fatalf("sweep: removed %d, %v; want %d", n, err, want)
		}
	}
	if _, err := m.Ban(ctx, "acme", "standup", "bob", time.Hour); err != nil {
		t.Fatal(err)
	}
	sweep(0) // bob is not back
	if g, l := fake.Calls("GetParticipant"), fake.Calls("ListParticipants"); g != 1 || l != 0 {
		t.Errorf("one ban, absent: %d GetParticipant and %d ListParticipants, want 1 and 0", g, l)
	}
	fake.AddParticipant(standup, lkgatetest.Participant{Identity: "bob"})
	sweep(1)
	if g, l := fake.Calls("GetParticipant"), fake.Calls("ListParticipants"); g != 1 || l != 0 {
		t.Errorf("one ban, present: %d GetParticipant and %d ListParticipants, want 1 and 0", g, l)
	}
	for _, id := range []string{"bob", "carol"} {
		fake.AddParticipant(standup, lkgatetest.Participant{Identity: id})
		if _, err := m.Ban(ctx, "acme", "standup", id, time.Hour); err != nil {
			t.Fatal(err)
		}
		fake.AddParticipant(standup, lkgatetest.Participant{Identity: id})
	}
	sweep(2)
	if g, l := fake.Calls("GetParticipant"), fake.Calls("ListParticipants"); g != 0 || l != 1 {
		t.Errorf("two bans: %d GetParticipant and %d ListParticipants, want 0 and 1", g, l)
	}
	if n := len(fake.Participants(standup)); n != 50 {
		t.Errorf("%d participants left, want the 50 viewers", n)
	}
}
