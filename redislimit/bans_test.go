package redislimit_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/internal/bantest"
	"github.com/lkgate/lkgate/internal/redisserver"
	"github.com/lkgate/lkgate/lkgatetest"
	"github.com/lkgate/lkgate/redislimit"
)

// The Redis store passes the BanStore contract that the in-process store
// passes too.
func TestBanStoreContract(t *testing.T) {
	srv := redisserver.Start(t)
	var n atomic.Int32
	bantest.Run(t, func(t *testing.T) lkgate.BanStore {
		s, _ := storeWithPrefix(t, srv.Addr, fmt.Sprintf("b%d:", n.Add(1)))
		return s
	})
}

// What a ban is in Redis: one key holding its end, kept 30 s past it.
func TestBanRecord(t *testing.T) {
	srv := redisserver.Start(t)
	s, rdb := storeWithPrefix(t, srv.Addr, "p:")
	ctx := context.Background()
	until := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	if err := s.Ban(ctx, "acme", "t4_acme_standup", "bob", until); err != nil {
		t.Fatal(err)
	}
	key := "p:lkgate:ban:4:acme15:t4_acme_standupbob"
	if v, err := rdb.Get(ctx, key).Int64(); err != nil || v != until.UnixMilli() {
		t.Errorf("%s holds %d %v, want %d", key, v, err, until.UnixMilli())
	}
	if exp, err := rdb.PExpireTime(ctx, key).Result(); err != nil || exp.Milliseconds() != until.Add(30*time.Second).UnixMilli() {
		t.Errorf("expires at %d %v, want %d", exp.Milliseconds(), err, until.Add(30*time.Second).UnixMilli())
	}
}

// An unreachable Redis is an error, which lkgate turns into a refusal.
func TestBanStoreUnreachable(t *testing.T) {
	s := newStore(t, closedPort(t))
	ctx := context.Background()
	if err := s.Ban(ctx, "acme", "r", "bob", time.Now().Add(time.Hour)); err == nil {
		t.Error("Ban on a closed port succeeded")
	}
	if _, err := s.BannedUntil(ctx, "acme", "r", "bob", time.Now()); err == nil {
		t.Error("BannedUntil on a closed port succeeded")
	}
	if err := s.Unban(ctx, "acme", "r", "bob"); err == nil {
		t.Error("Unban on a closed port succeeded")
	}
}

// countingHook counts the commands a client sends to Redis.
type countingHook struct{ n *atomic.Int64 }

func (h countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}

// With the Redis store as Config.Bans, a token costs one Redis round trip
// (one GET), whether or not any ban exists, and a ban's replicas share it:
// a ban made through one Manager refuses the token on another.
func TestTokenBanCheckIsOneRedisRoundTrip(t *testing.T) {
	srv := redisserver.Start(t)
	fake := lkgatetest.NewServer(t)
	replica := func() (*lkgate.Manager, *atomic.Int64) {
		var n atomic.Int64
		client := redis.NewClient(&redis.Options{Addr: srv.Addr})
		client.AddHook(countingHook{&n})
		t.Cleanup(func() { client.Close() })
		store, err := redislimit.New(redislimit.Config{Client: client})
		if err != nil {
			t.Fatal(err)
		}
		return fake.NewManager(t, lkgate.Config{Bans: store}), &n
	}
	a, _ := replica()
	b, n := replica()
	ctx := context.Background()
	// The connection's own handshake (HELLO, CLIENT SETINFO) is not the
	// token's: count from a warm connection.
	if _, err := b.Token(ctx, "acme", lkgate.TokenRequest{Room: "standup", Identity: "carol"}); err != nil {
		t.Fatal(err)
	}
	n.Store(0)
	if _, err := b.Token(ctx, "acme", lkgate.TokenRequest{Room: "standup", Identity: "bob"}); err != nil {
		t.Fatal(err)
	}
	if got := n.Load(); got != 1 {
		t.Errorf("a token with no ban anywhere cost %d Redis round trips, want 1", got)
	}
	if _, err := a.Ban(ctx, "acme", "standup", "bob", time.Hour); err != nil {
		t.Fatal(err)
	}
	n.Store(0)
	if _, err := b.Token(ctx, "acme", lkgate.TokenRequest{Room: "standup", Identity: "bob"}); !errors.Is(err, lkgate.ErrForbidden) {
		t.Errorf("the other replica's token for the banned bob: %v", err)
	}
	if got := n.Load(); got != 1 {
		t.Errorf("a refused token cost %d Redis round trips, want 1", got)
	}
}
