package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/internal/redisserver"
	"github.com/lkgate/lkgate/lkgatetest"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func validEnv() map[string]string {
	return map[string]string{
		"LIVEKIT_URL":        "http://127.0.0.1:7880",
		"LIVEKIT_API_KEY":    "devkey",
		"LIVEKIT_API_SECRET": lkgatetest.APISecret,
		"LKGATE_API_KEYS":    "acme-key-0123456789=acme:alice, globex-key-0123456789=globex",
	}
}

func TestConfigFromEnvNamesTheVariable(t *testing.T) {
	tests := []struct {
		name, key, value, want string
	}{
		{"no URL", "LIVEKIT_URL", "", "LIVEKIT_URL"},
		{"no key", "LIVEKIT_API_KEY", "", "LIVEKIT_API_KEY"},
		{"no secret", "LIVEKIT_API_SECRET", "", "LIVEKIT_API_SECRET"},
		{"no API keys", "LKGATE_API_KEYS", "", "LKGATE_API_KEYS"},
		{"malformed API key", "LKGATE_API_KEYS", "justakey", "LKGATE_API_KEYS"},
		{"duplicate API key", "LKGATE_API_KEYS", "k=a,k=b", "LKGATE_API_KEYS"},
		{"bad prefix", "LKGATE_PREFIX", "api/", "LKGATE_PREFIX"},
		{"unauthenticated with keys", "LKGATE_UNAUTHENTICATED", "1", "LKGATE_UNAUTHENTICATED"},
		{"unauthenticated not 1", "LKGATE_UNAUTHENTICATED", "yes", "LKGATE_UNAUTHENTICATED"},
		{"bad invite key", "LKGATE_INVITE_KEYS", "k1=not base64!", "LKGATE_INVITE_KEYS"},
		{"demo client missing", "LKGATE_DEMO_LIVEKIT_CLIENT", "/nonexistent/livekit-client.esm.mjs", "LKGATE_DEMO_LIVEKIT_CLIENT"},
		{"demo prefix", "LKGATE_PREFIX", "/demo", "LKGATE_PREFIX"},
		{"malformed SIP trunk", "LKGATE_SIP_TRUNKS", "acme=ST_a,globex", "LKGATE_SIP_TRUNKS"},
		{"unknown limit", "LKGATE_LIMITS", "max_rooms=5,rooms=3", "LKGATE_LIMITS"},
		{"negative limit", "LKGATE_LIMITS", "max_rooms=-1", "LKGATE_LIMITS"},
		{"bad rate unit", "LKGATE_LIMITS", "token_rate=20/h", "LKGATE_LIMITS"},
		{"bad burst", "LKGATE_LIMITS", "token_rate=20/s:x", "LKGATE_LIMITS"},
		{"unknown room naming", "LKGATE_ROOM_NAMES", "global", "LKGATE_ROOM_NAMES"},
		{"room naming case", "LKGATE_ROOM_NAMES", "Shared", "LKGATE_ROOM_NAMES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := validEnv()
			vars[tt.key] = tt.value
			_, err := configFromEnv(env(vars))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v does not name %s", err, tt.want)
			}
		})
	}
	cfg, err := configFromEnv(env(validEnv()))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.keys["acme-key-0123456789"].Subject != "alice" || cfg.keys["globex-key-0123456789"].Tenant != "globex" || cfg.addr != "127.0.0.1:8080" || cfg.prefix != "/api/v1" || cfg.manager.SIP.Trunks != nil {
		t.Errorf("config %+v", cfg)
	}
	vars := validEnv()
	vars["LKGATE_SIP_TRUNKS"] = "acme=ST_a, globex=ST_g"
	if cfg, err = configFromEnv(env(vars)); err != nil {
		t.Fatal(err)
	}
	if id, err := cfg.manager.SIP.Trunks.OutboundTrunk(context.Background(), "globex"); id != "ST_g" || err != nil {
		t.Errorf("globex's trunk: %q, %v", id, err)
	}
}

// mustMux is newMux for a test, which closes the Manager when it ends.
func mustMux(t *testing.T, cfg config) *http.ServeMux {
	t.Helper()
	mux, closer, err := newMux(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closer.Close() })
	return mux
}

