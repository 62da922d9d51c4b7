// Package roomindextest is the contract of lkgate.RoomIndex, which every
// implementation must pass: the in-process index (the root package's
// tests) and redislimit's RoomIndex run the same cases.
package roomindextest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/lkgate/lkgate"
)

// Run runs every case against a fresh index from newIndex. Indexes see
// Started times within a day of the real clock, to the second, as
// LiveKit's creation times are.
func Run(t *testing.T, newIndex func(t *testing.T) lkgate.RoomIndex) {
	cases := []struct {
		name string
		run  func(*testing.T, *checker)
	}{
		{"StartedThenFinished", startedThenFinished},
		{"Idempotent", idempotent},
		{"FinishedBeforeStarted", finishedBeforeStarted},
		{"FinishedOfAnotherSessionKeeps", finishedOfAnother},
		{"LaterSessionWins", laterSessionWins},
		{"LaterSessionWinsBySID", laterBySID},
		{"ReconcileAdds", reconcileAdds},
		{"ReconcileRemovesOnlyBefore", reconcileRemoves},
		{"ReconcileReplacesBySession", reconcileReplaces},
		{"ReconcileSkipsFinished", reconcileSkipsFinished},
		{"ReconcileEmptyTenant", reconcileEmpty},
		{"RoomByName", roomByName},
		{"Tenants", tenants},
		{"TenantsIsolated", isolated},
		{"ManyRooms", manyRooms},
		{"Concurrent", concurrent},
		{"ConcurrentSessionsOfOneName", concurrentSessions},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, &checker{t: t, x: newIndex(t), base: time.Now().Truncate(time.Second)})
		})
	}
}

// checker runs an index's methods, failing the test on errors.
type checker struct {
	t    *testing.T
	x    lkgate.RoomIndex
	base time.Time // the cases' "now", to the second
}

// room is the session sid of name, started d after base.
func (c *checker) room(name, sid string, d time.Duration) lkgate.IndexedRoom {
	return lkgate.IndexedRoom{Name: name, SID: sid, Started: c.base.Add(d)}
}

func (c *checker) started(tenant string, r lkgate.IndexedRoom) {
	c.t.Helper()
	if err := c.x.Started(context.Background(), tenant, r); err != nil {
		c.t.Fatalf("Started(%s, %s/%s): %v", tenant, r.Name, r.SID, err)
	}
}

func (c *checker) finished(tenant string, r lkgate.IndexedRoom) {
	c.t.Helper()
	if err := c.x.Finished(context.Background(), tenant, r); err != nil {
		c.t.Fatalf("Finished(%s, %s/%s): %v", tenant, r.Name, r.SID, err)
	}
}

func (c *checker) reconcile(tenant string, listed []lkgate.IndexedRoom, before time.Time) lkgate.ReconcileResult {
	c.t.Helper()
	res, err := c.x.Reconcile(context.Background(), tenant, listed, before)
	if err != nil {
		c.t.Fatalf("Reconcile(%s): %v", tenant, err)
	}
	return res
}

// rooms returns the tenant's entries as "name/sid", sorted.
func (c *checker) rooms(tenant string) []string {
	c.t.Helper()
	rs, err := c.x.Rooms(context.Background(), tenant)
	if err != nil {
		c.t.Fatalf("Rooms(%s): %v", tenant, err)
	}
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.Name+"/"+r.SID)
	}
	sort.Strings(out)
	return out
}

// want checks that the tenant's entries are exactly rs, Started included.
func (c *checker) want(tenant string, rs ...lkgate.IndexedRoom) {
	c.t.Helper()
	got, err := c.x.Rooms(context.Background(), tenant)
	if err != nil {
		c.t.Fatalf("Rooms(%s): %v", tenant, err)
	}
	key := func(r lkgate.IndexedRoom) string { return fmt.Sprintf("%s/%s@%d", r.Name, r.SID, r.Started.Unix()) }
	var g, w []string
	for _, r := range got {
		g = append(g, key(r))
	}
	for _, r := range rs {
		w = append(w, key(r))
	}
	sort.Strings(g)
	sort.Strings(w)
	if !slices.Equal(g, w) {
		c.t.Errorf("Rooms(%s) = %v, want %v", tenant, g, w)
	}
}

