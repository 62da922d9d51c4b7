package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/internal/lkserver"
	"github.com/lkgate/lkgate/internal/redisserver"
	"github.com/lkgate/lkgate/lkgatetest"
)

// fakeRooms is a roomLister whose rooms and error a test sets.
type fakeRooms struct {
	mu    sync.Mutex
	rooms []*livekit.Room
	err   error
}

func (f *fakeRooms) set(err error, rooms ...*livekit.Room) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rooms, f.err = rooms, err
}

func (f *fakeRooms) ListRooms(context.Context, *livekit.ListRoomsRequest) (*livekit.ListRoomsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &livekit.ListRoomsResponse{Rooms: f.rooms}, f.err
}

// healthOf serves GET /healthz from h and decodes the answer.
func healthOf(t *testing.T, h http.Handler) (int, healthStatus) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	var st healthStatus
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("/healthz: %d %s: %v", rec.Code, rec.Body, err)
	}
	return rec.Code, st
}

// The check judges rooms that appear while the server runs: one that no
// webhook names within the bound makes /healthz 503 with the reason and
// logs one warning; a webhook naming it heals it. Rooms open at start,
// rooms announced before they are listed, and rooms gone are not held
// against it; a failing listing changes nothing.
func TestWebhookHealthJudgesNewRooms(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var logs bytes.Buffer
	rooms := &fakeRooms{}
	h := newWebhookHealth(rooms, 2*time.Minute, "/api/v1/livekit/webhook", slog.New(slog.NewTextHandler(&logs, nil)), func() time.Time { return now })
	ctx := context.Background()
	old := &livekit.Room{Sid: "RM_old", Name: "t4_acme_old"}
	rooms.set(nil, old)
	h.check(ctx)
	if code, st := healthOf(t, h); code != 200 || st.Status != "ok" || st.CheckedAt == nil || !st.CheckedAt.Equal(now) || st.LastWebhook != nil {
		t.Fatalf("at start: %d %+v", code, st)
	}

	fresh := &livekit.Room{Sid: "RM_new", Name: "t4_acme_new"}
	early := &livekit.Room{Sid: "RM_early", Name: "t4_acme_early"}
	h.received(ctx, lkgate.WebhookEvent{Event: &livekit.WebhookEvent{Event: "room_started", Room: early}})
	rooms.set(nil, old, fresh, early)
	h.check(ctx)
	now = now.Add(2 * time.Minute)
	h.check(ctx)
	if code, st := healthOf(t, h); code != 200 {
		t.Fatalf("at the bound: %d %+v", code, st)
	}
	now = now.Add(time.Second)
	h.check(ctx)
	h.check(ctx)
	code, st := healthOf(t, h)
	if code != 503 || st.Status != "degraded" || !strings.Contains(st.Reason, `"t4_acme_new"`) || !strings.Contains(st.Reason, "/api/v1/livekit/webhook") ||
		strings.Contains(st.Reason, "old") || strings.Contains(st.Reason, "early") || st.LastWebhook == nil {
		t.Fatalf("a new room unannounced past the bound: %d %+v", code, st)
	}
	if n := strings.Count(logs.String(), "level=WARN msg=\"webhook health: degraded\""); n != 1 {
		t.Errorf("%d warnings, want one for the change:\n%s", n, &logs)
	}

	h.received(ctx, lkgate.WebhookEvent{Event: &livekit.WebhookEvent{Event: "participant_joined", Room: fresh}})
	if code, st := healthOf(t, h); code != 200 || st.LastWebhook == nil || !st.LastWebhook.Equal(now) {
		t.Errorf("once a webhook names the room: %d %+v", code, st)
	}
	if !strings.Contains(logs.String(), "webhooks arrive again") {
		t.Errorf("the recovery is not logged:\n%s", &logs)
	}

	gone := &livekit.Room{Sid: "RM_gone", Name: "t4_acme_gone"}
	rooms.set(nil, old, fresh, gone)
	h.check(ctx)
	rooms.set(errors.New("connection refused"))
	now = now.Add(3 * time.Minute)
	h.check(ctx)
	if code, st := healthOf(t, h); code != 200 {
		t.Errorf("LiveKit unreachable, the last listing judged: %d %+v", code, st)
	}
	if !strings.Contains(logs.String(), "cannot list LiveKit's rooms") {
		t.Errorf("the failing listing is not logged:\n%s", &logs)
	}
	rooms.set(nil, old, fresh)
	h.check(ctx)
	if code, st := healthOf(t, h); code != 200 {
		t.Errorf("a room gone before its bound: %d %+v", code, st)
	}
}

func TestWebhookMaxSilenceFromEnv(t *testing.T) {
	for raw, want := range map[string]time.Duration{"": 2 * time.Minute, "30s": 30 * time.Second, "0": 0} {
		vars := validEnv()
		vars["LKGATE_WEBHOOK_MAX_SILENCE"] = raw
		cfg, err := configFromEnv(env(vars))
		if err != nil || cfg.webhookMaxSilence != want {
			t.Errorf("%q: %v %v, want %v", raw, cfg.webhookMaxSilence, err, want)
		}
	}
	for _, raw := range []string{"2", "-1m", "soon"} {
		vars := validEnv()
		vars["LKGATE_WEBHOOK_MAX_SILENCE"] = raw
		if _, err := configFromEnv(env(vars)); err == nil || !strings.Contains(err.Error(), "LKGATE_WEBHOOK_MAX_SILENCE") {
			t.Errorf("%q: %v; want an error naming the variable", raw, err)
		}
	}
}

