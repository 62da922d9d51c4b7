package httpx_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/lkgatetest"
)

// webhook sends a webhook as LiveKit does: the SHA-256 of signedBody in a
// token signed with secret, over sentBody (the same, unless tampered with).
func webhook(t *testing.T, h *httpx.Handler, signedBody, sentBody, secret string) *httptest.ResponseRecorder {
	t.Helper()
	sum := sha256.Sum256([]byte(signedBody))
	tok, err := auth.NewAccessToken(lkgatetest.APIKey, secret).SetValidFor(5 * time.Minute).SetSha256(base64.StdEncoding.EncodeToString(sum[:])).ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/livekit/webhook", strings.NewReader(sentBody))
	req.Header.Set("Content-Type", "application/webhook+json")
	req.Header.Set("Authorization", tok)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestWebhookRoute(t *testing.T) { forEachNaming(t, testWebhookRoute) }

func testWebhookRoute(t *testing.T, naming lkgate.RoomNaming) {
	fake := lkgatetest.NewServer(t)
	m := fake.NewManager(t, lkgate.Config{RoomNames: naming})
	tok, err := m.Token(context.Background(), "acme", lkgate.TokenRequest{Room: "r", Identity: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fake.Join(tok.JWT); err != nil {
		t.Fatal(err)
	}
	lkName, err := m.LiveKitRoom("acme", "r")
	if err != nil {
		t.Fatal(err)
	}
	intruder := fake.AddParticipant(lkName, lkgatetest.Participant{Identity: "intruder", Attributes: map[string]string{lkgate.TenantAttribute: "globex"}})
	room, _ := fake.Room(lkName)
	var (
		mu        sync.Mutex
		delivered []lkgate.WebhookEvent
	)
	countDelivered := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(delivered)
	}
	h, err := httpx.New(m, httpx.Config{Authenticator: httpx.Unauthenticated(), OnWebhook: func(_ context.Context, ev lkgate.WebhookEvent) {
		mu.Lock()
		defer mu.Unlock()
		delivered = append(delivered, ev)
	}})
	if err != nil {
		t.Fatal(err)
	}
	body, err := protojson.Marshal(&livekit.WebhookEvent{Event: "participant_joined", Id: "EV_a", Room: room, Participant: intruder, CreatedAt: time.Now().Unix()})
	if err != nil {
		t.Fatal(err)
	}

	// The guard's one LiveKit call that can fail: the removal under
	// ScopedNames (the name alone decides), the read of the room's owner
	// under SharedNames (the event's metadata names acme, not the
	// intruder's tenant).
	fault := "RemoveParticipant"
	if naming == lkgate.SharedNames {
		fault = "ListRooms"
	}
	fake.SetError(fault, twirp.NewError(twirp.Unavailable, "down"))
	rec := webhook(t, h, string(body), string(body), lkgatetest.APISecret)
	if rec.Code != 503 || countDelivered() != 0 {
		t.Fatalf("guard failing: %d %s, delivered %d; want 503 so LiveKit retries", rec.Code, rec.Body, countDelivered())
	}
	fake.SetError(fault, nil)
	rec = webhook(t, h, string(body), string(body), lkgatetest.APISecret)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"ok"`) || countDelivered() != 1 {
		t.Fatalf("retry: %d %s delivered %d", rec.Code, rec.Body, countDelivered())
	}
	if ps := fake.Participants(lkName); len(ps) != 1 || ps[0].Identity != "a" {
		t.Errorf("the guard did not remove only the other tenant's participant: %v", ps)
	}
	// OnWebhook gets the room as acme knows it, and the event as LiveKit
	// sent it.
	mu.Lock()
	got := delivered[0]
	mu.Unlock()
	if got.Tenant != "acme" || got.Room != "r" || got.Event.GetId() != "EV_a" || got.Event.GetRoom().GetName() != lkName {
		t.Errorf("OnWebhook got tenant %q room %q event %s in %q", got.Tenant, got.Room, got.Event.GetId(), got.Event.GetRoom().GetName())
	}
	rec = webhook(t, h, string(body), string(body), lkgatetest.APISecret)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"duplicate"`) || countDelivered() != 1 {
		t.Errorf("duplicate: %d %s delivered %d", rec.Code, rec.Body, countDelivered())
	}

	tampered := strings.Replace(string(body), `"EV_a"`, `"EV_b"`, 1)
	bad := []struct {
		name, signedBody, sentBody, secret string
		status                             int
	}{
		{"wrong secret", tampered, tampered, strings.Repeat("x", 36), 401},
		{"tampered body", string(body), tampered, lkgatetest.APISecret, 401},
		{"not an event", `{"event":5}`, `{"event":5}`, lkgatetest.APISecret, 400},
		{"too large", strings.Repeat("x", 70<<10), strings.Repeat("x", 70<<10), lkgatetest.APISecret, 413},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if rec := webhook(t, h, tt.signedBody, tt.sentBody, tt.secret); rec.Code != tt.status {
				t.Errorf("%d %s, want %d", rec.Code, rec.Body, tt.status)
			}
		})
	}
	if n := countDelivered(); n != 1 {
		t.Errorf("refused webhooks reached OnWebhook: %d deliveries", n)
	}
	req := httptest.NewRequest("POST", "/livekit/webhook", strings.NewReader(string(body)))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 401 {
		t.Errorf("unsigned webhook: %d", rec.Code)
	}
}

