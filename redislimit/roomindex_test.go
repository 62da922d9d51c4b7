package redislimit_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/redis/go-redis/v9"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/internal/redisserver"
	"github.com/lkgate/lkgate/internal/roomindextest"
	"github.com/lkgate/lkgate/lkgatetest"
	"github.com/lkgate/lkgate/redislimit"
)

// roomIndex is a RoomIndex on client with prefix.
func roomIndex(t testing.TB, client redis.UniversalClient, prefix string) *redislimit.RoomIndex {
	t.Helper()
	x, err := redislimit.NewRoomIndex(redislimit.Config{Client: client, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// newClient is a client of the Redis at addr, closed with t.
func newClient(t testing.TB, addr string) *redis.Client {
	client := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { client.Close() })
	return client
}

// The Redis index passes the RoomIndex contract that the in-process index
// passes too. Each case has its own prefix on one Redis.
func TestRoomIndexContract(t *testing.T) {
	srv := redisserver.Start(t)
	client := newClient(t, srv.Addr)
	var n atomic.Int32
	roomindextest.Run(t, func(t *testing.T) lkgate.RoomIndex {
		return roomIndex(t, client, fmt.Sprintf("c%d:", n.Add(1)))
	})
}

// What the index is in Redis: a hash of the tenant's rooms, the set of
// tenants with rooms, and the tenant's finished sessions, scored by when
// Redis saw them finish, trimmed and expiring after FinishedMemory.
func TestRoomIndexRecord(t *testing.T) {
	srv := redisserver.Start(t)
	rdb := newClient(t, srv.Addr)
	x := roomIndex(t, rdb, "p:")
	ctx := context.Background()
	started := time.Now().Truncate(time.Millisecond)
	a := lkgate.IndexedRoom{Name: "t4_acme_a", SID: "RM_a", Started: started}
	const rooms, fin, tenants = "p:lkgate:{rooms}:t:acme", "p:lkgate:{rooms}:f:acme", "p:lkgate:{rooms}:tenants"

	if err := x.Started(ctx, "acme", a); err != nil {
		t.Fatal(err)
	}
	if got, err := rdb.HGetAll(ctx, rooms).Result(); err != nil || len(got) != 1 || got[a.Name] != fmt.Sprintf("%d RM_a", started.UnixMilli()) {
		t.Errorf("rooms %v %v, want %s: \"<started ms> RM_a\"", got, err, a.Name)
	}
	if got, err := rdb.SMembers(ctx, tenants).Result(); err != nil || len(got) != 1 || got[0] != "acme" {
		t.Errorf("tenants %v %v, want acme", got, err)
	}

	if err := x.Finished(ctx, "acme", a); err != nil {
		t.Fatal(err)
	}
	if n, err := rdb.Exists(ctx, rooms, tenants).Result(); n != 0 || err != nil {
		t.Errorf("%d of the rooms and tenants keys left once the last room finished (%v)", n, err)
	}
	now, err := rdb.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	score, err := rdb.ZScore(ctx, fin, "RM_a").Result()
	if err != nil || time.Duration(now.UnixMilli()-int64(score))*time.Millisecond > 5*time.Second {
		t.Errorf("finished RM_a scored %v (%v), want Redis's time %d", score, err, now.UnixMilli())
	}
	if ttl, err := rdb.PTTL(ctx, fin).Result(); err != nil || ttl > lkgate.FinishedMemory || ttl < lkgate.FinishedMemory-5*time.Second {
		t.Errorf("finished sessions expire in %v (%v), want %v", ttl, err, lkgate.FinishedMemory)
	}

	// A session finished longer ago than FinishedMemory is trimmed by the
	// next Finished, and its late Started is then taken.
	old := lkgate.IndexedRoom{Name: "t4_acme_old", SID: "RM_old", Started: started}
	if err := rdb.ZAdd(ctx, fin, redis.Z{Member: "RM_old", Score: float64(now.Add(-lkgate.FinishedMemory - time.Second).UnixMilli())}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := x.Finished(ctx, "acme", lkgate.IndexedRoom{Name: "t4_acme_b", SID: "RM_b", Started: started}); err != nil {
		t.Fatal(err)
	}
	if got, err := rdb.ZRange(ctx, fin, 0, -1).Result(); err != nil || strings.Join(got, ",") != "RM_a,RM_b" {
		t.Errorf("finished sessions %v %v, want RM_a,RM_b", got, err)
	}
	if err := x.Started(ctx, "acme", old); err != nil {
		t.Fatal(err)
	}
	if got, err := x.Rooms(ctx, "acme"); err != nil || len(got) != 1 || got[0] != old {
		t.Errorf("rooms %v %v, want %v", got, err, old)
	}
}

// scriptWatch records, through a go-redis hook, the largest script call
// and the commands sent, and calls before once with the arguments of the
// first script sent after an HSCAN, before it is sent.
type scriptWatch struct {
	mu       sync.Mutex
	maxArgs  int
	commands []string
	scanned  bool
	before   func(args []any)
}

func (w *scriptWatch) DialHook(next redis.DialHook) redis.DialHook { return next }

func (w *scriptWatch) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (w *scriptWatch) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		name := cmd.Name()
		w.mu.Lock()
		w.commands = append(w.commands, name)
		var before func([]any)
		if name == "evalsha" || name == "eval" {
			w.maxArgs = max(w.maxArgs, len(cmd.Args()))
			if w.scanned {
				before, w.before = w.before, nil
			}
		}
		w.scanned = w.scanned || name == "hscan"
		w.mu.Unlock()
		if before != nil {
			before(cmd.Args())
		}
		return next(ctx, cmd)
	}
}

// A tenant larger than ReconcileChunk is reconciled in scripts of at most
// ReconcileChunk rooms, whether its list or its entries are large, and
// an event handled between two of them is kept.
func TestRoomIndexReconcileChunks(t *testing.T) {
	srv := redisserver.Start(t)
	other := roomIndex(t, newClient(t, srv.Addr), "")
	ctx := context.Background()
	base := time.Now().Truncate(time.Second)
	const n = 2*redislimit.ReconcileChunk + 500
	all := make([]lkgate.IndexedRoom, n)
	for i := range all {
		all[i] = lkgate.IndexedRoom{Name: "r" + strconv.Itoa(i), SID: "RM_" + strconv.Itoa(i), Started: base}
	}
	// EVALSHA, its hash and key count, 3 keys, 3 arguments, and a name,
	// SID and start per room.
	maxArgs := 3 + 3 + 3 + 3*redislimit.ReconcileChunk

	t.Run("large list", func(t *testing.T) {
		w := &scriptWatch{}
		client := newClient(t, srv.Addr)
		client.AddHook(w)
		x := roomIndex(t, client, "")
		res, err := x.Reconcile(ctx, "big", all, base.Add(time.Minute))
		if err != nil || res != (lkgate.ReconcileResult{Added: n}) {
			t.Fatalf("Reconcile = %+v, %v; want Added %d", res, err, n)
		}
		if w.maxArgs > maxArgs {
			t.Errorf("a script of %d arguments, want at most %d", w.maxArgs, maxArgs)
		}
	})
	t.Run("large index, small list", func(t *testing.T) {
		w := &scriptWatch{}
		client := newClient(t, srv.Addr)
		client.AddHook(w)
		x := roomIndex(t, client, "")
		// The first room sent to the removal script is re-created (a later
		// session, since before) after the scan read it: the removal must
		// leave the new session.
		var recreated lkgate.IndexedRoom
		w.before = func(args []any) {
			// evalsha, sha, 3, three keys, the tenant, then name and SID.
			name, _ := args[min(7, len(args)-1)].(string)
			recreated = lkgate.IndexedRoom{Name: name, SID: "RM_new", Started: base.Add(2 * time.Minute)}
			if err := other.Started(ctx, "big", recreated); err != nil {
				t.Error(err)
			}
		}
		res, err := x.Reconcile(ctx, "big", all[:10], base.Add(time.Minute))
		if want := (lkgate.ReconcileResult{Removed: n - 11}); err != nil || res != want {
			t.Errorf("Reconcile = %+v, %v; want %+v", res, err, want)
		}
		if !strings.Contains(strings.Join(w.commands, " "), "hscan") {
			t.Errorf("commands %v: the entries were not scanned in chunks", w.commands)
		}
		got, err := x.Rooms(ctx, "big")
		if err != nil || len(got) != 11 {
			t.Fatalf("%d rooms left (%v), want 11", len(got), err)
		}
		for _, r := range got {
			if r.Name == recreated.Name && r != recreated {
				t.Errorf("%s is %+v, want the session started during the reconciliation %+v", r.Name, r, recreated)
			}
		}
	})
}

// Sessions of one name are ordered by start to the second, as LiveKit
// gives it and as the in-process index orders them, then by SID.
func TestRoomIndexOrdersToTheSecond(t *testing.T) {
	srv := redisserver.Start(t)
	x := roomIndex(t, newClient(t, srv.Addr), "")
	ctx := context.Background()
	base := time.Now().Truncate(time.Second)
	early := lkgate.IndexedRoom{Name: "a", SID: "RM_b", Started: base.Add(100 * time.Millisecond)}
	late := lkgate.IndexedRoom{Name: "a", SID: "RM_a", Started: base.Add(900 * time.Millisecond)}
	for _, r := range []lkgate.IndexedRoom{early, late} {
		if err := x.Started(ctx, "acme", r); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := x.Rooms(ctx, "acme"); err != nil || len(got) != 1 || got[0] != early {
		t.Errorf("Rooms = %v %v, want %v: the same second, the greater SID", got, err, early)
	}
}

// Replicas share one index in Redis: a room one replica created, or whose
// room_started webhook one replica handled, is in the other's list and in
// its count for the tenant's room quota; a room that ended is counted by
// neither, and its room_finished, handled by either, removes its entry.
func TestReplicasShareRoomIndex(t *testing.T) {
	srv := redisserver.Start(t)
	fake := lkgatetest.NewServer(t)
	admin := lksdk.NewRoomServiceClient(fake.URL(), lkgatetest.APIKey, lkgatetest.APISecret)
	ctx := context.Background()
	cfg := func() lkgate.Config {
		return lkgate.Config{
			RoomIndex:          roomIndex(t, newClient(t, srv.Addr), ""),
			RoomIndexReconcile: -1, // only webhooks and the Managers' own writes
			Limits:             lkgate.LimitConfig{Default: lkgate.Limits{MaxRooms: 2}},
		}
	}
	one, two := replica(t, srv.Addr, fake, cfg()), replica(t, srv.Addr, fake, cfg())
	lists := func(m *lkgate.Manager, who string, want ...string) {
		t.Helper()
		rooms, err := m.ListRooms(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rooms {
			got = append(got, r.Name)
		}
		if slices.Sort(got); !slices.Equal(got, want) {
			t.Errorf("%s lists %v, want %v", who, got, want)
		}
	}
	token := func(m *lkgate.Manager, room string) error {
		_, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: room, Identity: "alice"})
		return err
	}

	if err := token(one, "standup"); err != nil {
		t.Fatal(err)
	}
	lists(two, "the other replica", "standup")

	// A participant's join creates retro outside lkgate; its room_started
	// reaches replica two.
	retro, err := lkgate.ScopedRoomName("acme", "retro")
	if err != nil {
		t.Fatal(err)
	}
	room, err := admin.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: retro})
	if err != nil {
		t.Fatal(err)
	}
	lists(one, "before the webhook", "standup")
	if err := two.IndexRoomEvent(ctx, &livekit.WebhookEvent{Event: "room_started", Room: room}); err != nil {
		t.Fatal(err)
	}
	lists(one, "after the webhook", "retro", "standup")
	if err := token(one, "planning"); !errors.Is(err, lkgate.ErrLimited) {
		t.Errorf("a third room: %v, want ErrLimited", err)
	}

	// retro ends with its room_finished not yet delivered: the quota counts
	// LiveKit's answer for the indexed names, which lacks it.
	if _, err := admin.DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: retro}); err != nil {
		t.Fatal(err)
	}
	if err := token(two, "planning"); err != nil {
		t.Errorf("a second room once retro ended: %v", err)
	}
	lists(one, "at the end", "planning", "standup")
	// Its room_finished, handled by replica one, removes the entry.
	if err := one.IndexRoomEvent(ctx, &livekit.WebhookEvent{Event: "room_finished", Room: room}); err != nil {
		t.Fatal(err)
	}
	entries, err := roomIndex(t, newClient(t, srv.Addr), "").Rooms(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name == retro {
			t.Errorf("retro still indexed after its room_finished: %+v", e)
		}
	}
}

