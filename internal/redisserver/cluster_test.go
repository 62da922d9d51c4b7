package redisserver

import (
	"cmp"
	"context"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// StartCluster returns three masters that split every slot between them,
// reachable through a cluster client, and stops each at cleanup.
func TestClusterForms(t *testing.T) {
	var nodes []*Server
	t.Run("cluster", func(t *testing.T) {
		c := StartCluster(t)
		nodes = c.nodes
		rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
		defer rdb.Close()
		ctx := context.Background()

		shards, err := rdb.ClusterShards(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		type served struct {
			start, end int64
			addr       string
		}
		var got []served
		for _, sh := range shards {
			for _, r := range sh.Slots {
				got = append(got, served{r.Start, r.End, net.JoinHostPort(sh.Nodes[0].IP, strconv.FormatInt(sh.Nodes[0].Port, 10))})
			}
		}
		slices.SortFunc(got, func(a, b served) int { return cmp.Compare(a.start, b.start) })
		want := []served{{0, 5460, c.Addrs[0]}, {5461, 10921, c.Addrs[1]}, {10922, 16383, c.Addrs[2]}}
		if !slices.Equal(got, want) {
			t.Errorf("slots %v, want %v", got, want)
		}
		for _, w := range want {
			if c.Master(w.start) != w.addr || c.Master(w.end) != w.addr {
				t.Errorf("Master(%d), Master(%d) = %s, %s; want %s", w.start, w.end, c.Master(w.start), c.Master(w.end), w.addr)
			}
		}

		// Keys on each master, written and read through the cluster client.
		for _, k := range []string{"a", "b", "c"} {
			if err := rdb.Set(ctx, k, k, 0).Err(); err != nil {
				t.Fatalf("SET %s: %v", k, err)
			}
		}
		var mu sync.Mutex // ForEachMaster calls its function concurrently
		masters := map[string]bool{}
		err = rdb.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			n, err := node.DBSize(ctx).Result()
			mu.Lock()
			defer mu.Unlock()
			masters[node.Options().Addr] = n > 0
			return err
		})
		if err != nil || len(masters) != 3 || !masters[c.Addrs[0]] || !masters[c.Addrs[1]] || !masters[c.Addrs[2]] {
			t.Errorf("keys per master %v (%v), want keys on all three", masters, err)
		}
	})
	for _, n := range nodes {
		select {
		case <-n.Done():
		case <-time.After(time.Second):
			t.Errorf("node %s (pid %d) still runs after cleanup", n.Addr, n.Pid())
		}
	}
}
