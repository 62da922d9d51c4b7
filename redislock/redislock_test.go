package redislock_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lkgate/lkgate/internal/redisserver"
	"github.com/lkgate/lkgate/redislock"
)

func newLocker(t *testing.T, addr string, ttl time.Duration) (*redislock.Locker, *redis.Client) {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { client.Close() })
	l, err := redislock.New(redislock.Config{Client: client, TTL: ttl, RetryInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return l, client
}

// Two Lockers on separate connections (two replicas) never hold one key at once.
func TestMutualExclusionAcrossReplicas(t *testing.T) {
	srv := redisserver.Start(t)
	a, _ := newLocker(t, srv.Addr, 0)
	b, _ := newLocker(t, srv.Addr, 0)
	wantMutualExclusion(t, "room", 40, a, b)
}

// wantMutualExclusion has n goroutines take key in turn from the lockers
// and fails t if two ever held it at once.
func wantMutualExclusion(t *testing.T, key string, n int, lockers ...*redislock.Locker) {
	t.Helper()
	var inside, overlaps, total atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		l := lockers[i%len(lockers)]
		wg.Go(func() {
			unlock, err := l.Lock(context.Background(), key)
			if err != nil {
				t.Error(err)
				return
			}
			if inside.Add(1) > 1 {
				overlaps.Add(1)
			}
			total.Add(1)
			time.Sleep(time.Millisecond)
			inside.Add(-1)
			unlock()
		})
	}
	wg.Wait()
	if overlaps.Load() != 0 || total.Load() != int32(n) {
		t.Errorf("%d overlapping holders, %d acquisitions of %d", overlaps.Load(), total.Load(), n)
	}
}

func TestWaitHonoursContext(t *testing.T) {
	srv := redisserver.Start(t)
	l, _ := newLocker(t, srv.Addr, 0)
	unlock, err := l.Lock(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := l.Lock(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lock on a held key = %v, want deadline exceeded", err)
	}
}

// A crashed holder (one that never unlocks) blocks the key only until the
// TTL, and its late unlock cannot release the next holder's lock.
func TestExpiryAndStaleUnlock(t *testing.T) {
	srv := redisserver.Start(t)
	crashed, client := newLocker(t, srv.Addr, 150*time.Millisecond)
	next, _ := newLocker(t, srv.Addr, 10*time.Second)
	staleUnlock, err := crashed.Lock(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	unlock, err := next.Lock(ctx, "k")
	if err != nil {
		t.Fatalf("the expired lock was never freed: %v", err)
	}
	staleUnlock()
	if n, err := client.Exists(context.Background(), "k").Result(); err != nil || n != 1 {
		t.Errorf("a stale unlock released the new holder's lock (exists=%d, %v)", n, err)
	}
	unlock()
	if n, _ := client.Exists(context.Background(), "k").Result(); n != 0 {
		t.Error("unlock left the key behind")
	}
}

func TestRedisDownIsAnError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	locker, _ := newLocker(t, addr, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := locker.Lock(ctx, "k"); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lock with Redis down = %v, want a prompt Redis error", err)
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := redislock.New(redislock.Config{}); err == nil {
		t.Error("nil client accepted")
	}
	if _, err := redislock.New(redislock.Config{Client: redis.NewClient(&redis.Options{}), TTL: time.Microsecond}); err == nil {
		t.Error("1µs TTL accepted")
	}
}
