package redislimit_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"
	"github.com/redis/go-redis/v9"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/internal/redisserver"
	"github.com/lkgate/lkgate/lkgatetest"
	"github.com/lkgate/lkgate/redislimit"
	"github.com/lkgate/lkgate/redislock"
)

func newStore(t *testing.T, addr string) *redislimit.Store {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { client.Close() })
	s, err := redislimit.New(redislimit.Config{Client: client, Prefix: "test:"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// replica is one lkgate replica: its own Redis connections, with one
// redislimit Store for limits (and, under SharedNames, leases) and a
// redislock Locker, sharing the Redis server and the LiveKit with the
// others.
func replica(t *testing.T, redisAddr string, fake *lkgatetest.Server, cfg lkgate.Config) *lkgate.Manager {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	t.Cleanup(func() { client.Close() })
	store, err := redislimit.New(redislimit.Config{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	locker, err := redislock.New(redislock.Config{Client: client, RetryInterval: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cfg.URL, cfg.APIKey, cfg.APISecret = fake.URL(), lkgatetest.APIKey, lkgatetest.APISecret
	cfg.Locker, cfg.Limits.Store = locker, store
	if cfg.RoomNames == lkgate.SharedNames {
		cfg.Leases = store
	}
	m, err := lkgate.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// Two replicas sharing Redis enforce one token rate and one room quota
// together.
func TestReplicasShareLimits(t *testing.T) {
	srv := redisserver.Start(t)
	fake := lkgatetest.NewServer(t)
	limits := lkgate.Limits{TokenRate: lkgate.PerMinute(10, 10), MaxRooms: 4}
	cfg := lkgate.Config{Limits: lkgate.LimitConfig{Default: limits}}
	replicas := []*lkgate.Manager{replica(t, srv.Addr, fake, cfg), replica(t, srv.Addr, fake, cfg)}

	var minted, limited atomic.Int32
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			_, err := replicas[i%2].Token(context.Background(), "acme", lkgate.TokenRequest{Room: "standup", Identity: fmt.Sprint("u", i)})
			switch {
			case err == nil:
				minted.Add(1)
			case errors.Is(err, lkgate.ErrLimited):
				limited.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if minted.Load() != 10 || limited.Load() != 20 {
		t.Errorf("minted %d, limited %d; want 10 and 20 across both replicas", minted.Load(), limited.Load())
	}

	// Room quota: another tenant races 12 new rooms through both replicas.
	var claimed atomic.Int32
	for i := range 12 {
		wg.Go(func() {
			_, err := replicas[i%2].Token(context.Background(), "globex", lkgate.TokenRequest{Room: fmt.Sprint("g", i), Identity: "u"})
			if err == nil {
				claimed.Add(1)
			} else if !errors.Is(err, lkgate.ErrLimited) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if claimed.Load() != 4 {
		t.Errorf("globex claimed %d rooms through two replicas, want its quota of 4", claimed.Load())
	}
}

func TestRate(t *testing.T) {
	s := newStore(t, redisserver.Start(t).Addr)
	ctx := context.Background()
	r := lkgate.Rate{Events: 2, Per: 200 * time.Millisecond, Burst: 2}
	for i := range 2 {
		if ok, _, err := s.Allow(ctx, "k", r); err != nil || !ok {
			t.Fatalf("event %d: %v %v", i, ok, err)
		}
	}
	ok, wait, err := s.Allow(ctx, "k", r)
	if err != nil || ok || wait <= 0 || wait > 100*time.Millisecond {
		t.Fatalf("over the burst: ok %v wait %s err %v; want a refusal for up to 100ms", ok, wait, err)
	}
	if ok, _, _ := s.Allow(ctx, "other", r); !ok {
		t.Error("keys are not independent")
	}
	time.Sleep(wait + 10*time.Millisecond)
	if ok, _, err := s.Allow(ctx, "k", r); err != nil || !ok {
		t.Errorf("after waiting RetryAfter: %v %v", ok, err)
	}
}

func TestSlots(t *testing.T) {
	srv := redisserver.Start(t)
	wantSlots(t, newStore(t, srv.Addr), newStore(t, srv.Addr), "calls")
}

// wantSlots checks key's slots through two replicas' stores: two of two
// taken, a third refused, a held one renewed, an expired one free, a
// released one free, releasing a free one no error.
func wantSlots(t *testing.T, a, b *redislimit.Store, key string) {
	t.Helper()
	ctx := context.Background()
	acquire := func(s *redislimit.Store, holder string, ttl time.Duration) bool {
		t.Helper()
		ok, err := s.Acquire(ctx, key, holder, 2, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !acquire(a, "h1", time.Hour) || !acquire(b, "h2", 150*time.Millisecond) {
		t.Fatal("free slots refused")
	}
	if acquire(a, "h3", time.Hour) {
		t.Fatal("a third slot of two")
	}
	if !acquire(b, "h1", time.Hour) {
		t.Error("renewing a held slot was refused")
	}
	holders, err := a.Holders(ctx, key)
	if err != nil || len(holders) != 2 || time.Until(holders["h1"]) < 50*time.Minute || time.Until(holders["h2"]) > time.Second {
		t.Errorf("holders %v, %v", holders, err)
	}
	time.Sleep(200 * time.Millisecond)
	if !acquire(a, "h3", time.Hour) {
		t.Error("an expired lease still holds its slot")
	}
	if err := b.Release(ctx, key, "h1"); err != nil {
		t.Fatal(err)
	}
	if err := b.Release(ctx, key, "never-held"); err != nil {
		t.Errorf("releasing a free slot: %v", err)
	}
	if holders, _ := a.Holders(ctx, key); len(holders) != 1 {
		t.Errorf("after release: %v", holders)
	}
}

// An unreachable Redis is an error, which lkgate turns into a refusal.
func TestUnreachable(t *testing.T) {
	s := newStore(t, closedPort(t))
	if _, _, err := s.Allow(context.Background(), "k", lkgate.PerSecond(1, 1)); err == nil {
		t.Error("Allow on a closed port succeeded")
	}
	if _, err := s.Acquire(context.Background(), "k", "h", 1, time.Second); err == nil {
		t.Error("Acquire on a closed port succeeded")
	}
	if _, err := redislimit.New(redislimit.Config{}); err == nil {
		t.Error("New without a client succeeded")
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// BenchmarkAllow is one shared rate check: one round trip to Redis.
func BenchmarkAllow(b *testing.B) {
	srv := redisserver.Start(b)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	b.Cleanup(func() { client.Close() })
	s, err := redislimit.New(redislimit.Config{Client: client})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	r := lkgate.PerSecond(1<<30, 1<<30)
	for b.Loop() {
		if _, _, err := s.Allow(ctx, "lkgate:limit:token_rate:acme", r); err != nil {
			b.Fatal(err)
		}
	}
}

// Two replicas sharing Redis hold one set of call slots: racing calls to
// one participant dial it once, the limit counts both replicas' calls, a
// participant_left handled by either frees its own call's slot and no
// other, and a call gone from LiveKit is reconciled across replicas,
// Redis's clock against the Managers'.
func TestReplicasShareCallSlots(t *testing.T) {
	srv := redisserver.Start(t)
	fake := lkgatetest.NewServer(t)
	var offset atomic.Int64
	cfg := lkgate.Config{
		Now:    func() time.Time { return time.Now().Add(time.Duration(offset.Load())) },
		Limits: lkgate.LimitConfig{Default: lkgate.Limits{MaxConcurrentSIPCalls: 2}},
	}
	managers := []*lkgate.Manager{replica(t, srv.Addr, fake, cfg), replica(t, srv.Addr, fake, cfg)}
	sipCfg := lkgate.SIPConfig{Trunks: lkgate.StaticTrunk(fake.AddOutboundTrunk("pbx.example:5060", "+15550000001"))}
	replicas := []*lkgate.SIP{fake.NewSIP(t, managers[0], sipCfg), fake.NewSIP(t, managers[1], sipCfg)}
	ctx := context.Background()
	call := func(i int, identity string) error {
		_, err := replicas[i%2].Call(ctx, "acme", lkgate.CallRequest{Room: "support", Identity: identity, To: "+15550100"})
		return err
	}
	support, err := managers[0].LiveKitRoom("acme", "support")
	if err != nil {
		t.Fatal(err)
	}
	left := func(identity string) *livekit.WebhookEvent {
		t.Helper()
		r, _ := fake.Room(support)
		for _, p := range fake.Participants(support) {
			if p.Identity == identity {
				return &livekit.WebhookEvent{Event: webhook.EventParticipantLeft, Room: r, Participant: p}
			}
		}
		t.Fatalf("%s is not in the room", identity)
		return nil
	}
	wantErr := func(err, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Fatalf("err %v, want %v", err, want)
		}
	}

	var placed, refused atomic.Int32
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			switch err := call(i, "p1"); {
			case err == nil:
				placed.Add(1)
			case errors.Is(err, lkgate.ErrCallInProgress):
				refused.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if placed.Load() != 1 || refused.Load() != 9 || len(fake.Dialed()) != 1 {
		t.Fatalf("%d placed, %d refused, %d dialed; want 1, 9, 1", placed.Load(), refused.Load(), len(fake.Dialed()))
	}
	if err := call(1, "p2"); err != nil {
		t.Fatal(err)
	}
	wantErr(call(0, "p3"), lkgate.ErrLimited)

	// p1's call ends; replica 1 handles its participant_left.
	first := left("p1")
	if _, err := lkgate.NewRoomService(fake.URL(), lkgatetest.APIKey, lkgatetest.APISecret).RemoveParticipant(ctx,
		&livekit.RoomParticipantIdentity{Room: support, Identity: "p1"}); err != nil {
		t.Fatal(err)
	}
	if err := replicas[1].ReleaseCall(ctx, first); err != nil {
		t.Fatal(err)
	}
	if err := call(0, "p1"); err != nil {
		t.Fatalf("calling p1 again after its call ended: %v", err)
	}
	// The first call's event again, on the other replica, frees nothing.
	if err := replicas[0].ReleaseCall(ctx, first); err != nil {
		t.Fatal(err)
	}
	wantErr(call(1, "p3"), lkgate.ErrLimited)
	wantErr(call(0, "p1"), lkgate.ErrCallInProgress)

	// p2 is replaced by a participant joining as it, which ends its call;
	// no webhook comes. Once settled, a refusal reconciles it.
	fake.AddParticipant(support, lkgatetest.Participant{Identity: "p2"})
	wantErr(call(1, "p3"), lkgate.ErrLimited)
	offset.Store(int64(4 * time.Minute))
	if err := call(1, "p3"); err != nil {
		t.Fatalf("the slot of a replaced call was not reconciled: %v", err)
	}
	if n := len(fake.Dialed()); n != 4 {
		t.Errorf("%d calls dialed, want 4", n)
	}
}
