package httpx_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http/httptest"
	"strings"
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

func TestWebhookRoute(t *testing.T) {
	fake := lkgatetest.NewServer(t)
	m, err := lkgate.New(lkgate.Config{URL: fake.URL(), APIKey: lkgatetest.APIKey, APISecret: lkgatetest.APISecret})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Token(context.Background(), "acme", lkgate.TokenRequest{Room: "r", Identity: "a"}); err != nil {
		t.Fatal(err)
	}
	intruder := fake.AddParticipant("r", lkgatetest.Participant{Identity: "intruder", Attributes: map[string]string{lkgate.TenantAttribute: "globex"}})
	room, _ := fake.Room("r")
	var delivered atomic.Int32
	h, err := httpx.New(m, httpx.Config{Authenticator: httpx.Unauthenticated(), OnWebhook: func(context.Context, *livekit.WebhookEvent) { delivered.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	body, err := protojson.Marshal(&livekit.WebhookEvent{Event: "participant_joined", Id: "EV_a", Room: room, Participant: intruder, CreatedAt: time.Now().Unix()})
	if err != nil {
		t.Fatal(err)
	}

	fake.SetError("ListRooms", twirp.NewError(twirp.Unavailable, "down"))
	rec := webhook(t, h, string(body), string(body), lkgatetest.APISecret)
	if rec.Code != 503 || delivered.Load() != 0 {
		t.Fatalf("guard failing: %d %s, delivered %d; want 503 so LiveKit retries", rec.Code, rec.Body, delivered.Load())
	}
	fake.SetError("ListRooms", nil)
	rec = webhook(t, h, string(body), string(body), lkgatetest.APISecret)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"ok"`) || delivered.Load() != 1 {
		t.Fatalf("retry: %d %s delivered %d", rec.Code, rec.Body, delivered.Load())
	}
	if len(fake.Participants("r")) != 0 {
		t.Error("the guard did not remove the other tenant's participant")
	}
	rec = webhook(t, h, string(body), string(body), lkgatetest.APISecret)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"duplicate"`) || delivered.Load() != 1 {
		t.Errorf("duplicate: %d %s delivered %d", rec.Code, rec.Body, delivered.Load())
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
	if delivered.Load() != 1 {
		t.Errorf("refused webhooks reached OnWebhook: %d deliveries", delivered.Load())
	}
	req := httptest.NewRequest("POST", "/livekit/webhook", strings.NewReader(string(body)))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 401 {
		t.Errorf("unsigned webhook: %d", rec.Code)
	}
}
