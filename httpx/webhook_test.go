package httpx_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http/httptest"
	"strings"
	"sync"
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
	m, err := lkgate.New(lkgate.Config{URL: fake.URL(), APIKey: lkgatetest.APIKey, APISecret: lkgatetest.APISecret, RoomNames: naming})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
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
		{"too large", strings.Repeat("x", 70<<10), strings.Repeat("x", 70<<10), lkgatetest.APISecret, 400},
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
