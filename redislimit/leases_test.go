package redislimit_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/redis/go-redis/v9"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/internal/leasetest"
	"github.com/lkgate/lkgate/internal/redisserver"
	"github.com/lkgate/lkgate/lkgatetest"
	"github.com/lkgate/lkgate/redislimit"
)

// storeWithPrefix is a Store on the Redis at addr with its own prefix, and
// a raw client to read what it stores.
func storeWithPrefix(t *testing.T, addr, prefix string) (*redislimit.Store, *redis.Client) {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { client.Close() })
	s, err := redislimit.New(redislimit.Config{Client: client, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return s, client
}

// The Redis store passes the LeaseStore contract that the in-process store
// passes too. Each case has its own prefix on one Redis, with the
// characters SCAN's pattern would interpret in it.
func TestLeaseStoreContract(t *testing.T) {
	srv := redisserver.Start(t)
	var n atomic.Int32
	leasetest.Run(t, func(t *testing.T) lkgate.LeaseStore {
		s, _ := storeWithPrefix(t, srv.Addr, fmt.Sprintf("c%d[*?]\\:", n.Add(1)))
		return s
	})
}

// What a lease is in Redis: one hash with its tenant and end (the
// Manager's clock, in unix milliseconds), expiring LeaseRetention after
// the end, which only moves forward.
func TestLeaseRecord(t *testing.T) {
	srv := redisserver.Start(t)
	s, rdb := storeWithPrefix(t, srv.Addr, "p:")
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	key := "p:lkgate:lease:standup"
	check := func(what, tenant string, until time.Time) {
		t.Helper()
		got, err := rdb.HGetAll(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"tenant": tenant, "until": strconv.FormatInt(until.UnixMilli(), 10)}
		if len(got) != 2 || got["tenant"] != want["tenant"] || got["until"] != want["until"] {
			t.Errorf("%s: record %v, want %v", what, got, want)
		}
		exp, err := rdb.PExpireTime(ctx, key).Result()
		if want := until.Add(lkgate.LeaseRetention); err != nil || exp != time.Duration(want.UnixMilli())*time.Millisecond {
			t.Errorf("%s: expires at %v (unix ms) %v, want %d", what, exp.Milliseconds(), err, want.UnixMilli())
		}
	}
	lease := func(tenant string, until time.Time) string {
		t.Helper()
		h, err := s.Lease(ctx, "standup", tenant, until, now)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	if h := lease("acme", now.Add(10*time.Minute)); h != "" {
		t.Fatalf("free name refused by %q", h)
	}
	check("taken", "acme", now.Add(10*time.Minute))
	lease("acme", now.Add(5*time.Minute))
	check("a shorter lease", "acme", now.Add(10*time.Minute))
	if h := lease("globex", now.Add(time.Hour)); h != "acme" {
		t.Fatalf("holder %q, want acme", h)
	}
	check("refused", "acme", now.Add(10*time.Minute))
	if err := s.Renew(ctx, map[string]string{"standup": "globex"}, now.Add(20*time.Minute)); err != nil {
		t.Fatal(err)
	}
	check("renewed", "acme", now.Add(20*time.Minute))
	if err := s.RenewAfter(ctx, now, now.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	check("renewed after", "acme", now.Add(30*time.Minute))

	if err := s.SetLastSweep(ctx, now); err != nil {
		t.Fatal(err)
	}
	v, err := rdb.Get(ctx, "p:lkgate:lease-sweep").Result()
	exp, err2 := rdb.PExpireTime(ctx, "p:lkgate:lease-sweep").Result()
	if err != nil || err2 != nil || v != strconv.FormatInt(now.UnixMilli(), 10) || exp.Milliseconds() != now.Add(lkgate.LeaseRetention).UnixMilli() {
		t.Errorf("sweep record %q (%v), expiring at %d (%v); want %d expiring %s later", v, err, exp.Milliseconds(), err2, now.UnixMilli(), lkgate.LeaseRetention)
	}
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil || len(keys) != 2 {
		t.Errorf("keys %v %v, want the lease and the sweep", keys, err)
	}
}

// RenewAfter on one prefix leaves another prefix's leases alone, even one
// that SCAN's pattern would match if the prefix were not quoted.
func TestRenewAfterStaysInItsPrefix(t *testing.T) {
	srv := redisserver.Start(t)
	star, rdb := storeWithPrefix(t, srv.Addr, "x*")
	other, _ := storeWithPrefix(t, srv.Addr, "xy")
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	for _, s := range []*redislimit.Store{star, other} {
		if h, err := s.Lease(ctx, "standup", "acme", now.Add(time.Minute), now); h != "" || err != nil {
			t.Fatal(h, err)
		}
	}
	if err := star.RenewAfter(ctx, now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]time.Time{"x*lkgate:lease:standup": now.Add(time.Hour), "xylkgate:lease:standup": now.Add(time.Minute)} {
		if got, err := rdb.HGet(ctx, key, "until").Result(); err != nil || got != strconv.FormatInt(want.UnixMilli(), 10) {
			t.Errorf("%s until %s %v, want %d", key, got, err, want.UnixMilli())
		}
	}
}

// A Redis that lost its script cache (a restart, SCRIPT FLUSH) still runs
// the pipelined scripts.
func TestLeaseScriptsAfterFlush(t *testing.T) {
	srv := redisserver.Start(t)
	s, rdb := storeWithPrefix(t, srv.Addr, "")
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	if err := s.Renew(ctx, map[string]string{"a": "acme"}, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	for _, step := range []func() error{
		func() error {
			return s.Renew(ctx, map[string]string{"a": "acme", "b": "globex"}, now.Add(2*time.Minute))
		},
		func() error { return s.RenewAfter(ctx, now, now.Add(3*time.Minute)) },
	} {
		if err := rdb.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if err := step(); err != nil {
			t.Fatalf("after SCRIPT FLUSH: %v", err)
		}
	}
	for _, name := range []string{"a", "b"} {
		if got, err := rdb.HGet(ctx, "lkgate:lease:"+name, "until").Result(); err != nil || got != strconv.FormatInt(now.Add(3*time.Minute).UnixMilli(), 10) {
			t.Errorf("%s until %s %v", name, got, err)
		}
	}
}

func TestLeaseUnreachable(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: closedPort(t), MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { client.Close() })
	s, err := redislimit.New(redislimit.Config{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now()
	calls := map[string]func() error{
		"Lease":        func() error { _, err := s.Lease(ctx, "r", "acme", now, now); return err },
		"Renew":        func() error { return s.Renew(ctx, map[string]string{"r": "acme"}, now) },
		"RenewAfter":   func() error { return s.RenewAfter(ctx, now, now) },
		"LastSweep":    func() error { _, err := s.LastSweep(ctx); return err },
		"SetLastSweep": func() error { return s.SetLastSweep(ctx, now) },
	}
	for name, call := range calls {
		if err := call(); err == nil {
			t.Errorf("%s on a closed port succeeded", name)
		}
	}
}

// leaseCfg makes replica's Manager a SharedNames one: its Redis Store
// keeps the leases.
var leaseCfg = lkgate.Config{RoomNames: lkgate.SharedNames, Limits: lkgate.LimitConfig{Default: lkgate.Limits{MaxRooms: 10}}}

// A name one tenant used stays its own across replicas and a restart,
// after its room is gone from LiveKit: only the lease, in Redis, can say so.
func TestReplicasShareLeases(t *testing.T) {
	srv := redisserver.Start(t)
	fake := lkgatetest.NewServer(t)
	rooms := lksdk.NewRoomServiceClient(fake.URL(), lkgatetest.APIKey, lkgatetest.APISecret)
	ctx := context.Background()
	one, two := replica(t, srv.Addr, fake, leaseCfg), replica(t, srv.Addr, fake, leaseCfg)

	if _, err := one.Token(ctx, "acme", lkgate.TokenRequest{Room: "standup", Identity: "alice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := rooms.DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: "standup"}); err != nil {
		t.Fatal(err)
	}
	refused := func(m *lkgate.Manager, who string) {
		t.Helper()
		_, err := m.Token(ctx, "globex", lkgate.TokenRequest{Room: "standup", Identity: "gina"})
		if !errors.Is(err, lkgate.ErrForbidden) {
			t.Errorf("%s: globex took acme's leased name: %v, want ErrForbidden", who, err)
		}
		if _, ok := fake.Room("standup"); ok {
			t.Errorf("%s: the refused claim re-created the room", who)
		}
	}
	refused(two, "the other replica")
	if _, err := two.Token(ctx, "globex", lkgate.TokenRequest{Room: "retro", Identity: "gina"}); err != nil {
		t.Errorf("globex's own new name on the other replica: %v", err)
	}

	one.Close()
	restarted := replica(t, srv.Addr, fake, leaseCfg)
	if err := restarted.SweepLeases(ctx); err != nil {
		t.Fatal(err)
	}
	refused(restarted, "a restarted replica")
	if _, err := restarted.Token(ctx, "acme", lkgate.TokenRequest{Room: "standup", Identity: "alice"}); err != nil {
		t.Errorf("acme's own leased name after the restart: %v", err)
	}
}
