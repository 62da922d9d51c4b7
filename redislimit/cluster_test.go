package redislimit_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/internal/bantest"
	"github.com/lkgate/lkgate/internal/leasetest"
	"github.com/lkgate/lkgate/internal/redisserver"
	"github.com/lkgate/lkgate/internal/roomindextest"
	"github.com/lkgate/lkgate/internal/seentest"
	"github.com/lkgate/lkgate/redislimit"
)

// The package doc's claim, run: every Store script touches one key and
// every RoomIndex script keys of one hash tag, so a Redis Cluster works.
// These tests run on three masters, with keys chosen to land on each.

// clusterClient is a cluster client of c, closed with t.
func clusterClient(t testing.TB, c *redisserver.Cluster) *redis.ClusterClient {
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	t.Cleanup(func() { client.Close() })
	return client
}

// clusterStore is a Store with prefix on client.
func clusterStore(t testing.TB, client *redis.ClusterClient, prefix string) *redislimit.Store {
	t.Helper()
	s, err := redislimit.New(redislimit.Config{Client: client, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// keySlot is key's slot, as the cluster computes it (CLUSTER KEYSLOT).
func keySlot(t testing.TB, rdb *redis.ClusterClient, key string) int64 {
	t.Helper()
	slot, err := rdb.ClusterKeySlot(context.Background(), key).Result()
	if err != nil {
		t.Fatalf("CLUSTER KEYSLOT %s: %v", key, err)
	}
	return slot
}

// masterOf is the address of the master of c serving key.
func masterOf(t testing.TB, c *redisserver.Cluster, rdb *redis.ClusterClient, key string) string {
	t.Helper()
	return c.Master(keySlot(t, rdb, key))
}

// onEveryMaster returns one name per master of the cluster, key(name)
// being a key that master serves.
func onEveryMaster(t testing.TB, c *redisserver.Cluster, rdb *redis.ClusterClient, key func(name string) string) []string {
	t.Helper()
	seen := map[string]bool{}
	var names []string
	for i := 0; len(names) < len(c.Addrs); i++ {
		if i == 1000 {
			t.Fatalf("1000 names reach only the masters %v", slices.Collect(maps.Keys(seen)))
		}
		name := fmt.Sprint("n", i)
		if m := masterOf(t, c, rdb, key(name)); !seen[m] {
			seen[m] = true
			names = append(names, name)
		}
	}
	return names
}

// clusterKeys returns every key matching pattern, from every master.
func clusterKeys(t testing.TB, rdb *redis.ClusterClient, pattern string) []string {
	t.Helper()
	var mu sync.Mutex // ForEachMaster calls its function concurrently
	var keys []string
	err := rdb.ForEachMaster(context.Background(), func(ctx context.Context, node *redis.Client) error {
		iter := node.Scan(ctx, 0, pattern, 100).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			keys = append(keys, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// The contract suites on the cluster, each case with its own prefix as on
// one Redis; the leases' prefix holds the characters SCAN's pattern would
// interpret.

func TestClusterBanStoreContract(t *testing.T) {
	rdb := clusterClient(t, redisserver.StartCluster(t))
	var n atomic.Int32
	bantest.Run(t, func(t *testing.T) lkgate.BanStore {
		return clusterStore(t, rdb, fmt.Sprintf("b%d:", n.Add(1)))
	})
}

func TestClusterLeaseStoreContract(t *testing.T) {
	rdb := clusterClient(t, redisserver.StartCluster(t))
	var n atomic.Int32
	leasetest.Run(t, func(t *testing.T) lkgate.LeaseStore {
		return clusterStore(t, rdb, fmt.Sprintf("c%d[*?]\\:", n.Add(1)))
	})
}

func TestClusterSeenEventsContract(t *testing.T) {
	rdb := clusterClient(t, redisserver.StartCluster(t))
	var n atomic.Int32
	seentest.Run(t, func(t *testing.T) lkgate.SeenEvents {
		return clusterStore(t, rdb, fmt.Sprintf("c%d:", n.Add(1)))
	})
}

func TestClusterRoomIndexContract(t *testing.T) {
	rdb := clusterClient(t, redisserver.StartCluster(t))
	var n atomic.Int32
	roomindextest.Run(t, func(t *testing.T) lkgate.RoomIndex {
		return roomIndex(t, rdb, fmt.Sprintf("c%d:", n.Add(1)))
	})
}

// TestRate's and TestSlots's checks, on a key served by each master.
func TestClusterRateAndSlots(t *testing.T) {
	c := redisserver.StartCluster(t)
	rdb := clusterClient(t, c)
	a, b := clusterStore(t, rdb, "test:"), clusterStore(t, rdb, "test:")
	ctx := context.Background()
	keys := onEveryMaster(t, c, rdb, func(name string) string { return "test:" + name })
	for _, key := range keys {
		t.Run("Rate/"+key, func(t *testing.T) {
			r := lkgate.Rate{Events: 2, Per: 200 * time.Millisecond, Burst: 2}
			for i := range 2 {
				if ok, _, err := a.Allow(ctx, key, r); err != nil || !ok {
					t.Fatalf("event %d: %v %v", i, ok, err)
				}
			}
			ok, wait, err := b.Allow(ctx, key, r)
			if err != nil || ok || wait <= 0 || wait > 100*time.Millisecond {
				t.Fatalf("over the burst: ok %v wait %s err %v; want a refusal for up to 100ms", ok, wait, err)
			}
			time.Sleep(wait + 10*time.Millisecond)
			if ok, _, err := b.Allow(ctx, key, r); err != nil || !ok {
				t.Errorf("after waiting RetryAfter: %v %v", ok, err)
			}
		})
		t.Run("Slots/"+key, func(t *testing.T) { wantSlots(t, a, b, key) })
	}
}

// Every key the room index writes, for one tenant or several, lies in
// one slot: the tenants' names alone would spread them over the masters.
func TestClusterRoomIndexOneSlot(t *testing.T) {
	c := redisserver.StartCluster(t)
	rdb := clusterClient(t, c)
	x := roomIndex(t, rdb, "p:")
	ctx := context.Background()
	// Without the tag, these tenants' hashes would lie on three masters.
	tenants := onEveryMaster(t, c, rdb, func(tenant string) string { return "p:lkgate:rooms:t:" + tenant })
	now := time.Now()
	for _, tenant := range tenants {
		var listed []lkgate.IndexedRoom
		for i := range 3 {
			r := lkgate.IndexedRoom{Name: fmt.Sprint("r", i), SID: fmt.Sprint("RM_", tenant, i), Started: now}
			if err := x.Started(ctx, tenant, r); err != nil {
				t.Fatalf("Started(%s): %v", tenant, err)
			}
			listed = append(listed, r)
		}
		if err := x.Finished(ctx, tenant, listed[0]); err != nil {
			t.Fatalf("Finished(%s): %v", tenant, err)
		}
		if _, err := x.Reconcile(ctx, tenant, listed[1:2], now.Add(time.Minute)); err != nil {
			t.Fatalf("Reconcile(%s): %v", tenant, err)
		}
		if rooms, err := x.Rooms(ctx, tenant); err != nil || len(rooms) != 1 {
			t.Errorf("Rooms(%s) = %v, %v; want r1 only", tenant, rooms, err)
		}
	}
	if got, err := x.Tenants(ctx); err != nil || len(got) != len(tenants) {
		t.Errorf("Tenants = %v, %v; want %v", got, err, tenants)
	}

	keys := clusterKeys(t, rdb, "p:*")
	if len(keys) != 2*len(tenants)+1 {
		t.Errorf("keys %v, want a hash and a finished set per tenant and the tenant set", keys)
	}
	slots := map[int64][]string{}
	for _, key := range keys {
		if !strings.HasPrefix(key, "p:lkgate:{rooms}:") {
			t.Errorf("key %s outside the index's hash tag", key)
		}
		slot := keySlot(t, rdb, key)
		slots[slot] = append(slots[slot], key)
	}
	if len(slots) != 1 {
		t.Errorf("the index's keys lie in %d slots, want one: %v", len(slots), slots)
	}
}

// RenewAfter renews leases whose keys every master serves: it scans them
// all, not one node.
func TestClusterRenewAfterEveryMaster(t *testing.T) {
	c := redisserver.StartCluster(t)
	rdb := clusterClient(t, c)
	s := clusterStore(t, rdb, "p:")
	ctx := context.Background()
	key := func(name string) string { return "p:lkgate:lease:" + name }
	names := onEveryMaster(t, c, rdb, key)
	now := time.Now().Truncate(time.Millisecond)
	for _, name := range names {
		if h, err := s.Lease(ctx, name, "acme", now.Add(time.Minute), now); err != nil || h != "" {
			t.Fatalf("Lease(%s) = %q, %v", name, h, err)
		}
	}
	until := now.Add(10 * time.Minute)
	if err := s.RenewAfter(ctx, now, until); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		got, err := rdb.HGet(ctx, key(name), "until").Result()
		if want := strconv.FormatInt(until.UnixMilli(), 10); err != nil || got != want {
			t.Errorf("lease %s on %s ends at %s (%v), want %s", name, masterOf(t, c, rdb, key(name)), got, err, want)
		}
	}
}

// Ban, BannedUntil, Bans and Unban work with each ban's key on another
// master than the list's.
func TestClusterBansAcrossSlots(t *testing.T) {
	c := redisserver.StartCluster(t)
	rdb := clusterClient(t, c)
	s := clusterStore(t, rdb, "p:")
	ctx := context.Background()
	const tenant, room = "acme", "t4_acme_standup"
	banKey := func(identity string) string { return "p:lkgate:ban:4:acme15:t4_acme_standup" + identity }
	list := masterOf(t, c, rdb, "p:lkgate:bans")
	var identities []string
	for _, id := range onEveryMaster(t, c, rdb, banKey) {
		if masterOf(t, c, rdb, banKey(id)) != list {
			identities = append(identities, id)
		}
	}
	if len(identities) != len(c.Addrs)-1 {
		t.Fatalf("identities %v, want those whose ban keys the list's master (%s) does not serve", identities, list)
	}
	slices.Sort(identities)
	now := time.Now().Truncate(time.Millisecond)
	until := now.Add(time.Hour)
	for _, id := range identities {
		if err := s.Ban(ctx, tenant, room, id, until); err != nil {
			t.Fatalf("Ban(%s): %v", id, err)
		}
		if got, err := s.BannedUntil(ctx, tenant, room, id, now); err != nil || !got.Equal(until) {
			t.Errorf("BannedUntil(%s) = %v, %v; want %v", id, got, err, until)
		}
	}
	listed := func() []string {
		t.Helper()
		bans, err := s.Bans(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, b := range bans {
			if b.Tenant != tenant || b.Room != room || !b.Until.Equal(until) {
				t.Errorf("listed %+v", b)
			}
			ids = append(ids, b.Identity)
		}
		slices.Sort(ids)
		return ids
	}
	if got := listed(); !slices.Equal(got, identities) {
		t.Errorf("Bans lists %v, want %v (keys on other masters than the list, %s)", got, identities, list)
	}
	if err := s.Unban(ctx, tenant, room, identities[0]); err != nil {
		t.Fatal(err)
	}
	if got, err := s.BannedUntil(ctx, tenant, room, identities[0], now); err != nil || !got.IsZero() {
		t.Errorf("after Unban: BannedUntil = %v, %v", got, err)
	}
	if got := listed(); !slices.Equal(got, identities[1:]) {
		t.Errorf("after Unban: Bans lists %v, want %v", got, identities[1:])
	}
}

// On a cluster too, a ban interleaved with an unban leaves no key or a
// listed one (see TestBanListNeverMissesAHeldBan), with the ban's key and
// the list on different masters and one command held up on its way: the
// ban's SET, or the unban's ZREM.
func TestClusterBanRacingUnbanStaysListed(t *testing.T) {
	c := redisserver.StartCluster(t)
	ctx := context.Background()
	const tenant, room = "acme", "t4_acme_standup"
	banKey := func(identity string) string { return "p:lkgate:ban:4:acme15:t4_acme_standup" + identity }
	rdb := clusterClient(t, c)
	list := masterOf(t, c, rdb, "p:lkgate:bans")
	var identity string
	for _, id := range onEveryMaster(t, c, rdb, banKey) {
		if masterOf(t, c, rdb, banKey(id)) != list {
			identity = id
		}
	}
	for _, delayed := range []string{"set", "zrem"} {
		t.Run(delayed, func(t *testing.T) {
			// slow's node clients hold up the delayed command 100 ms.
			slow := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
			slow.OnNewNode(func(node *redis.Client) { node.AddHook(delayHook{delayed, 100 * time.Millisecond}) })
			t.Cleanup(func() { slow.Close() })
			slowStore, fast := clusterStore(t, slow, "p:"), clusterStore(t, rdb, "p:")
			if err := fast.Unban(ctx, tenant, room, identity); err != nil {
				t.Fatal(err)
			}
			ban := func(s *redislimit.Store) error { return s.Ban(ctx, tenant, room, identity, time.Now().Add(time.Hour)) }
			unban := func(s *redislimit.Store) error { return s.Unban(ctx, tenant, room, identity) }
			first, second := func() error { return ban(slowStore) }, func() error { return unban(fast) }
			if delayed == "zrem" {
				first, second = func() error { return unban(slowStore) }, func() error { return ban(fast) }
			}
			done := make(chan error, 1)
			go func() { done <- first() }()
			time.Sleep(30 * time.Millisecond) // within the held-up command's delay
			if err := second(); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			held, err := rdb.Exists(ctx, banKey(identity)).Result()
			if err != nil {
				t.Fatal(err)
			}
			bans, err := fast.Bans(ctx, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if held == 1 && len(bans) == 0 {
				t.Errorf("the ban's key %s is held but the list does not list it", banKey(identity))
			}
		})
	}
}

// delayHook holds up each command named name, alone or in a pipeline.
type delayHook struct {
	name string
	d    time.Duration
}

func (h delayHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h delayHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.wait(cmd)
		return next(ctx, cmd)
	}
}
func (h delayHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			h.wait(cmd)
		}
		return next(ctx, cmds)
	}
}

func (h delayHook) wait(cmd redis.Cmder) {
	if cmd.Name() == h.name {
		time.Sleep(h.d)
	}
}
