package redislock_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lkgate/lkgate/internal/redisserver"
	"github.com/lkgate/lkgate/redislock"
)

// clusterLocker is a Locker on its own cluster client of c (a replica of
// its own), and that client.
func clusterLocker(t *testing.T, c *redisserver.Cluster, ttl time.Duration) (*redislock.Locker, *redis.ClusterClient) {
	t.Helper()
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	t.Cleanup(func() { client.Close() })
	l, err := redislock.New(redislock.Config{Client: client, TTL: ttl, RetryInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return l, client
}

// keysOnEveryMaster returns one key per master of c.
func keysOnEveryMaster(t *testing.T, c *redisserver.Cluster, rdb *redis.ClusterClient) []string {
	t.Helper()
	seen := map[string]bool{}
	var keys []string
	for i := 0; len(keys) < len(c.Addrs) && i < 1000; i++ {
		key := fmt.Sprint("room", i)
		slot, err := rdb.ClusterKeySlot(context.Background(), key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if m := c.Master(slot); !seen[m] {
			seen[m] = true
			keys = append(keys, key)
		}
	}
	if len(keys) != len(c.Addrs) {
		t.Fatalf("keys %v reach %d of %d masters", keys, len(keys), len(c.Addrs))
	}
	return keys
}

// The single-node tests' checks, on keys served by each master: two
// replicas never hold one key at once, a held key waits for ctx, and a
// crashed holder's stale unlock cannot free the next holder's lock.
func TestClusterLock(t *testing.T) {
	c := redisserver.StartCluster(t)
	a, rdb := clusterLocker(t, c, 0)
	b, _ := clusterLocker(t, c, 0)
	crashed, _ := clusterLocker(t, c, 150*time.Millisecond)
	ctx := context.Background()
	for _, key := range keysOnEveryMaster(t, c, rdb) {
		t.Run(key, func(t *testing.T) {
			wantMutualExclusion(t, key, 20, a, b)

			staleUnlock, err := crashed.Lock(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			if _, err := a.Lock(short, key); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Lock on a held key = %v, want deadline exceeded", err)
			}
			wait, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			unlock, err := b.Lock(wait, key)
			if err != nil {
				t.Fatalf("the expired lock was never freed: %v", err)
			}
			staleUnlock()
			if n, err := rdb.Exists(ctx, key).Result(); err != nil || n != 1 {
				t.Errorf("a stale unlock released the new holder's lock (exists=%d, %v)", n, err)
			}
			unlock()
			if n, _ := rdb.Exists(ctx, key).Result(); n != 0 {
				t.Error("unlock left the key behind")
			}
		})
	}
}
