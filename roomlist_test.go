package lkgate_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

// listNames is tenant's list, as sorted names.
func listNames(t *testing.T, m *lkgate.Manager, tenant string) []string {
	t.Helper()
	rooms, err := m.ListRooms(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, r := range rooms {
		names = append(names, r.Name)
	}
	slices.Sort(names)
	return names
}

// 100 concurrent list requests of 10 tenants, under both namings, cost one
// LiveKit call, and each tenant still sees only its own rooms.
func TestListRoomsConcurrentTenantsShareOneCall(t *testing.T) {
	forEachNaming(t, func(t *testing.T, naming lkgate.RoomNaming) {
		m, fake := newManager(t, lkgate.Config{RoomNames: naming, PrecreateRooms: naming == lkgate.ScopedNames, ListStaleness: time.Minute})
		want := map[string][]string{}
		for i := range 10 {
			tenant := fmt.Sprintf("tenant-%d", i)
			want[tenant] = []string{}
			for j := range i % 3 {
				room := fmt.Sprintf("room-%d-%d", i, j)
				if err := token(m, tenant, room); err != nil {
					t.Fatal(err)
				}
				want[tenant] = append(want[tenant], room)
			}
		}
		fake.ResetCalls()
		// Held, so that all 100 arrive while the one call is on its way.
		fake.SetDelay("ListRooms", 100*time.Millisecond)
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for i := range 100 {
			tenant := fmt.Sprintf("tenant-%d", i%10)
			wg.Go(func() {
				rooms, err := m.ListRooms(context.Background(), tenant)
				if err != nil {
					errs <- err
					return
				}
				got := []string{}
				for _, r := range rooms {
					got = append(got, r.Name)
				}
				slices.Sort(got)
				if diff := cmp.Diff(want[tenant], got); diff != "" {
					errs <- fmt.Errorf("%s sees (-want +got):\n%s", tenant, diff)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := fake.TotalCalls(); n != 1 {
			t.Errorf("100 concurrent list requests made %d LiveKit calls, want 1", n)
		}
	})
}

// An answer serves the requests within ListStaleness; past it, the next
// request asks LiveKit again. A room created outside lkgate (a
// participant's join) shows within ListStaleness, not at once.
func TestListRoomsStaleness(t *testing.T) {
	const staleness = 300 * time.Millisecond
	m, fake := newManager(t, lkgate.Config{ListStaleness: staleness})
	start := time.Now()
	listNames(t, m, "acme")
	if n := fake.Calls("ListRooms"); n != 1 {
		t.Fatalf("first list: %d calls, want 1", n)
	}
	if _, err := adminClient(fake).CreateRoom(context.Background(), &livekit.CreateRoomRequest{Name: scoped(t, "acme", "joined")}); err != nil {
		t.Fatal(err)
	}
	fake.ResetCalls()
	got := listNames(t, m, "acme")
	if time.Since(start) < staleness {
		if n := fake.TotalCalls(); n != 0 {
			t.Errorf("second list within the staleness: %d calls, want 0", n)
		}
		if len(got) != 0 {
			t.Errorf("a room created by a join showed before the staleness passed: %v", got)
		}
	}
	time.Sleep(staleness - time.Since(start) + 10*time.Millisecond)
	fake.ResetCalls()
	if got := listNames(t, m, "acme"); !slices.Equal(got, []string{"joined"}) {
		t.Errorf("after the staleness: %v, want [joined]", got)
	}
	if n := fake.TotalCalls(); n != 1 {
		t.Errorf("list after the staleness: %d calls, want 1", n)
	}
}

// A room this process creates, claims or deletes shows in the next list
// at once, however long the staleness.
func TestListRoomsShowsOwnWritesAtOnce(t *testing.T) {
	forEachNaming(t, func(t *testing.T, naming lkgate.RoomNaming) {
		m, _ := newManager(t, lkgate.Config{RoomNames: naming, PrecreateRooms: naming == lkgate.ScopedNames, ListStaleness: time.Minute})
		if got := listNames(t, m, "acme"); len(got) != 0 {
			t.Fatalf("before: %v", got)
		}
		if err := token(m, "acme", "standup"); err != nil {
			t.Fatal(err)
		}
		if got := listNames(t, m, "acme"); !slices.Equal(got, []string{"standup"}) {
			t.Errorf("after the token created it: %v, want [standup]", got)
		}
		if err := m.DeleteRoom(context.Background(), "acme", "standup"); err != nil {
			t.Fatal(err)
		}
		if got := listNames(t, m, "acme"); len(got) != 0 {
			t.Errorf("after DeleteRoom: %v, want none", got)
		}
	})
}

// A room quota's creation, which decides on its own fresh count, shows
// in the shared list at once too.
func TestListRoomsShowsQuotaCreationAtOnce(t *testing.T) {
	m, fake := newManager(t, lkgate.Config{ListStaleness: time.Minute, Limits: lkgate.LimitConfig{Default: lkgate.Limits{MaxRooms: 5}}})
	listNames(t, m, "acme")
	fake.ResetCalls()
	if err := token(m, "acme", "standup"); err != nil {
		t.Fatal(err)
	}
	if n := fake.Calls("ListRooms"); n == 0 {
		t.Error("the room quota counted on the shared list instead of its own read")
	}
	if got := listNames(t, m, "acme"); !slices.Equal(got, []string{"standup"}) {
		t.Errorf("after the quota created it: %v, want [standup]", got)
	}
}

// A failed LiveKit call is not kept: the next request asks again.
func TestListRoomsDoesNotCacheErrors(t *testing.T) {
	m, fake := newManager(t, lkgate.Config{ListStaleness: time.Minute, BreakerFailures: 100})
	fake.SetError("ListRooms", errors.New("down"))
	if _, err := m.ListRooms(context.Background(), "acme"); err == nil {
		t.Fatal("no error from a failing LiveKit")
	}
	fake.SetError("ListRooms", nil)
	fake.ResetCalls()
	if _, err := m.ListRooms(context.Background(), "acme"); err != nil {
		t.Fatalf("after LiveKit recovered: %v", err)
	}
	if n := fake.Calls("ListRooms"); n != 1 {
		t.Errorf("after an error: %d calls, want 1", n)
	}
}

// A waiting request whose call's maker gave up (its own short deadline)
// is not failed for it: it calls again.
func TestListRoomsWaiterOutlivesTheCallersDeadline(t *testing.T) {
	m, fake := newManager(t, lkgate.Config{ListStaleness: time.Minute})
	fake.SetDelay("ListRooms", 100*time.Millisecond)
	short, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	first := make(chan error, 1)
	go func() { _, err := m.ListRooms(short, "acme"); first <- err }()
	time.Sleep(10 * time.Millisecond)
	if _, err := m.ListRooms(context.Background(), "globex"); err != nil {
		t.Errorf("the waiter failed with the maker's deadline: %v", err)
	}
	if err := <-first; !errors.Is(err, lkgate.ErrTimeout) {
		t.Errorf("the maker with a 30 ms deadline: %v", err)
	}
}

func TestListStalenessConfig(t *testing.T) {
	fake := lkgatetest.NewServer(t)
	for _, d := range []time.Duration{-time.Nanosecond, lkgate.MaxListStaleness + 1} {
		_, err := lkgate.New(lkgate.Config{URL: fake.URL(), APIKey: lkgatetest.APIKey, APISecret: lkgatetest.APISecret, ListStaleness: d})
		var e *lkgate.Error
		if !errors.As(err, &e) || e.Field != "ListStaleness" {
			t.Errorf("ListStaleness %s: %v, want an error naming the field", d, err)
		}
	}
	// Zero means the 1 s default: two lists in a row share.
	m := fake.NewManager(t, lkgate.Config{})
	fake.ResetCalls()
	listNames(t, m, "acme")
	listNames(t, m, "acme")
	if n := fake.Calls("ListRooms"); n != 1 {
		t.Errorf("default staleness: %d calls for two lists, want 1", n)
	}
	// UnsharedListRooms: one call per request, as before.
	m = fake.NewManager(t, lkgate.Config{UnsharedListRooms: true})
	fake.ResetCalls()
	listNames(t, m, "acme")
	listNames(t, m, "acme")
	if n := fake.Calls("ListRooms"); n != 2 {
		t.Errorf("unshared: %d calls for two lists, want 2", n)
	}
}
