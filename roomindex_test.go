package lkgate_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/internal/counting"
	"github.com/lkgate/lkgate/lkgatetest"
)

// indexEnv is a Manager on the fake with a memory room index that only
// the test reconciles, and a clock the test moves.
type indexEnv struct {
	m     *lkgate.Manager
	fake  *lkgatetest.Server
	index lkgate.RoomIndex
	calls *counting.ListNames
	clk   *lkgatetest.Clock
}

func newIndexEnv(t *testing.T, cfg lkgate.Config) *indexEnv {
	t.Helper()
	fake := lkgatetest.NewServer(t)
	e := &indexEnv{fake: fake, clk: lkgatetest.NewClock(time.Now())}
	e.calls = &counting.ListNames{RoomService: lkgate.NewRoomService(fake.URL(), lkgatetest.APIKey, lkgatetest.APISecret)}
	e.index = lkgate.NewMemoryRoomIndex(e.clk.Now)
	cfg.RoomService, cfg.RoomIndex, cfg.Now = e.calls, e.index, e.clk.Now
	if cfg.RoomIndexReconcile == 0 {
		cfg.RoomIndexReconcile = -1
	}
	e.m, _ = newManagerOn(t, fake, cfg)
	e.calls.Take()
	return e
}

// admin reaches the fake as another tool would.
func (e *indexEnv) admin() lkgate.RoomService {
	return lkgate.NewRoomService(e.fake.URL(), lkgatetest.APIKey, lkgatetest.APISecret)
}

