package httpx_test

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/lkgatetest"
)

// leakyText is what a failing LiveKit or store might say: secret-shaped
// strings, each marked hunter2 (the JWT's payload reads {"sub":"hunter2"}),
// and the Manager's own API secret.
const leakyText = `dial redis://lkgate:redispass-hunter2@10.0.0.7:6379: refused; secret=hunter2 password="pw hunter2" ` +
	`access_token=tok-hunter2 Authorization: Bearer bearer-hunter2 eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJodW50ZXIyIn0.c2ln ` + lkgatetest.APISecret

func leaked(s string) []string {
	var found []string
	for _, secret := range []string{"hunter2", "eyJ", "aHVudGVyMi", lkgatetest.APISecret} {
		if strings.Contains(s, secret) {
			found = append(found, secret)
		}
	}
	return found
}

// While LiveKit and the webhook id store fail, neither their secrets nor
// a line per request reach the log, and no secret reaches a response:
// the first failure is logged at once, redacted, and the rest in one
// summary line per 10 s with their count.
func TestFailureLogsAreRedactedAndAggregated(t *testing.T) {
	fake := lkgatetest.NewServer(t)
	clock := lkgatetest.NewClock(time.Now())
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	m := fake.NewManager(t, lkgate.Config{Now: clock.Now, Logger: logger})
	keys, err := httpx.NewStaticKeys(httpx.StaticKeysConfig{Keys: map[string]httpx.Principal{keyAcme: {Tenant: "acme", Permissions: httpx.AllPermissions}}})
	if err != nil {
		t.Fatal(err)
	}
	store := &faultySeen{SeenEvents: lkgate.NewMemorySeenEvents(nil)}
	h, err := httpx.New(m, httpx.Config{Authenticator: keys, Logger: logger, SeenEvents: store})
	if err != nil {
		t.Fatal(err)
	}
	list := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/livekit/rooms", nil)
		req.Header.Set("Authorization", "Bearer "+keyAcme)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}

	// An internal error, which the breaker does not count: every request
	// reaches the fake.
	fake.SetError("ListRooms", twirp.NewError(twirp.Internal, leakyText))
	for range 50 {
		if rec := list(); rec.Code != 502 || len(leaked(rec.Body.String())) > 0 {
			t.Fatalf("LiveKit failing: %d %s, want 502 without %q", rec.Code, rec.Body, leaked(rec.Body.String()))
		}
	}
	store.set(errors.New(leakyText), nil)
	body := eventJSON(t, &livekit.WebhookEvent{Event: "room_started", Id: "EV_a", CreatedAt: clock.Now().Unix(), Room: &livekit.Room{Name: "r"}})
	if rec := webhook(t, h, body, body, lkgatetest.APISecret); rec.Code != 503 || len(leaked(rec.Body.String())) > 0 {
		t.Fatalf("store failing: %d %s, want 503 without %q", rec.Code, rec.Body, leaked(rec.Body.String()))
	}
	count := func(msg string) (lines int, repeated []float64) {
		for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var v map[string]any
			if err := json.Unmarshal([]byte(l), &v); err != nil {
				t.Fatal(err)
			}
			if v["msg"] == msg {
				lines++
				if r, ok := v["repeated"].(float64); ok {
					repeated = append(repeated, r)
				}
			}
		}
		return lines, repeated
	}
	if n, _ := count("operation failed"); n != 2 {
		t.Errorf("%d operation failed lines for 51 failures in an instant, want 2 (502 and 503 are two kinds)", n)
	}
	if n, _ := count("webhook id store failed"); n != 1 {
		t.Errorf("%d webhook id store lines, want 1", n)
	}
	// LiveKit is back; the next request after the interval writes the
	// summary of the 49 other 502s.
	fake.SetError("ListRooms", nil)
	clock.Advance(10 * time.Second)
	if rec := list(); rec.Code != 200 {
		t.Fatalf("LiveKit back: %d %s", rec.Code, rec.Body)
	}
	if n, repeated := count("operation failed"); n != 3 || len(repeated) != 1 || repeated[0] != 49 {
		t.Errorf("%d operation failed lines, repeated %v; want a summary of 49", n, repeated)
	}
	if l := leaked(logs.String()); len(l) > 0 || !strings.Contains(logs.String(), "[REDACTED]") {
		t.Errorf("the log carries %q or nothing redacted:\n%s", l, logs)
	}
}