func (c *checker) tenants() []string {
	c.t.Helper()
	ts, err := c.x.Tenants(context.Background())
	if err != nil {
		c.t.Fatalf("Tenants: %v", err)
	}
	sort.Strings(ts)
	return ts
}

func startedThenFinished(t *testing.T, c *checker) {
	a, b := c.room("a", "RM_a", 0), c.room("b", "RM_b", time.Second)
	c.want("t1")
	c.started("t1", a)
	c.started("t1", b)
	c.want("t1", a, b)
	c.finished("t1", a)
	c.want("t1", b)
}

// Every delivery again, in any number, changes nothing.
func idempotent(t *testing.T, c *checker) {
	a, b := c.room("a", "RM_a", 0), c.room("b", "RM_b", 0)
	for range 3 {
		c.started("t1", a)
		c.started("t1", b)
	}
	c.want("t1", a, b)
	for range 3 {
		c.finished("t1", a)
	}
	c.want("t1", b)
	c.started("t1", a) // a late duplicate of a finished session
	c.want("t1", b)
	for range 2 {
		if res := c.reconcile("t1", []lkgate.IndexedRoom{b}, c.base.Add(time.Minute)); res != (lkgate.ReconcileResult{}) {
			t.Errorf("Reconcile of an index that agrees: %+v, want nothing changed", res)
		}
	}
	c.want("t1", b)
}

// Started and Finished commute for one session: Finished first leaves
// no entry, however late Started comes.
func finishedBeforeStarted(t *testing.T, c *checker) {
	a := c.room("a", "RM_a", 0)
	c.finished("t1", a)
	c.want("t1")
	c.started("t1", a)
	c.want("t1")
	// A later session of the name is another room.
	a2 := c.room("a", "RM_a2", time.Second)
	c.started("t1", a2)
	c.want("t1", a2)
}

// Finished of a session the entry is not removes nothing: the name holds
// another session.
func finishedOfAnother(t *testing.T, c *checker) {
	a1, a2 := c.room("a", "RM_a1", 0), c.room("a", "RM_a2", time.Second)
	c.started("t1", a2)
	c.finished("t1", a1)
	c.want("t1", a2)
	// And the earlier session's Started, delivered last, is ignored.
	c.started("t1", a1)
	c.want("t1", a2)
}

// The later session of a name wins whatever order its events come in.
func laterSessionWins(t *testing.T, c *checker) {
	a1, a2 := c.room("a", "RM_a1", 0), c.room("a", "RM_a2", 5*time.Second)
	s1 := func(tenant string) { c.started(tenant, a1) }
	s2 := func(tenant string) { c.started(tenant, a2) }
	f1 := func(tenant string) { c.finished(tenant, a1) }
	orders := [][]func(string){
		{s1, s2}, {s2, s1},
		{s1, s2, f1}, {s2, s1, f1}, {f1, s2, s1}, {s2, f1, s1}, {s1, f1, s2}, {f1, s1, s2},
	}
	for i, order := range orders {
		tenant := fmt.Sprint("order", i)
		for _, event := range order {
			event(tenant)
		}
		c.want(tenant, a2)
	}
}

// Two sessions started the same second: the greater SID is the later.
func laterBySID(t *testing.T, c *checker) {
	a1, a2 := c.room("a", "RM_a1", 0), c.room("a", "RM_a2", 0)
	c.started("t1", a2)
	c.started("t1", a1)
	c.want("t1", a2)
	c.started("t2", a1)
	c.started("t2", a2)
	c.want("t2", a2)
}

func reconcileAdds(t *testing.T, c *checker) {
	a, b := c.room("a", "RM_a", 0), c.room("b", "RM_b", 0)
	c.started("t1", a)
	res := c.reconcile("t1", []lkgate.IndexedRoom{a, b}, c.base.Add(time.Minute))
	if res != (lkgate.ReconcileResult{Added: 1}) {
		t.Errorf("Reconcile = %+v, want Added 1", res)
	}
	c.want("t1", a, b)
}