func TestNewRoomIndex(t *testing.T) {
	if _, err := redislimit.NewRoomIndex(redislimit.Config{}); err == nil {
		t.Error("no Client accepted")
	}
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer client.Close()
	for prefix, ok := range map[string]bool{"": true, "app:": true, "{app}:": true, "{}:": false, "a{}": false, "a{b}{}": true} {
		if _, err := redislimit.NewRoomIndex(redislimit.Config{Client: client, Prefix: prefix}); (err == nil) != ok {
			t.Errorf("Prefix %q: %v", prefix, err)
		}
	}
}

func TestRoomIndexUnreachable(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: closedPort(t), MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { client.Close() })
	x := roomIndex(t, client, "")
	ctx := context.Background()
	r := lkgate.IndexedRoom{Name: "a", SID: "RM_a", Started: time.Now()}
	calls := map[string]func() error{
		"Started":  func() error { return x.Started(ctx, "acme", r) },
		"Finished": func() error { return x.Finished(ctx, "acme", r) },
		"Rooms":    func() error { _, err := x.Rooms(ctx, "acme"); return err },
		"Tenants":  func() error { _, err := x.Tenants(ctx); return err },
		"Reconcile": func() error {
			_, err := x.Reconcile(ctx, "acme", []lkgate.IndexedRoom{r}, time.Now())
			return err
		},
	}
	for name, call := range calls {
		if err := call(); err == nil {
			t.Errorf("%s on a closed port succeeded", name)
		}
	}
}