// indexed returns the tenant's index entries, as sorted LiveKit names.
func (e *indexEnv) indexed(t *testing.T, tenant string) []string {
	t.Helper()
	rs, err := e.index.Rooms(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, r := range rs {
		names = append(names, r.Name)
	}
	slices.Sort(names)
	return names
}

// outside creates rooms on LiveKit as a participant's join or another tool
// would, unseen by lkgate: tenants' scoped rooms and unscoped ones.
func (e *indexEnv) outside(names ...string) {
	for _, n := range names {
		e.fake.AddParticipant(n, lkgatetest.Participant{Identity: "outsider"})
	}
}

func (e *indexEnv) reconcile(t *testing.T) lkgate.ReconcileResult {
	t.Helper()
	res, err := e.m.ReconcileRoomIndex(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (e *indexEnv) event(t *testing.T, kind string, r *livekit.Room) {
	t.Helper()
	if err := e.m.IndexRoomEvent(context.Background(), &livekit.WebhookEvent{Event: kind, Room: r}); err != nil {
		t.Fatal(err)
	}
}

// With a room index, a tenant's list is one ListRooms for its own names,
// never an unfiltered one, whatever other tenants and tools have.
func TestRoomIndexListCostsTheTenantsRooms(t *testing.T) {
	forEachNaming(t, func(t *testing.T, naming lkgate.RoomNaming) {
		e := newIndexEnv(t, lkgate.Config{RoomNames: naming, PrecreateRooms: naming == lkgate.ScopedNames})
		for i := range 3 {
			if err := token(e.m, "acme", fmt.Sprint("room-", i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := token(e.m, "globex", "room-0"+map[lkgate.RoomNaming]string{lkgate.SharedNames: "-g"}[naming]); err != nil {
			t.Fatal(err)
		}
		for i := range 50 {
			e.outside(fmt.Sprint("other-", i), scoped(t, fmt.Sprint("t", i), "x"))
		}
		e.calls.Take()
		if got, want := listNames(t, e.m, "acme"), []string{"room-0", "room-1", "room-2"}; !slices.Equal(got, want) {
			t.Errorf("acme lists %v, want %v", got, want)
		}
		if got := e.calls.Take(); !slices.Equal(got, []int{3}) {
			t.Errorf("acme's list made ListRooms calls naming %v rooms, want one call naming 3 (0: unfiltered)", got)
		}
	})
}

// A tenant's room quota is counted from LiveKit's answer for the tenant's
// names: no unfiltered ListRooms, and the limit holds.
func TestRoomIndexQuotaCountsByName(t *testing.T) {
	e := newIndexEnv(t, lkgate.Config{Limits: lkgate.LimitConfig{Default: lkgate.Limits{MaxRooms: 2}}})
	for i := range 50 {
		e.outside(fmt.Sprint("other-", i), scoped(t, fmt.Sprint("t", i), "x"))
	}
	for _, room := range []string{"a", "b"} {
		if err := tokenFor(e.m, "acme", room); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range e.calls.Take() {
		if n == 0 {
			t.Fatal("a token under a room quota made an unfiltered ListRooms")
		}
	}
	err := tokenFor(e.m, "acme", "c")
	if !errors.Is(err, lkgate.ErrLimited) {
		t.Fatalf("a third room: %v, want ErrLimited", err)
	}
	// The look-up of c, then the count: c and the two rooms by name.
	if got := e.calls.Take(); !slices.Equal(got, []int{1, 3}) {
		t.Errorf("the refused token made ListRooms calls naming %v rooms, want [1 3]", got)
	}
	// A room of the tenant's made by a participant's join counts once
	// its webhook (here: the reconciliation) puts it in the index.
	if err := e.m.DeleteRoom(context.Background(), "acme", "a"); err != nil {
		t.Fatal(err)
	}
	e.outside(scoped(t, "acme", "joined"))
	e.reconcile(t)
	if err := tokenFor(e.m, "acme", "c"); !errors.Is(err, lkgate.ErrLimited) {
		t.Errorf("a room over the quota with a joined room indexed: %v, want ErrLimited", err)
	}
}

// LiveKit's list trails a creation, by name as unfiltered: a count right
// after a creation still counts the room (settle), with an index too.
func TestRoomIndexQuotaCountsARoomTheListTrails(t *testing.T) {
	e := newIndexEnv(t, lkgate.Config{Limits: lkgate.LimitConfig{Default: lkgate.Limits{MaxRooms: 1}}, RequestTimeout: 200 * time.Millisecond})
	e.fake.SetListLag(time.Minute)
	if err := tokenFor(e.m, "acme", "a"); err != nil {
		t.Fatal(err)
	}
	if err := tokenFor(e.m, "acme", "b"); !errors.Is(err, lkgate.ErrLimited) {
		t.Errorf("a second room while the list trails the first: %v, want ErrLimited", err)
	}
}

// Lost, duplicated and reordered webhooks leave the index wrong until the
// reconciliation, which repairs it: rooms added, ended ones removed.
func TestRoomIndexReconcileRepairsWebhooks(t *testing.T) {
	e := newIndexEnv(t, lkgate.Config{})
	lk := func(room string) string { return scoped(t, "acme", room) }
	e.outside(lk("dup"), lk("lost"), lk("reordered"), lk("ended"), lk(lkgate.LobbyPrefix+"guest"))
	room := func(name string) *livekit.Room {
		r, ok := e.fake.Room(lk(name))
		if !ok {
			t.Fatalf("no room %s", name)
		}
		return r
	}
	dup, reordered, ended := room("dup"), room("reordered"), room("ended")
	e.event(t, "room_started", dup)
	e.event(t, "room_started", dup)
	e.event(t, "room_started", ended)
	if _, err := e.admin().DeleteRoom(context.Background(), &livekit.DeleteRoomRequest{Room: lk("ended")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin().DeleteRoom(context.Background(), &livekit.DeleteRoomRequest{Room: lk("reordered")}); err != nil {
		t.Fatal(err)
	}
	e.event(t, "room_finished", reordered)
	e.event(t, "room_started", reordered) // late
	// ended's room_finished and lost's room_started never arrive, nor the
	// room_finished of globex's only room.
	gone := lkgate.IndexedRoom{Name: scoped(t, "globex", "gone"), SID: "RM_gone", Started: e.clk.Now()}
	if err := e.index.Started(context.Background(), "globex", gone); err != nil {
		t.Fatal(err)
	}
	if got, want := listNames(t, e.m, "acme"), []string{"dup"}; !slices.Equal(got, want) {
		t.Errorf("before the reconciliation acme lists %v, want %v", got, want)
	}
	if got, want := e.indexed(t, "acme"), []string{lk("dup"), lk("ended")}; !slices.Equal(got, want) {
		t.Errorf("before the reconciliation the index holds %v, want %v", got, want)
	}
	e.clk.Advance(2 * time.Minute) // past LiveKit's list lag
	if res := e.reconcile(t); res != (lkgate.ReconcileResult{Added: 2, Removed: 2}) {
		t.Errorf("reconciliation: %+v, want lost and the lobby added, ended and gone removed", res)
	}
	if got := e.indexed(t, "globex"); len(got) != 0 {
		t.Errorf("globex, which LiveKit lists no room of, keeps %v", got)
	}
	if got, want := e.indexed(t, "acme"), []string{lk("dup"), lk(lkgate.LobbyPrefix + "guest"), lk("lost")}; !slices.Equal(got, want) {
		t.Errorf("after the reconciliation the index holds %v, want %v", got, want)
	}
	if got, want := listNames(t, e.m, "acme"), []string{"dup", "lost"}; !slices.Equal(got, want) {
		t.Errorf("after the reconciliation acme lists %v, want %v", got, want)
	}
}

// A name the index holds for a tenant that is another tenant's room, or
// no tenant's, is never listed: LiveKit's answer is filtered by the
// tenant's rules as without an index.
func TestRoomIndexForgedEntryNeverListed(t *testing.T) {
	forEachNaming(t, func(t *testing.T, naming lkgate.RoomNaming) {
		e := newIndexEnv(t, lkgate.Config{RoomNames: naming, PrecreateRooms: naming == lkgate.ScopedNames})
		if err := token(e.m, "acme", "mine"); err != nil {
			t.Fatal(err)
		}
		if err := token(e.m, "globex", "secret"); err != nil {
			t.Fatal(err)
		}
		e.outside("unscoped")
		for _, name := range []string{lkName(t, e.m, "globex", "secret"), "unscoped"} {
			r, ok := e.fake.Room(name)
			if !ok {
				t.Fatalf("no room %s", name)
			}
			if err := e.index.Started(context.Background(), "acme", lkgate.IndexedRoom{Name: name, SID: r.GetSid(), Started: time.Unix(r.GetCreationTime(), 0)}); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := listNames(t, e.m, "acme"), []string{"mine"}; !slices.Equal(got, want) {
			t.Errorf("acme lists %v, want %v", got, want)
		}
	})
}

// An entry LiveKit does not return is finished in the index once it is
// older than LiveKit's list lag (read repair), and kept while younger.
func TestRoomIndexReadRepair(t *testing.T) {
	e := newIndexEnv(t, lkgate.Config{})
	ctx := context.Background()
	gone := func(room string, age time.Duration) lkgate.IndexedRoom {
		return lkgate.IndexedRoom{Name: scoped(t, "acme", room), SID: "RM_" + room, Started: e.clk.Now().Add(-age)}
	}
	for _, r := range []lkgate.IndexedRoom{gone("old", 2*time.Minute), gone("young", 0)} {
		if err := e.index.Started(ctx, "acme", r); err != nil {
			t.Fatal(err)
		}
	}
	if got := listNames(t, e.m, "acme"); len(got) != 0 {
		t.Errorf("acme lists %v, want nothing", got)
	}
	if got, want := e.indexed(t, "acme"), []string{scoped(t, "acme", "young")}; !slices.Equal(got, want) {
		t.Errorf("after a list the index holds %v, want %v", got, want)
	}
}

// The Manager's own creations and deletions write the index at once.
func TestRoomIndexFedByTheManager(t *testing.T) {
	forEachNaming(t, func(t *testing.T, naming lkgate.RoomNaming) {
		e := newIndexEnv(t, lkgate.Config{RoomNames: naming, PrecreateRooms: naming == lkgate.ScopedNames})
		if err := token(e.m, "acme", "a"); err != nil {
			t.Fatal(err)
		}
		if got, want := e.indexed(t, "acme"), []string{lkName(t, e.m, "acme", "a")}; !slices.Equal(got, want) {
			t.Errorf("after a creation the index holds %v, want %v", got, want)
		}
		if err := e.m.DeleteRoom(context.Background(), "acme", "a"); err != nil {
			t.Fatal(err)
		}
		if got := e.indexed(t, "acme"); len(got) != 0 {
			t.Errorf("after a deletion the index holds %v", got)
		}
	})
}

// failingIndex is a RoomIndex whose every call fails.
type failingIndex struct{ lkgate.RoomIndex }

var errIndexDown = errors.New("index down")

func (failingIndex) Started(context.Context, string, lkgate.IndexedRoom) error  { return errIndexDown }
func (failingIndex) Finished(context.Context, string, lkgate.IndexedRoom) error { return errIndexDown }
func (failingIndex) Rooms(context.Context, string) ([]lkgate.IndexedRoom, error) {
	return nil, errIndexDown
}
func (failingIndex) Room(context.Context, string, string) (lkgate.IndexedRoom, bool, error) {
	return lkgate.IndexedRoom{}, false, errIndexDown
}

// An index failure on the Manager's own write is logged, not the
// operation's; a webhook's or a read's is ErrUnavailable.
func TestRoomIndexFailures(t *testing.T) {
	fake := lkgatetest.NewServer(t)
	m, _ := newManagerOn(t, fake, lkgate.Config{PrecreateRooms: true, RoomIndex: failingIndex{}, RoomIndexReconcile: -1})
	if err := token(m, "acme", "a"); err != nil {
		t.Errorf("a token whose room the index failed to record: %v", err)
	}
	if err := m.DeleteRoom(context.Background(), "acme", "a"); err != nil {
		t.Errorf("a deletion the index failed to record: %v", err)
	}
	r := &livekit.Room{Name: scoped(t, "acme", "a"), Sid: "RM_a"}
	if err := m.IndexRoomEvent(context.Background(), &livekit.WebhookEvent{Event: "room_started", Room: r}); !errors.Is(err, lkgate.ErrUnavailable) {
		t.Errorf("IndexRoomEvent with the index down: %v, want ErrUnavailable", err)
	}
	if _, err := m.ListRooms(context.Background(), "acme"); !errors.Is(err, lkgate.ErrUnavailable) {
		t.Errorf("ListRooms with the index down: %v, want ErrUnavailable", err)
	}
}

// Without an index, IndexRoomEvent and ReconcileRoomIndex do nothing, and
// a list is today's shared unfiltered one.
func TestRoomIndexNil(t *testing.T) {
	m, fake := newManager(t, lkgate.Config{})
	r := &livekit.Room{Name: scoped(t, "acme", "a"), Sid: "RM_a"}
	if err := m.IndexRoomEvent(context.Background(), &livekit.WebhookEvent{Event: "room_started", Room: r}); err != nil {
		t.Error(err)
	}
	if res, err := m.ReconcileRoomIndex(context.Background()); err != nil || res != (lkgate.ReconcileResult{}) {
		t.Errorf("ReconcileRoomIndex = %+v, %v", res, err)
	}
	if n := fake.TotalCalls(); n != 0 {
		t.Errorf("%d LiveKit calls without an index", n)
	}
}

// The Manager reconciles at start, so that an index that starts empty
// (NewMemoryRoomIndex after a restart) learns the rooms that exist.
func TestRoomIndexReconciledAtStart(t *testing.T) {
	fake := lkgatetest.NewServer(t)
	fake.AddParticipant(scoped(t, "acme", "before"), lkgatetest.Participant{Identity: "p"})
	m := fake.NewManager(t, lkgate.Config{RoomIndex: lkgate.NewMemoryRoomIndex(nil)})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got := listNames(t, m, "acme"); slices.Equal(got, []string{"before"}) {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("acme lists %v 10 s after start, want [before]", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A tenant with more rooms than one request names is listed in chunks,
// each by name.
func TestRoomIndexListInChunks(t *testing.T) {
	e := newIndexEnv(t, lkgate.Config{})
	const n = 1001
	var want []string
	for i := range n {
		name := fmt.Sprintf("r%04d", i)
		want = append(want, name)
		e.outside(scoped(t, "acme", name))
	}
	e.reconcile(t)
	e.calls.Take()
	if diff := cmp.Diff(want, listNames(t, e.m, "acme")); diff != "" {
		t.Errorf("acme's list (-want +got):\n%s", diff)
	}
	if got := e.calls.Take(); !slices.Equal(got, []int{1000, 1}) {
		t.Errorf("ListRooms calls naming %v rooms, want [1000 1]", got)
	}
}

func TestRoomIndexReconcileValidation(t *testing.T) {
	_, err := lkgate.New(lkgate.Config{URL: "http://lk", APIKey: "k", APISecret: lkgatetest.APISecret, RoomIndexReconcile: time.Second})
	if !errors.Is(err, lkgate.ErrInvalidArgument) {
		t.Errorf("RoomIndexReconcile 1s: %v, want ErrInvalidArgument", err)
	}
}

// A room the index holds and LiveKit's list does not show yet, younger
// than LiveKit's list lag, is kept by the reconciliation.
func TestRoomIndexReconcileKeepsYoungRooms(t *testing.T) {
	e := newIndexEnv(t, lkgate.Config{PrecreateRooms: true, RequestTimeout: 200 * time.Millisecond})
	e.fake.SetListLag(time.Minute)
	if err := token(e.m, "acme", "new"); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(30 * time.Second)
	if res := e.reconcile(t); res != (lkgate.ReconcileResult{}) {
		t.Errorf("reconciliation: %+v, want nothing changed", res)
	}
	if got, want := e.indexed(t, "acme"), []string{scoped(t, "acme", "new")}; !slices.Equal(got, want) {
		t.Errorf("the index holds %v, want %v", got, want)
	}
}

// Guests' lobbies are indexed as their tenant's when lkgate opens them,
// counted for the guest caps by name, and finished in the index when
// lkgate closes an expired one.
func TestRoomIndexGuestLobbies(t *testing.T) {
	forEachNaming(t, func(t *testing.T, naming lkgate.RoomNaming) {
		e := newIndexEnv(t, lkgate.Config{RoomNames: naming, Limits: lkgate.LimitConfig{Default: lkgate.Limits{MaxWaitingGuestsPerRoom: 1}}})
		guests := newGuests(t, e.m)
		ctx := context.Background()
		inv, err := guests.Invite(ctx, "acme", lkgate.InviteRequest{Org: "acme", Room: "standup", AllowAll: true, Duration: 2 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		old, err := guests.RoomAuth(ctx, inv.Token, "Forgotten")
		if err != nil {
			t.Fatal(err)
		}
		if got := e.indexed(t, "acme"); !slices.Contains(got, old.LobbyRoom) {
			t.Errorf("the index holds %v, not the new lobby %s", got, old.LobbyRoom)
		}
		e.calls.Take()
		wantLimited(t, mustFail(guests.RoomAuth(ctx, inv.Token, "New")), lkgate.LimitMaxWaitingGuestsPerRoom)
		if got := e.calls.Take(); slices.Contains(got, 0) {
			t.Errorf("a guest count made ListRooms calls naming %v rooms (0: unfiltered)", got)
		}
		e.clk.Advance(lkgate.DefaultLobbyTTL + time.Minute + 2*time.Second)
		s, err := guests.RoomAuth(ctx, inv.Token, "New")
		if err != nil {
			t.Fatal(err)
		}
		got := e.indexed(t, "acme")
		if slices.Contains(got, old.LobbyRoom) || !slices.Contains(got, s.LobbyRoom) {
			t.Errorf("after the expired lobby closed the index holds %v, want %s and not %s", got, s.LobbyRoom, old.LobbyRoom)
		}
	})
}

// With a room index under ScopedNames, the waiting list asks LiveKit for
// the room's indexed lobbies by name, never for every room, and finds a
// lobby that a guest's join re-created once its room_started webhook
// arrives; under SharedNames, where such a lobby has no owner to be
// indexed by, it stays one unfiltered list. A deny finishes the closed
// lobby's entry.
func TestRoomIndexWaitingGuests(t *testing.T) {
	forEachNaming(t, func(t *testing.T, naming lkgate.RoomNaming) {
		e := newIndexEnv(t, lkgate.Config{RoomNames: naming})
		guests := newGuests(t, e.m)
		ctx := lkgate.WithSubject(context.Background(), "host")
		inv, err := guests.Invite(ctx, "acme", lkgate.InviteRequest{Org: "acme", Room: "standup", AllowAll: true})
		if err != nil {
			t.Fatal(err)
		}
		wait := func(name string) *lkgate.GuestSession {
			s, err := guests.RoomAuth(ctx, inv.Token, name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.fake.Join(s.Token.JWT); err != nil {
				t.Fatal(err)
			}
			return s
		}
		waitingNow := func() []string {
			t.Helper()
			e.calls.Take()
			ws, err := guests.Waiting(ctx, "acme", "standup")
			if err != nil {
				t.Fatal(err)
			}
			want := []int{1, 0} // the owner's check, then every room
			if naming == lkgate.ScopedNames {
				want = []int{len(ws)}
			}
			if got := e.calls.Take(); !slices.Equal(got, want) {
				t.Errorf("the waiting list made ListRooms calls naming %v rooms (0: unfiltered), want %v", got, want)
			}
			var names []string
			for _, w := range ws {
				names = append(names, w.Name)
			}
			slices.Sort(names)
			return names
		}
		eve, mallory := wait("Eve"), wait("Mallory")
		e.outside(scoped(t, "globex", "busy"), "unscoped")
		if got, want := waitingNow(), []string{"Eve", "Mallory"}; !slices.Equal(got, want) {
			t.Errorf("waiting: %v, want %v", got, want)
		}

		// Mallory's lobby closes and her client's rejoin re-creates it.
		old, _ := e.fake.Room(mallory.LobbyRoom)
		if _, err := e.admin().DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: mallory.LobbyRoom}); err != nil {
			t.Fatal(err)
		}
		e.event(t, "room_finished", old)
		if _, err := e.fake.Join(mallory.Token.JWT); err != nil {
			t.Fatal(err)
		}
		recreated, _ := e.fake.Room(mallory.LobbyRoom)
		e.event(t, "room_started", recreated)
		if got, want := waitingNow(), []string{"Eve", "Mallory"}; !slices.Equal(got, want) {
			t.Errorf("waiting after Mallory's lobby was re-created: %v, want %v", got, want)
		}

		if err := guests.Deny(ctx, "acme", "standup", eve.Identity); err != nil {
			t.Fatal(err)
		}
		if got := e.indexed(t, "acme"); slices.Contains(got, eve.LobbyRoom) {
			t.Errorf("after the deny closed Eve's lobby the index holds %v", got)
		}
		if got, want := waitingNow(), []string{"Mallory"}; !slices.Equal(got, want) {
			t.Errorf("waiting after the deny: %v, want %v", got, want)
		}
	})
}

// Without guest caps room-auth opens no lobby, the guest's join does, and
// no webhook may have indexed it yet: the waiting list then lists every
// room, and finds the guest.
func TestRoomIndexWaitingGuestsWithoutCaps(t *testing.T) {
	e := newIndexEnv(t, lkgate.Config{Limits: lkgate.LimitConfig{Default: lkgate.Limits{
		MaxWaitingGuestsPerRoom: lkgate.NoLimit, MaxWaitingGuests: lkgate.NoLimit}}})
	guests := newGuests(t, e.m)
	ctx := lkgate.WithSubject(context.Background(), "host")
	inv, err := guests.Invite(ctx, "acme", lkgate.InviteRequest{Org: "acme", Room: "standup", AllowAll: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := guests.RoomAuth(ctx, inv.Token, "Eve")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.fake.Join(s.Token.JWT); err != nil {
		t.Fatal(err)
	}
	e.calls.Take()
	ws, err := guests.Waiting(ctx, "acme", "standup")
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 1 || ws[0].Identity != s.Identity {
		t.Errorf("waiting: %+v, want Eve, whose join created her lobby", ws)
	}
	if got := e.calls.Take(); !slices.Equal(got, []int{0}) {
		t.Errorf("the waiting list made ListRooms calls naming %v rooms (0: unfiltered), want one unfiltered", got)
	}
}

// oneTenantFails is a RoomIndex whose Reconcile fails for one tenant.
type oneTenantFails struct {
	lkgate.RoomIndex
	tenant string
}

func (x oneTenantFails) Reconcile(ctx context.Context, tenant string, listed []lkgate.IndexedRoom, before time.Time) (lkgate.ReconcileResult, error) {
	if tenant == x.tenant {
		return lkgate.ReconcileResult{}, errIndexDown
	}
	return x.RoomIndex.Reconcile(ctx, tenant, listed, before)
}

// The index failing for one tenant fails the reconciliation, and every
// other tenant is reconciled all the same.
func TestRoomIndexReconcileFailsForOneTenant(t *testing.T) {
	fake := lkgatetest.NewServer(t)
	index := lkgate.NewMemoryRoomIndex(nil)
	m, _ := newManagerOn(t, fake, lkgate.Config{RoomIndex: oneTenantFails{index, "t07"}, RoomIndexReconcile: -1})
	for i := range 20 {
		fake.AddParticipant(scoped(t, fmt.Sprintf("t%02d", i), "r"), lkgatetest.Participant{Identity: "p"})
	}
	res, err := m.ReconcileRoomIndex(context.Background())
	if !errors.Is(err, lkgate.ErrUnavailable) {
		t.Errorf("ReconcileRoomIndex: %v, want ErrUnavailable", err)
	}
	if res.Added != 19 {
		t.Errorf("%d rooms added, want the 19 of the other tenants", res.Added)
	}
	tenants, _ := index.Tenants(context.Background())
	if len(tenants) != 19 || slices.Contains(tenants, "t07") {
		t.Errorf("tenants in the index: %v", tenants)
	}
}