// An entry the list lacks is removed if it started before before, and
// kept if it started since: LiveKit's list trails its creations.
func reconcileRemoves(t *testing.T, c *checker) {
	old, recent, listed := c.room("old", "RM_old", 0), c.room("recent", "RM_recent", 10*time.Second), c.room("listed", "RM_listed", 0)
	c.started("t1", old)
	c.started("t1", recent)
	c.started("t1", listed)
	res := c.reconcile("t1", []lkgate.IndexedRoom{listed}, c.base.Add(5*time.Second))
	if res != (lkgate.ReconcileResult{Removed: 1}) {
		t.Errorf("Reconcile = %+v, want Removed 1", res)
	}
	c.want("t1", recent, listed)
	// Once before passes it, recent goes too.
	c.reconcile("t1", []lkgate.IndexedRoom{listed}, c.base.Add(time.Minute))
	c.want("t1", listed)
}

// An entry listed under another session holds the later one.
func reconcileReplaces(t *testing.T, c *checker) {
	a1, a2 := c.room("a", "RM_a1", 0), c.room("a", "RM_a2", 5*time.Second)
	c.started("t1", a1)
	res := c.reconcile("t1", []lkgate.IndexedRoom{a2}, c.base.Add(time.Minute))
	if res != (lkgate.ReconcileResult{Added: 1, Removed: 1}) {
		t.Errorf("Reconcile = %+v, want Added 1 and Removed 1", res)
	}
	c.want("t1", a2)
	// A list read before the later session began does not bring back the
	// earlier one.
	c.reconcile("t1", []lkgate.IndexedRoom{a1}, c.base)
	c.want("t1", a2)
	// Its Finished removes it after all.
	c.finished("t1", a2)
	c.want("t1")
}

// A listed session the index has seen finish is not added: the list was
// read before it ended.
func reconcileSkipsFinished(t *testing.T, c *checker) {
	a := c.room("a", "RM_a", 0)
	c.started("t1", a)
	c.finished("t1", a)
	if res := c.reconcile("t1", []lkgate.IndexedRoom{a}, c.base.Add(time.Minute)); res != (lkgate.ReconcileResult{}) {
		t.Errorf("Reconcile = %+v, want nothing changed", res)
	}
	c.want("t1")
}

func reconcileEmpty(t *testing.T, c *checker) {
	a, b := c.room("a", "RM_a", 0), c.room("b", "RM_b", 0)
	c.started("t1", a)
	c.started("t1", b)
	if res := c.reconcile("t1", nil, c.base.Add(time.Minute)); res != (lkgate.ReconcileResult{Removed: 2}) {
		t.Errorf("Reconcile = %+v, want Removed 2", res)
	}
	c.want("t1")
	if res := c.reconcile("t-none", nil, c.base.Add(time.Minute)); res != (lkgate.ReconcileResult{}) {
		t.Errorf("Reconcile of an unknown tenant = %+v, want nothing changed", res)
	}
	c.want("t-none")
}

// Tenants lists every tenant with a room, whichever way it came in, and
// no tenant that never had one.
func tenants(t *testing.T, c *checker) {
	if got := c.tenants(); len(got) != 0 {
		t.Errorf("Tenants of an empty index = %v", got)
	}
	c.started("t1", c.room("a", "RM_a", 0))
	c.started("t1", c.room("b", "RM_b", 0))
	c.reconcile("t2", []lkgate.IndexedRoom{c.room("a", "RM_2a", 0)}, c.base)
	c.finished("t3", c.room("a", "RM_3a", 0))
	if got, want := c.tenants(), []string{"t1", "t2"}; !slices.Equal(got, want) {
		t.Errorf("Tenants = %v, want %v", got, want)
	}
}