// healthMux is the example server on lk, its check bounded at maxSilence,
// with LiveKit's webhooks (when lk sends them) reaching its webhook route.
func healthMux(t *testing.T, lk *lkserver.Server, maxSilence time.Duration) http.Handler {
	t.Helper()
	vars := validEnv()
	vars["LIVEKIT_URL"], vars["LIVEKIT_API_KEY"], vars["LIVEKIT_API_SECRET"] = lk.URL, lk.APIKey, lk.APISecret
	vars["LKGATE_WEBHOOK_MAX_SILENCE"] = maxSilence.String()
	cfg, err := configFromEnv(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	mux := mustMux(t, cfg)
	if lk.WebhookURL != "" {
		lk.HandleWebhooks(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.URL.Path = cfg.prefix + r.URL.Path
			mux.ServeHTTP(w, r)
		}))
	}
	return mux
}

// awaitHealth polls /healthz until cond holds, for 10 s.
func awaitHealth(t *testing.T, mux http.Handler, what string, cond func(int, healthStatus) bool) (int, healthStatus) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, st := healthOf(t, mux)
		if cond(code, st) {
			return code, st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %d %+v after 10 s", what, code, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// createRoom creates a room in lk directly, as any LiveKit client may.
func createRoom(t *testing.T, lk *lkserver.Server, name string) {
	t.Helper()
	rooms := lksdk.NewRoomServiceClient(lk.URL, lk.APIKey, lk.APISecret)
	if _, err := rooms.CreateRoom(context.Background(), &livekit.CreateRoomRequest{Name: name}); err != nil {
		t.Fatal(err)
	}
}

// Against a real LiveKit whose webhooks reach the example server, a new
// room keeps /healthz ok past the bound; against one that sends none,
// /healthz turns 503 and says why.
func TestHealthzReportsMissingWebhooks(t *testing.T) {
	const maxSilence = time.Second
	t.Run("webhooks on", func(t *testing.T) {
		lk := lkserver.Start(t)
		mux := healthMux(t, lk, maxSilence)
		awaitHealth(t, mux, "first listing", func(_ int, st healthStatus) bool { return st.CheckedAt != nil })
		created := time.Now()
		createRoom(t, lk, "health-on")
		// The check lists the room within one interval of its creation and
		// would judge it maxSilence later: wait for a check past that.
		judgedBy := created.Add(maxSilence + maxSilence/4 + 100*time.Millisecond)
		code, st := awaitHealth(t, mux, "a check past the bound", func(_ int, st healthStatus) bool { return st.CheckedAt.After(judgedBy) })
		if code != 200 || st.Status != "ok" || st.LastWebhook == nil || st.LastWebhook.Before(created) {
			t.Errorf("webhooks on: %d %+v; want ok, with a webhook since the room's creation", code, st)
		}
	})
	t.Run("webhooks off", func(t *testing.T) {
		lk := lkserver.Start(t, lkserver.WithoutWebhooks())
		mux := healthMux(t, lk, maxSilence)
		awaitHealth(t, mux, "first listing", func(_ int, st healthStatus) bool { return st.CheckedAt != nil })
		createRoom(t, lk, "health-off")
		_, st := awaitHealth(t, mux, "degraded", func(code int, _ healthStatus) bool { return code == 503 })
		if st.Status != "degraded" || !strings.Contains(st.Reason, `"health-off"`) || !strings.Contains(st.Reason, "/api/v1/livekit/webhook") || st.LastWebhook != nil {
			t.Errorf("webhooks off: %+v", st)
		}
	})
}

// With LKGATE_REDIS_ADDR, the ids of handled webhooks go to Redis, so a
// replay to another replica is a duplicate.
func TestWebhookIDsInRedis(t *testing.T) {
	redisSrv := redisserver.Start(t)
	fake := lkgatetest.NewServer(t)
	vars := validEnv()
	vars["LIVEKIT_URL"] = fake.URL()
	vars["LKGATE_REDIS_ADDR"] = redisSrv.Addr
	cfg, err := configFromEnv(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	body, err := protojson.Marshal(&livekit.WebhookEvent{Event: "room_started", Id: "EV_replica", CreatedAt: time.Now().Unix(), Room: &livekit.Room{Sid: "RM_x", Name: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	sig, err := auth.NewAccessToken(cfg.manager.APIKey, cfg.manager.APISecret).SetValidFor(5 * time.Minute).SetSha256(base64.StdEncoding.EncodeToString(sum[:])).ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	for i, mux := range []http.Handler{mustMux(t, cfg), mustMux(t, cfg)} {
		req := httptest.NewRequest("POST", "/api/v1/livekit/webhook", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/webhook+json")
		req.Header.Set("Authorization", sig)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		want := []string{`"ok"`, `"duplicate"`}[i]
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("replica %d: %d %s, want %s", i+1, rec.Code, rec.Body, want)
		}
	}
}
