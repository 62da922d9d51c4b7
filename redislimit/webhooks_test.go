package redislimit_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/redis/go-redis/v9"
	"github.com/twitchtv/twirp"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/internal/redisserver"
	"github.com/lkgate/lkgate/internal/seentest"
	"github.com/lkgate/lkgate/lkgatetest"
	"github.com/lkgate/lkgate/redislimit"
)

// The Redis store passes the SeenEvents contract that the in-process store
// passes too.
func TestSeenEventsContract(t *testing.T) {
	srv := redisserver.Start(t)
	var n atomic.Int32
	seentest.Run(t, func(t *testing.T) lkgate.SeenEvents {
		s, _ := storeWithPrefix(t, srv.Addr, fmt.Sprintf("c%d:", n.Add(1)))
		return s
	})
}

// What a seen id is in Redis: one key, expiring at the event's until.
func TestSeenEventRecord(t *testing.T) {
	srv := redisserver.Start(t)
	s, rdb := storeWithPrefix(t, srv.Addr, "p:")
	ctx := context.Background()
	until := time.Now().Add(lkgate.WebhookWindow).Truncate(time.Millisecond)
	if first, err := s.Seen(ctx, "EV_a", until); !first || err != nil {
		t.Fatalf("Seen: %v %v", first, err)
	}
	exp, err := rdb.PExpireTime(ctx, "p:lkgate:webhook:EV_a").Result()
	if err != nil || exp.Milliseconds() != until.UnixMilli() {
		t.Errorf("the id expires at %d (unix ms) %v, want %d", exp.Milliseconds(), err, until.UnixMilli())
	}
	if err := s.Forget(ctx, "EV_a"); err != nil {
		t.Fatal(err)
	}
	if n, err := rdb.Exists(ctx, "p:lkgate:webhook:EV_a").Result(); n != 0 || err != nil {
		t.Errorf("forgotten id still stored: %d %v", n, err)
	}
}

// An unreachable Redis is an error, which the webhook route answers 503.
func TestSeenEventsUnreachable(t *testing.T) {
	s := newStore(t, closedPort(t))
	if _, err := s.Seen(context.Background(), "EV_a", time.Now().Add(time.Minute)); err == nil {
		t.Error("Seen on a closed port succeeded")
	}
	if err := s.Forget(context.Background(), "EV_a"); err == nil {
		t.Error("Forget on a closed port succeeded")
	}
}

// webhookReplica is one replica's webhook route: its own Manager on the
// shared LiveKit and its own Redis connection, with the Redis store as its
// SeenEvents, on clock.
func webhookReplica(t *testing.T, redisAddr string, fake *lkgatetest.Server, now func() time.Time, delivered *atomic.Int32) *httpx.Handler {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	t.Cleanup(func() { client.Close() })
	store, err := redislimit.New(redislimit.Config{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	m, err := lkgate.New(lkgate.Config{URL: fake.URL(), APIKey: lkgatetest.APIKey, APISecret: lkgatetest.APISecret, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	h, err := httpx.New(m, httpx.Config{Authenticator: httpx.Unauthenticated(), SeenEvents: store,
		OnWebhook: func(context.Context, lkgate.WebhookEvent) { delivered.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// deliver posts ev to h as LiveKit does, and returns the status and the
// body's status or problem code.
func deliver(t *testing.T, h *httpx.Handler, ev *livekit.WebhookEvent) (int, string) {
	t.Helper()
	body, err := protojson.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	tok, err := auth.NewAccessToken(lkgatetest.APIKey, lkgatetest.APISecret).SetValidFor(5 * time.Minute).SetSha256(base64.StdEncoding.EncodeToString(sum[:])).ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/livekit/webhook", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/webhook+json")
	req.Header.Set("Authorization", tok)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code >= 400 {
		var p httpx.Problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
		}
		return rec.Code, p.Code
	}
	var answer httpx.WebhookResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
		t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
	}
	return rec.Code, answer.Status
}

// Replicas behind one webhook URL share the ids they handled: a captured
// event replayed to the other replica within the window is a duplicate,
// after it refused; a delivery one replica failed is handled by the other
// on LiveKit's retry; and concurrent deliveries of one event to both are
// handled once.
func TestReplicasShareWebhookIDs(t *testing.T) {
	srv := redisserver.Start(t)
	fake := lkgatetest.NewServer(t)
	// The replicas' clocks run ahead of Redis's by the time the test
	// advances them; ids are stored until their until on Redis's clock,
	// which the window keeps in the future.
	clk := lkgatetest.NewClock(time.Now().Truncate(time.Second))
	var delivered atomic.Int32
	one, two := webhookReplica(t, srv.Addr, fake, clk.Now, &delivered), webhookReplica(t, srv.Addr, fake, clk.Now, &delivered)

	left := &livekit.WebhookEvent{Event: "participant_left", Id: "EV_left", CreatedAt: clk.Now().Unix(),
		Room: &livekit.Room{Name: "t4_acme_r"}, Participant: &livekit.ParticipantInfo{Identity: "phone", Kind: livekit.ParticipantInfo_SIP}}
	if status, got := deliver(t, one, left); status != 200 || got != "ok" {
		t.Fatalf("first delivery: %d %s", status, got)
	}
	if status, got := deliver(t, two, left); status != 200 || got != "duplicate" {
		t.Errorf("replay to the other replica: %d %s; want 200 duplicate", status, got)
	}
	clk.Advance(lkgate.WebhookWindow)
	if status, got := deliver(t, two, left); status != 401 || got != httpx.CodeWebhookExpired {
		t.Errorf("replay after the window: %d %s; want 401 %s", status, got, httpx.CodeWebhookExpired)
	}

	// One replica's guard cannot reach LiveKit: 503, and the id is
	// forgotten, so LiveKit's retry reaching the other is handled.
	lkName, err := lkgate.ScopedRoomName("acme", "g")
	if err != nil {
		t.Fatal(err)
	}
	p := fake.AddParticipant(lkName, lkgatetest.Participant{Identity: "intruder", Attributes: map[string]string{lkgate.TenantAttribute: "globex"}})
	room, _ := fake.Room(lkName)
	join := &livekit.WebhookEvent{Event: "participant_joined", Id: "EV_join", CreatedAt: clk.Now().Unix(), Room: room, Participant: p}
	fake.SetError("RemoveParticipant", twirp.NewError(twirp.Unavailable, "down"))
	if status, _ := deliver(t, one, join); status != 503 {
		t.Fatalf("guard failing: %d, want 503", status)
	}
	fake.SetError("RemoveParticipant", nil)
	if status, got := deliver(t, two, join); status != 200 || got != "ok" {
		t.Errorf("retry on the other replica: %d %s", status, got)
	}
	if ps := fake.Participants(lkName); len(ps) != 0 {
		t.Errorf("the retry did not run the guard: %v", ps)
	}

	before := delivered.Load()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := []*httpx.Handler{one, two}[i%2]
			if status, _ := deliver(t, h, &livekit.WebhookEvent{Event: "room_started", Id: "EV_race", CreatedAt: clk.Now().Unix(), Room: &livekit.Room{Name: "t4_acme_x"}}); status != 200 {
				t.Errorf("concurrent delivery: %d", status)
			}
		}()
	}
	wg.Wait()
	if n := delivered.Load() - before; n != 1 {
		t.Errorf("one event delivered 8 times to two replicas was handled %d times, want 1", n)
	}
}