// One tenant's entries, removals and reconciliations never touch
// another's, even under the same room names.
// roomByName reads one entry: the session the name holds, none once it
// finished, and none under another tenant.
func roomByName(t *testing.T, c *checker) {
	a, a2 := c.room("a", "RM_a", 0), c.room("a", "RM_a2", time.Second)
	get := func(tenant, name string) (lkgate.IndexedRoom, bool) {
		t.Helper()
		r, ok, err := c.x.Room(context.Background(), tenant, name)
		if err != nil {
			t.Fatalf("Room(%s, %s): %v", tenant, name, err)
		}
		return r, ok
	}
	if _, ok := get("t1", "a"); ok {
		t.Error("Room found a name never started")
	}
	c.started("t1", a)
	c.started("t1", a2)
	if r, ok := get("t1", "a"); !ok || r.SID != a2.SID || r.Started.Unix() != a2.Started.Unix() {
		t.Errorf("Room(t1, a) = %+v %v, want %+v", r, ok, a2)
	}
	if _, ok := get("t2", "a"); ok {
		t.Error("Room found t1's room under t2")
	}
	c.finished("t1", a2)
	if r, ok := get("t1", "a"); ok {
		t.Errorf("Room(t1, a) = %+v after its session finished", r)
	}
}

func isolated(t *testing.T, c *checker) {
	a1, b1 := c.room("a", "RM_1a", 0), c.room("b", "RM_1b", 0)
	a2, b2 := c.room("a", "RM_2a", 0), c.room("b", "RM_2b", 0)
	c.started("t1", a1)
	c.started("t1", b1)
	c.started("t2", a2)
	c.started("t2", b2)
	c.finished("t2", a1) // t1's session, reported under t2
	c.want("t1", a1, b1)
	c.reconcile("t2", nil, c.base.Add(time.Minute))
	c.want("t1", a1, b1)
	c.want("t2")
	c.reconcile("t1", []lkgate.IndexedRoom{a1}, c.base.Add(time.Minute))
	c.want("t1", a1)
	c.started("t2", a2)
	c.want("t2", a2)
	c.want("t1", a1)
}

func manyRooms(t *testing.T, c *checker) {
	const n = 3000
	var all []lkgate.IndexedRoom
	for i := range n {
		r := c.room(fmt.Sprint("r", i), fmt.Sprint("RM_", i), 0)
		all = append(all, r)
		c.started("t1", r)
	}
	if got := c.rooms("t1"); len(got) != n {
		t.Fatalf("%d rooms in the index, want %d", len(got), n)
	}
	res := c.reconcile("t1", all[:n/2], c.base.Add(time.Minute))
	if res != (lkgate.ReconcileResult{Removed: n - n/2}) {
		t.Errorf("Reconcile = %+v, want Removed %d", res, n-n/2)
	}
	c.want("t1", all[:n/2]...)
}

// Replicas writing at once: each room ends as its own events say.
func concurrent(t *testing.T, c *checker) {
	const workers, each = 8, 40
	var wg sync.WaitGroup
	want := map[string][]lkgate.IndexedRoom{}
	room := func(w, i int) lkgate.IndexedRoom {
		return c.room(fmt.Sprint("w", w, "r", i), fmt.Sprint("RM_", w, "_", i), 0)
	}
	for w := range workers {
		tenant := fmt.Sprint("t", w%2)
		for i := 0; i < each; i += 2 {
			want[tenant] = append(want[tenant], room(w, i))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for i := range each {
				r := room(w, i)
				if i%2 == 1 { // finished before started
					if err := c.x.Finished(ctx, tenant, r); err != nil {
						t.Error(err)
					}
				}
				if err := c.x.Started(ctx, tenant, r); err != nil {
					t.Error(err)
				}
				if _, err := c.x.Rooms(ctx, tenant); err != nil {
					t.Error(err)
				}
				if _, err := c.x.Tenants(ctx); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	c.want("t0", want["t0"]...)
	c.want("t1", want["t1"]...)
}

// Sessions of one name reported at once, in every order, by replicas:
// the latest wins, and reconciling meanwhile never brings back an
// earlier one.
func concurrentSessions(t *testing.T, c *checker) {
	const sessions = 16
	var wg sync.WaitGroup
	rs := make([]lkgate.IndexedRoom, sessions)
	for i := range rs {
		rs[i] = c.room("a", fmt.Sprintf("RM_%02d", i), time.Duration(i)*time.Second)
	}
	for i := range rs {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := c.x.Started(context.Background(), "t1", rs[i]); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			if _, err := c.x.Reconcile(context.Background(), "t1", []lkgate.IndexedRoom{rs[i]}, c.base); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	c.want("t1", rs[sessions-1])
}