// token asks mux for a token for room with key, and returns the status and
// the answer.
func token(t *testing.T, mux http.Handler, key, room string) (int, httpx.TokenResponse) {
	t.Helper()
	req := httptest.NewRequest("POST", "/api/v1/livekit/token", strings.NewReader(`{"room_name":"`+room+`","participant_identity":"i"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	var res httpx.TokenResponse
	if rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
			t.Fatal(err)
		}
	}
	return rec.Code, res
}

// LKGATE_ROOM_NAMES defaults to scoped: two tenants both get "board".
func TestRoomNamesDefaultScoped(t *testing.T) {
	for _, value := range []string{"", "scoped"} {
		t.Run("LKGATE_ROOM_NAMES="+value, func(t *testing.T) {
			fake := lkgatetest.NewServer(t)
			vars := validEnv()
			vars["LIVEKIT_URL"] = fake.URL()
			vars["LKGATE_ROOM_NAMES"] = value
			cfg, err := configFromEnv(env(vars))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.manager.RoomNames != lkgate.ScopedNames {
				t.Fatalf("room names %v, want scoped", cfg.manager.RoomNames)
			}
			mux := mustMux(t, cfg)
			for _, key := range []string{"acme-key-0123456789", "globex-key-0123456789"} {
				if status, res := token(t, mux, key, "board"); status != http.StatusOK || res.RoomName != "board" {
					t.Errorf("%s: %d %+v", key, status, res)
				}
			}
		})
	}
}

// LKGATE_ROOM_NAMES=shared keeps names global; with several tenants it
// refuses to start without Redis, whose leases outlive the process.
func TestRoomNamesShared(t *testing.T) {
	vars := validEnv()
	vars["LKGATE_ROOM_NAMES"] = "shared"
	_, err := configFromEnv(env(vars))
	if err == nil || !strings.Contains(err.Error(), "LKGATE_ROOM_NAMES") || !strings.Contains(err.Error(), "LKGATE_REDIS_ADDR") {
		t.Fatalf("shared names, two tenants, no Redis: %v; want an error naming both variables", err)
	}

	// One tenant (two keys) needs no Redis: no other tenant can take its names.
	fake := lkgatetest.NewServer(t)
	vars["LIVEKIT_URL"] = fake.URL()
	vars["LKGATE_API_KEYS"] = "acme-key-0123456789=acme:alice,acme-bob-key-0123456789=acme:bob"
	cfg, err := configFromEnv(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.manager.RoomNames != lkgate.SharedNames {
		t.Fatalf("room names %v, want shared", cfg.manager.RoomNames)
	}
	mux := mustMux(t, cfg)
	if status, res := token(t, mux, "acme-key-0123456789", "board"); status != http.StatusOK || res.RoomName != "board" {
		t.Fatalf("token: %d %+v", status, res)
	}
	if _, ok := fake.Room("board"); !ok {
		t.Error("shared names did not create the room under its own name")
	}
}

// With Redis, shared names keep their leases there: a replica that never
// saw a name refuses it to another tenant once its room is gone, while the
// first tenant's tokens may still live.
func TestRoomNamesSharedLeasesInRedis(t *testing.T) {
	redisSrv := redisserver.Start(t)
	fake := lkgatetest.NewServer(t)
	vars := validEnv()
	vars["LIVEKIT_URL"] = fake.URL()
	vars["LKGATE_ROOM_NAMES"] = "shared"
	vars["LKGATE_REDIS_ADDR"] = redisSrv.Addr
	cfg, err := configFromEnv(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	first, second := mustMux(t, cfg), mustMux(t, cfg)
	if status, _ := token(t, first, "acme-key-0123456789", "board"); status != http.StatusOK {
		t.Fatalf("acme's token: %d", status)
	}
	rooms := lkgate.NewRoomService(fake.URL(), lkgatetest.APIKey, lkgatetest.APISecret)
	if _, err := rooms.DeleteRoom(context.Background(), &livekit.DeleteRoomRequest{Room: "board"}); err != nil {
		t.Fatal(err)
	}
	if status, _ := token(t, second, "globex-key-0123456789", "board"); status != http.StatusForbidden {
		t.Errorf("globex's token on another replica: %d, want 403 (acme's lease)", status)
	}
	if _, ok := fake.Room("board"); ok {
		t.Error("the refused token recreated the room")
	}
}

func TestMuxServesTheAPIUnderThePrefix(t *testing.T) {
	fake := lkgatetest.NewServer(t)
	vars := validEnv()
	vars["LIVEKIT_URL"] = fake.URL()
	cfg, err := configFromEnv(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	mux := mustMux(t, cfg)
	req := httptest.NewRequest("POST", "/api/v1/livekit/token", strings.NewReader(`{"room_name":"r","participant_identity":"i"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer acme-key-0123456789")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"token"`) {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
	// Guests are off until invite keys are configured.
	invite := func(mux *http.ServeMux) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/api/v1/livekit/guest/invite", strings.NewReader(`{"orgId":"acme","roomId":"r","allowAll":true}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer acme-key-0123456789")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec
	}
	if rec := invite(mux); rec.Code != http.StatusNotImplemented {
		t.Errorf("invite without keys: %d %s", rec.Code, rec.Body)
	}
	vars["LKGATE_INVITE_KEYS"] = "2026-11=" + base64.StdEncoding.EncodeToString(make([]byte, 32))
	vars["LKGATE_INVITE_BASE_URL"] = "https://app.example.com"
	cfg, err = configFromEnv(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	guestMux := mustMux(t, cfg)
	if rec := invite(guestMux); rec.Code != http.StatusCreated || !strings.Contains(rec.Body.String(), "https://app.example.com/join?invite_token=") {
		t.Errorf("invite: %d %s", rec.Code, rec.Body)
	}
	vars["LIVEKIT_API_SECRET"] = "short"
	cfg, _ = configFromEnv(env(vars))
	if _, _, err := newMux(cfg, nil); err == nil || !strings.Contains(err.Error(), "APISecret") {
		t.Errorf("short secret: %v", err)
	}
}

func TestDemoPageRoutes(t *testing.T) {
	vars := validEnv()
	vars["LKGATE_DEMO_LIVEKIT_CLIENT"] = filepath.Join(t.TempDir(), "livekit-client.esm.mjs")
	if err := os.WriteFile(vars["LKGATE_DEMO_LIVEKIT_CLIENT"], []byte("export const Room = 1;\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := configFromEnv(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	mux := mustMux(t, cfg)
	for _, tc := range []struct{ path, contentType, contains string }{
		{"/", "text/html", `src="/demo/app.js"`},
		{"/join?invite_token=x", "text/html", `id="guestform"`},
		{"/demo/app.js", "text/javascript", "TokenSource.endpoint"},
		{"/demo/livekit-client.esm.mjs", "text/javascript", "export const Room"},
		{"/demo/config.json", "application/json", `{"api":"/api/v1"}`},
		{"/api/v1/openapi.yaml", "application/yaml", "openapi: 3"},
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), tc.contentType) || !strings.Contains(rec.Body.String(), tc.contains) {
			t.Errorf("GET %s: %d %q, body lacks %q", tc.path, rec.Code, rec.Header().Get("Content-Type"), tc.contains)
		}
	}
	// Without the variable, no demo page.
	cfg.livekitClient = ""
	mux = mustMux(t, cfg)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("GET / without the demo: %d", rec.Code)
	}
}

func TestUnauthenticatedModeOnlyWhenAskedFor(t *testing.T) {
	fake := lkgatetest.NewServer(t)
	vars := validEnv()
	vars["LIVEKIT_URL"] = fake.URL()
	delete(vars, "LKGATE_API_KEYS")
	if _, err := configFromEnv(env(vars)); err == nil || !strings.Contains(err.Error(), "LKGATE_UNAUTHENTICATED=1") {
		t.Fatalf("no API keys and no opt-in: %v", err)
	}
	vars["LKGATE_UNAUTHENTICATED"] = "1"
	cfg, err := configFromEnv(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	mux := mustMux(t, cfg)
	req := httptest.NewRequest("POST", "/api/v1/livekit/token", strings.NewReader(`{"room_name":"r","participant_identity":"i"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || fake.TotalCalls() != 0 {
		t.Errorf("unauthenticated token: %d %s, %d LiveKit calls (want 200 and 0)", rec.Code, rec.Body, fake.TotalCalls())
	}
}

func TestLimitsFromEnv(t *testing.T) {
	vars := validEnv()
	vars["LKGATE_LIMITS"] = "max_rooms=50, token_rate=20/s:40,sip_call_rate=10/m,max_concurrent_sip_calls=5,invite_rate=30/m"
	cfg, err := configFromEnv(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	want := lkgate.Limits{MaxRooms: 50, TokenRate: lkgate.PerSecond(20, 40), SIPCallRate: lkgate.Rate{Events: 10, Per: time.Minute},
		MaxConcurrentSIPCalls: 5, InviteRate: lkgate.Rate{Events: 30, Per: time.Minute}}
	if cfg.manager.Limits.Default != want {
		t.Errorf("limits %+v, want %+v", cfg.manager.Limits.Default, want)
	}
}