// eventJSON is ev as LiveKit sends it.
func eventJSON(t *testing.T, ev *livekit.WebhookEvent) string {
	t.Helper()
	body, err := protojson.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// problemOf decodes the problem of an error answer.
func problemOf(t *testing.T, rec *httptest.ResponseRecorder) httpx.Problem {
	t.Helper()
	var p httpx.Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("%d %s is not a problem: %v", rec.Code, rec.Body, err)
	}
	return p
}

// A captured delivery replayed within the window is a duplicate, however
// many events came in between (the de-duplication used to keep the last
// 4096 ids only), and refused from the window's end on: the window is the
// one of LiveKit's signature, on the Manager's clock.
func TestWebhookReplayWindow(t *testing.T) {
	clock := lkgatetest.NewClock(time.Now().Truncate(time.Second))
	fake := lkgatetest.NewServer(t)
	m := fake.NewManager(t, lkgate.Config{Now: clock.Now})
	var delivered atomic.Int32
	h, err := httpx.New(m, httpx.Config{Authenticator: httpx.Unauthenticated(), OnWebhook: func(context.Context, lkgate.WebhookEvent) { delivered.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	send := func(body string) *httptest.ResponseRecorder {
		t.Helper()
		return webhook(t, h, body, body, lkgatetest.APISecret)
	}
	left := eventJSON(t, &livekit.WebhookEvent{Event: "participant_left", Id: "EV_left", CreatedAt: clock.Now().Unix(),
		Room: &livekit.Room{Name: "t4_acme_r"}, Participant: &livekit.ParticipantInfo{Identity: "phone", Kind: livekit.ParticipantInfo_SIP}})
	if rec := send(left); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"ok"`) {
		t.Fatalf("first delivery: %d %s", rec.Code, rec.Body)
	}
	const others = 5000
	for i := range others {
		ev := eventJSON(t, &livekit.WebhookEvent{Event: "room_started", Id: fmt.Sprint("EV_", i), CreatedAt: clock.Now().Unix(), Room: &livekit.Room{Name: "t4_acme_r"}})
		if rec := send(ev); rec.Code != 200 {
			t.Fatalf("event %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	clock.Advance(lkgate.WebhookWindow - time.Second)
	if rec := send(left); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"duplicate"`) {
		t.Errorf("replay within the window, after %d other events: %d %s; want 200 duplicate", others, rec.Code, rec.Body)
	}
	clock.Advance(time.Second)
	rec := send(left)
	if p := problemOf(t, rec); rec.Code != 401 || p.Code != httpx.CodeWebhookExpired {
		t.Errorf("replay at the window's end: %d %s; want 401 %s", rec.Code, rec.Body, httpx.CodeWebhookExpired)
	}
	// An event never seen, delivered after its window, is refused too.
	late := eventJSON(t, &livekit.WebhookEvent{Event: "participant_left", Id: "EV_late", CreatedAt: clock.Now().Add(-lkgate.WebhookWindow).Unix()})
	if rec := send(late); rec.Code != 401 || problemOf(t, rec).Code != httpx.CodeWebhookExpired {
		t.Errorf("late event: %d %s", rec.Code, rec.Body)
	}
	if n := delivered.Load(); n != 1+others {
		t.Errorf("OnWebhook got %d events, want %d: replays reached it", n, 1+others)
	}

	// Without an id or a creation time, a replay could not be told apart.
	for field, ev := range map[string]*livekit.WebhookEvent{
		"id":         {Event: "room_started", CreatedAt: clock.Now().Unix()},
		"created_at": {Event: "room_started", Id: "EV_undated"},
	} {
		rec := send(eventJSON(t, ev))
		if p := problemOf(t, rec); rec.Code != 400 || p.Code != httpx.CodeInvalidArgument || p.Field != field {
			t.Errorf("no %s: %d %s", field, rec.Code, rec.Body)
		}
	}
}

// Replicas' clocks and their store's may be apart: an id outlives its
// window by 30 s, so that a store whose clock runs ahead does not forget it
// while the Manager's clock still accepts the event.
func TestWebhookReplayClockSkew(t *testing.T) {
	clock := lkgatetest.NewClock(time.Now().Truncate(time.Second))
	ahead := func() time.Time { return clock.Now().Add(29 * time.Second) }
	fake := lkgatetest.NewServer(t)
	m := fake.NewManager(t, lkgate.Config{Now: clock.Now})
	h, err := httpx.New(m, httpx.Config{Authenticator: httpx.Unauthenticated(), SeenEvents: lkgate.NewMemorySeenEvents(ahead)})
	if err != nil {
		t.Fatal(err)
	}
	body := eventJSON(t, &livekit.WebhookEvent{Event: "room_started", Id: "EV_a", CreatedAt: clock.Now().Unix(), Room: &livekit.Room{Name: "r"}})
	if rec := webhook(t, h, body, body, lkgatetest.APISecret); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"ok"`) {
		t.Fatalf("first delivery: %d %s", rec.Code, rec.Body)
	}
	clock.Advance(lkgate.WebhookWindow - time.Second)
	if rec := webhook(t, h, body, body, lkgatetest.APISecret); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"duplicate"`) {
		t.Errorf("replay at the window's last second, the store's clock 29 s ahead: %d %s; want 200 duplicate", rec.Code, rec.Body)
	}
}

// faultySeen is a SeenEvents whose calls fail while its errors are set.
type faultySeen struct {
	lkgate.SeenEvents
	mu                 sync.Mutex
	seenErr, forgetErr error
}

func (f *faultySeen) set(seenErr, forgetErr error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seenErr, f.forgetErr = seenErr, forgetErr
}

func (f *faultySeen) Seen(ctx context.Context, id string, until time.Time) (bool, error) {
	f.mu.Lock()
	err := f.seenErr
	f.mu.Unlock()
	if err != nil {
		return false, err
	}
	return f.SeenEvents.Seen(ctx, id, until)
}

func (f *faultySeen) Forget(ctx context.Context, id string) error {
	f.mu.Lock()
	err := f.forgetErr
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return f.SeenEvents.Forget(ctx, id)
}

// An event that cannot be de-duplicated is not handled: 503, so LiveKit
// delivers it again, rather than risk handling a replay.
func TestWebhookSeenEventsFailure(t *testing.T) {
	fake := lkgatetest.NewServer(t)
	m := fake.NewManager(t, lkgate.Config{})
	store := &faultySeen{SeenEvents: lkgate.NewMemorySeenEvents(nil)}
	logs := &syncBuffer{}
	var delivered atomic.Int32
	h, err := httpx.New(m, httpx.Config{Authenticator: httpx.Unauthenticated(), SeenEvents: store, Logger: slog.New(slog.NewTextHandler(logs, nil)),
		OnWebhook: func(context.Context, lkgate.WebhookEvent) { delivered.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	body := eventJSON(t, &livekit.WebhookEvent{Event: "room_started", Id: "EV_a", CreatedAt: time.Now().Unix(), Room: &livekit.Room{Name: "r"}})
	store.set(errors.New("redis down"), nil)
	rec := webhook(t, h, body, body, lkgatetest.APISecret)
	if p := problemOf(t, rec); rec.Code != 503 || delivered.Load() != 0 {
		t.Fatalf("store failing: %d %+v, delivered %d; want 503 and nothing handled", rec.Code, p, delivered.Load())
	}
	if !strings.Contains(logs.String(), "webhook id store failed") {
		t.Errorf("the store's failure is not logged: %s", logs)
	}
	store.set(nil, nil)
	if rec := webhook(t, h, body, body, lkgatetest.APISecret); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"ok"`) || delivered.Load() != 1 {
		t.Errorf("retry once the store is back: %d %s", rec.Code, rec.Body)
	}

	// The guard fails and the id cannot be forgotten: still 503, and the
	// lost retry is logged.
	lkName, err := lkgate.ScopedRoomName("acme", "r")
	if err != nil {
		t.Fatal(err)
	}
	p := fake.AddParticipant(lkName, lkgatetest.Participant{Identity: "intruder", Attributes: map[string]string{lkgate.TenantAttribute: "globex"}})
	room, _ := fake.Room(lkName)
	join := eventJSON(t, &livekit.WebhookEvent{Event: "participant_joined", Id: "EV_join", CreatedAt: time.Now().Unix(), Room: room, Participant: p})
	fake.SetError("RemoveParticipant", twirp.NewError(twirp.Unavailable, "down"))
	store.set(nil, errors.New("redis down"))
	if rec := webhook(t, h, join, join, lkgatetest.APISecret); rec.Code != 503 {
		t.Errorf("guard and store failing: %d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(logs.String(), "retry will be dropped") {
		t.Errorf("the lost retry is not logged: %s", logs)
	}
}