// BenchmarkRoomIndex is one Started (one script) per op, spread over
// tenants of a given size, and reports Redis's memory per room (INFO
// memory's used_memory): tenants of up to 512 rooms keep their hash as a
// listpack, larger ones as a hash table (hash-max-listpack-entries, 512
// by default).
func BenchmarkRoomIndex(b *testing.B) {
	for _, size := range []int{100, 10000} {
		b.Run(fmt.Sprintf("started/tenants-of-%d", size), func(b *testing.B) {
			srv := redisserver.Start(b)
			client := newClient(b, srv.Addr)
			x := roomIndex(b, client, "")
			ctx := context.Background()
			base := usedMemory(b, client)
			start := time.Now().Truncate(time.Second)
			i := 0
			for b.Loop() {
				tenant := "tenant-" + strconv.Itoa(i/size)
				r := lkgate.IndexedRoom{Name: lkgateName(tenant, i%size), SID: fmt.Sprintf("RM_%012d", i), Started: start}
				if err := x.Started(ctx, tenant, r); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(usedMemory(b, client)-base)/float64(i), "bytes/room")
		})
	}
}

// lkgateName is tenant's i-th room under ScopedNames.
func lkgateName(tenant string, i int) string {
	name, _ := lkgate.ScopedRoomName(tenant, "room-"+strconv.Itoa(i))
	return name
}

// usedMemory is INFO memory's used_memory.
func usedMemory(b testing.TB, client *redis.Client) int64 {
	info, err := client.InfoMap(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	n, err := strconv.ParseInt(info["Memory"]["used_memory"], 10, 64)
	if err != nil {
		b.Fatal(err)
	}
	return n
}
