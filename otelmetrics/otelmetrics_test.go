package otelmetrics_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/twitchtv/twirp"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/lkgatetest"
	"github.com/lkgate/lkgate/otelmetrics"
)

// counts maps each data point of name to its count (histograms) or value
// (counters), keyed by its attributes as "k=v,k=v".
func counts(t *testing.T, rm metricdata.ResourceMetrics, name string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	key := func(set attribute.Set) string {
		var parts []string
		for _, kv := range set.ToSlice() {
			parts = append(parts, string(kv.Key)+"="+kv.Value.String())
		}
		return strings.Join(parts, ",")
	}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelmetrics.ScopeName {
			t.Errorf("scope %q", sm.Scope.Name)
		}
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out[key(p.Attributes)] += int64(p.Count)
				}
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out[key(p.Attributes)] += p.Value
				}
			default:
				t.Errorf("%s has data %T", name, m.Data)
			}
		}
	}
	return out
}

func TestMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mx, err := otelmetrics.New(otelmetrics.Config{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))})
	if err != nil {
		t.Fatal(err)
	}
	fake := lkgatetest.NewServer(t)
	m, err := lkgate.New(lkgate.Config{URL: fake.URL(), APIKey: lkgatetest.APIKey, APISecret: lkgatetest.APISecret,
		RoomService: mx.RoomService(lkgate.NewRoomService(fake.URL(), lkgatetest.APIKey, lkgatetest.APISecret)),
		Auditor:     mx.Auditor(nil),
		// Rooms created before the first join make the token call LiveKit.
		PrecreateRooms: true,
		Limits:         lkgate.LimitConfig{Default: lkgate.Limits{TokenRate: lkgate.PerMinute(1, 1)}}})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := httpx.NewStaticKeys(httpx.StaticKeysConfig{Keys: map[string]httpx.Principal{"acme-key-0123456789": {Tenant: "acme", Permissions: httpx.AllPermissions}}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpx.New(m, httpx.Config{Authenticator: keys, Observer: mx})
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, path, body string) int {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer acme-key-0123456789")
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	token := `{"room_name":"standup","participant_identity":"alice"}`
	if code := do("POST", "/livekit/token", token); code != http.StatusOK {
		t.Fatalf("token: %d", code)
	}
	if code := do("POST", "/livekit/token", token); code != http.StatusTooManyRequests {
		t.Fatalf("second token: %d", code)
	}
	if code := do("GET", "/livekit/rooms/nope", ""); code != http.StatusNotFound {
		t.Fatalf("missing room: %d", code)
	}
	do("GET", "/no/such/route", "")

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, "http", counts(t, rm, "lkgate.http.request.duration"), map[string]int64{
		"http.response.status_code=200,http.route=POST /livekit/token":            1,
		"http.response.status_code=429,http.route=POST /livekit/token":            1,
		"http.response.status_code=404,http.route=GET /livekit/rooms/{room_name}": 1,
		"http.response.status_code=404,http.route=unmatched":                      1,
	})
	// The new room costs CreateRoom and UpdateRoomMetadata (its owner
	// recorded once); the missing room one ListRooms answered with nothing.
	wantCounts(t, "livekit", counts(t, rm, "lkgate.livekit.call.duration"), map[string]int64{
		"lkgate.outcome=ok,rpc.method=ListRooms":          1,
		"lkgate.outcome=ok,rpc.method=CreateRoom":         1,
		"lkgate.outcome=ok,rpc.method=UpdateRoomMetadata": 1,
	})
	wantCounts(t, "refusals", counts(t, rm, "lkgate.limit.refusals"), map[string]int64{
		"lkgate.limit=token_rate,lkgate.tenant=acme": 1,
	})
	wantCounts(t, "audit", counts(t, rm, "lkgate.audit.events"), map[string]int64{
		"lkgate.action=token.mint,lkgate.outcome=success": 1,
		"lkgate.action=token.mint,lkgate.outcome=refused": 1,
	})

	// LiveKit's errors are recorded by code.
	fake.SetError("ListRooms", twirp.NewError(twirp.Unavailable, "overloaded"))
	do("GET", "/livekit/rooms", "")
	rm = metricdata.ResourceMetrics{}
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	if got := counts(t, rm, "lkgate.livekit.call.duration")["lkgate.outcome=unavailable,rpc.method=ListRooms"]; got == 0 {
		t.Errorf("a failed ListRooms was not recorded as unavailable: %v", counts(t, rm, "lkgate.livekit.call.duration"))
	}
}

func wantCounts(t *testing.T, what string, got, want map[string]int64) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s %s = %d, want %d (all: %v)", what, k, got[k], v, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d series, want %d: %v", what, len(got), len(want), got)
	}
}
