package redislimit_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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

// What a ban is in Redis: one key holding its end, kept 30 s past it (a
// layout stable across a rolling upgrade: STABILITY.md).
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

// What the list of bans is in Redis: one sorted set, whose member is the
// ban key's part after "lkgate:ban:" and whose score is the ban's end in
// unix ms, dropped by Unban and trimmed 30 s past the end by Ban and Bans.
func TestBanList(t *testing.T) {
	srv := redisserver.Start(t)
	s, rdb := storeWithPrefix(t, srv.Addr, "p:")
	ctx := context.Background()
	const list, member = "p:lkgate:bans", "4:acme15:t4_acme_standupbob"
	score := func(member string) (int64, bool) {
		t.Helper()
		v, err := rdb.ZScore(ctx, list, member).Result()
		if errors.Is(err, redis.Nil) {
			return 0, false
		}
		if err != nil {
			t.Fatal(err)
		}
		return int64(v), true
	}
	until := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	if err := s.Ban(ctx, "acme", "t4_acme_standup", "bob", until); err != nil {
		t.Fatal(err)
	}
	if got, ok := score(member); !ok || got != until.UnixMilli() {
		t.Errorf("%s %s scored %d (listed %t), want %d", list, member, got, ok, until.UnixMilli())
	}
	if err := s.Unban(ctx, "acme", "t4_acme_standup", "bob"); err != nil {
		t.Fatal(err)
	}
	if _, ok := score(member); ok {
		t.Errorf("%s %s still listed after Unban", list, member)
	}

	// Members past their end by more than the slack are trimmed, the
	// others kept (Redis's and the replicas' clocks may be 30 s apart).
	seed := func() (now time.Time) {
		t.Helper()
		now = time.Now()
		err := rdb.ZAdd(ctx, list,
			redis.Z{Score: float64(now.Add(-40 * time.Second).UnixMilli()), Member: "1:a1:bgone"},
			redis.Z{Score: float64(now.Add(-20 * time.Second).UnixMilli()), Member: "1:a1:bkept"},
		).Err()
		if err != nil {
			t.Fatal(err)
		}
		return now
	}
	seed()
	if err := s.Ban(ctx, "acme", "t4_acme_standup", "bob", until); err != nil {
		t.Fatal(err)
	}
	if _, ok := score("1:a1:bgone"); ok {
		t.Error("a member 40 s past its end survived a Ban")
	}
	if _, ok := score("1:a1:bkept"); !ok {
		t.Error("a member 20 s past its end was trimmed by a Ban")
	}
	now := seed()
	if _, err := s.Bans(ctx, now); err != nil {
		t.Fatal(err)
	}
	if _, ok := score("1:a1:bgone"); ok {
		t.Error("a member 40 s past its end survived Bans")
	}
	if _, ok := score("1:a1:bkept"); !ok {
		t.Error("a member 20 s past its end was trimmed by Bans")
	}
}

// The list never misses a ban its key holds. Redis runs one client's
// pipeline in order but may interleave two clients', so the orders keep
// it: Ban sets the key, then lists it, lengthening a listed end only
// (ZADD GT); Unban unlists, then deletes the key. A ban interleaved with
// an unban then leaves no key or a listed one, and a shortened ban stays
// listed at its longer end, which the sweep checks against the key.
func TestBanListNeverMissesAHeldBan(t *testing.T) {
	srv := redisserver.Start(t)
	var sent []string
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	client.AddHook(recordingHook{&sent})
	t.Cleanup(func() { client.Close() })
	s, err := redislimit.New(redislimit.Config{Client: client, Prefix: "p:"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Warm the connection: its handshake is a pipeline too.
	if err := client.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	long, short := time.Now().Add(time.Hour).Truncate(time.Millisecond), time.Now().Add(time.Minute).Truncate(time.Millisecond)
	for _, c := range []struct {
		name string
		call func() error
		want []string
	}{
		{"Ban", func() error { return s.Ban(ctx, "acme", "standup", "bob", long) }, []string{"set", "zadd gt", "zremrangebyscore"}},
		{"Ban, shortened", func() error { return s.Ban(ctx, "acme", "standup", "bob", short) }, []string{"set", "zadd gt", "zremrangebyscore"}},
		{"Unban", func() error { return s.Unban(ctx, "acme", "standup", "bob") }, []string{"zrem", "del"}},
	} {
		sent = nil
		if err := c.call(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !slices.Equal(sent, c.want) {
			t.Errorf("%s sent %v, want %v in that order", c.name, sent, c.want)
		}
		if c.name == "Ban, shortened" {
			bans, err := s.Bans(ctx, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if len(bans) != 1 || !bans[0].Until.Equal(long) {
				t.Errorf("after the ban was shortened it is listed as %+v, want until %s", bans, long)
			}
		}
	}
}

// recordingHook records the commands of each pipeline a client sends: the
// name, and "gt" after ZADD's flag.
type recordingHook struct{ sent *[]string }

func (h recordingHook) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h recordingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h recordingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			name := c.Name()
			if args := c.Args(); name == "zadd" && len(args) > 2 {
				if flag, _ := args[2].(string); strings.EqualFold(flag, "gt") {
					name += " gt"
				}
			}
			*h.sent = append(*h.sent, name)
		}
		return next(ctx, cmds)
	}
}

// A member that is not a ban's (written by something else) is skipped by
// Bans, not an error.
func TestBansSkipsForeignMembers(t *testing.T) {
	srv := redisserver.Start(t)
	s, rdb := storeWithPrefix(t, srv.Addr, "p:")
	ctx := context.Background()
	until := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	if err := s.Ban(ctx, "acme", "standup", "bob", until); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"", "bob", "4:acme", "4:acme7:standu", "9:acme7:standupbob", "-1:a1:bc", "+1:a1:bc", "01:a1:bc", "1:a01:bc"} {
		if err := rdb.ZAdd(ctx, "p:lkgate:bans", redis.Z{Score: float64(until.UnixMilli()), Member: m}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	bans, err := s.Bans(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := []lkgate.Ban{{Tenant: "acme", Room: "standup", Identity: "bob", Until: until}}
	if diff := cmp.Diff(want, bans); diff != "" {
		t.Errorf("Bans (-want +got):\n%s", diff)
	}
}

// Ban, Unban and Bans are one Redis round trip each, though each sends
// two or three commands.
func TestBanStoreRoundTrips(t *testing.T) {
	srv := redisserver.Start(t)
	var n atomic.Int64
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	client.AddHook(countingHook{&n})
	t.Cleanup(func() { client.Close() })
	s, err := redislimit.New(redislimit.Config{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Warm the connection: its handshake is not the calls'.
	if err := client.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		call func() error
	}{
		{"Ban", func() error { return s.Ban(ctx, "acme", "standup", "bob", time.Now().Add(time.Hour)) }},
		{"Bans", func() error { _, err := s.Bans(ctx, time.Now()); return err }},
		{"Unban", func() error { return s.Unban(ctx, "acme", "standup", "bob") }},
	} {
		n.Store(0)
		if err := c.call(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := n.Load(); got != 1 {
			t.Errorf("%s cost %d Redis round trips, want 1", c.name, got)
		}
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
	if _, err := s.Bans(ctx, time.Now()); err == nil {
		t.Error("Bans on a closed port succeeded")
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
