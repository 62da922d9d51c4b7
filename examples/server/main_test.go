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
		"LKGATE_API_KEYS":    "acme-key-0123456789=acme:alice:all, globex-key-0123456789=globex::all",
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
		{"duplicate API key", "LKGATE_API_KEYS", "k=a::all,k=b::all", "LKGATE_API_KEYS"},
		{"API key without permissions", "LKGATE_API_KEYS", "acme-key-0123456789=acme:alice", "LKGATE_API_KEYS"},
		{"API key, unknown permission", "LKGATE_API_KEYS", "acme-key-0123456789=acme:alice:admin", "LKGATE_API_KEYS"},
		{"query key not 1", "LKGATE_ALLOW_QUERY_KEY", "true", "LKGATE_ALLOW_QUERY_KEY"},
		{"demo user without password", "LKGATE_DEMO_USERS", "hana=acme:all", "LKGATE_DEMO_USERS"},
		{"demo user, unknown permission", "LKGATE_DEMO_USERS", "hana:pw=acme:root", "LKGATE_DEMO_USERS"},
		{"demo user twice", "LKGATE_DEMO_USERS", "hana:pw=acme:all,hana:pw2=acme:tokens", "LKGATE_DEMO_USERS"},
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
		{"room index not on or off", "LKGATE_ROOM_INDEX", "1", "LKGATE_ROOM_INDEX"},
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
	if cfg.keys["acme-key-0123456789"].Subject != "alice" || cfg.keys["globex-key-0123456789"].Tenant != "globex" || cfg.addr != "127.0.0.1:8080" || cfg.prefix != "/api/v1" || cfg.sip != nil {
		t.Errorf("config %+v", cfg)
	}
	vars := validEnv()
	vars["LKGATE_SIP_TRUNKS"] = "acme=ST_a, globex=ST_g"
	if cfg, err = configFromEnv(env(vars)); err != nil {
		t.Fatal(err)
	}
	if id, err := cfg.sip.Trunks.OutboundTrunk(context.Background(), "globex"); id != "ST_g" || err != nil {
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
	vars["LKGATE_API_KEYS"] = "acme-key-0123456789=acme:alice:all,acme-bob-key-0123456789=acme:bob:all"
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
	if rec := invite(mux); rec.Code != http.StatusNotFound {
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
	if _, _, err := newMux(cfg, nil); err == nil || !strings.Contains(err.Error(), "LIVEKIT_API_SECRET") {
		t.Errorf("short secret: %v", err)
	}
}

func TestDemoPageRoutes(t *testing.T) {
	vars := validEnv()
	vars["LKGATE_DEMO_LIVEKIT_CLIENT"] = filepath.Join(t.TempDir(), "livekit-client.esm.mjs")
	if err := os.WriteFile(vars["LKGATE_DEMO_LIVEKIT_CLIENT"], []byte("export const Room = 1;\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := configFromEnv(env(vars)); err == nil || !strings.Contains(err.Error(), "LKGATE_DEMO_USERS") {
		t.Fatalf("the demo page without users: %v", err)
	}
	vars["LKGATE_DEMO_USERS"] = "hana:pw=acme:all"
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
	fake.ResetCalls() // the webhook health check's first listing of rooms
	// The default LKGATE_ADDR is 127.0.0.1:8080: its loopback names are
	// served, and a rebinding name that resolves there is not (421).
	for host, want := range map[string]int{
		"127.0.0.1:8080":               http.StatusOK,
		"localhost:8080":               http.StatusOK,
		"rebind.attacker.example:8080": http.StatusMisdirectedRequest,
		"127.0.0.1:9090":               http.StatusMisdirectedRequest,
	} {
		req := httptest.NewRequest("POST", "/api/v1/livekit/token", strings.NewReader(`{"room_name":"r","participant_identity":"i"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Host = host
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != want || fake.TotalCalls() != 0 {
			t.Errorf("unauthenticated token, Host %s: %d %s, %d LiveKit calls (want %d and 0)", host, rec.Code, rec.Body, fake.TotalCalls(), want)
		}
	}
}

// localHosts gives unauthenticated mode the Host headers a browser on this
// machine sends to LKGATE_ADDR.
func TestLocalHosts(t *testing.T) {
	loopback := []string{"localhost:8080", "127.0.0.1:8080", "[::1]:8080"}
	for addr, want := range map[string][]string{
		"127.0.0.1:8080":  loopback,
		"[::1]:8080":      loopback,
		"localhost:8080":  loopback,
		":8080":           loopback,
		"0.0.0.0:8080":    loopback,
		"10.0.0.5:8080":   {"10.0.0.5:8080"},
		"dev.lan:8080":    {"dev.lan:8080"},
		"no-port-address": {"no-port-address"},
	} {
		if got := localHosts(addr); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("localHosts(%q) = %v, want %v", addr, got, want)
		}
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
	for raw, want := range map[string]lkgate.Limits{
		"max_waiting_guests_per_room=3,max_waiting_guests=9,guest_wait_rate=5/m": {MaxWaitingGuestsPerRoom: 3, MaxWaitingGuests: 9, GuestWaitRate: lkgate.PerMinute(5, 0)},
		"max_bans=20":        {MaxBans: 20},
		"max_bans=unlimited": {MaxBans: lkgate.NoLimit},
		"max_waiting_guests_per_room=unlimited,max_waiting_guests=unlimited,guest_wait_rate=unlimited": {
			MaxWaitingGuestsPerRoom: lkgate.NoLimit, MaxWaitingGuests: lkgate.NoLimit, GuestWaitRate: lkgate.Rate{Events: lkgate.NoLimit}},
	} {
		vars["LKGATE_LIMITS"] = raw
		cfg, err := configFromEnv(env(vars))
		if err != nil || cfg.manager.Limits.Default != want {
			t.Errorf("%s: limits %+v (%v), want %+v", raw, cfg.manager.Limits.Default, err, want)
		}
	}
	for _, raw := range []string{"max_waiting_guests=0", "max_waiting_guests_per_room=-1", "max_waiting_guests=many", "guest_wait_rate=-1/m"} {
		vars["LKGATE_LIMITS"] = raw
		if _, err := configFromEnv(env(vars)); err == nil || !strings.Contains(err.Error(), "LKGATE_LIMITS") {
			t.Errorf("%s: %v, want an error naming LKGATE_LIMITS", raw, err)
		}
	}
}

// SIP policies from the environment: every error names its variable.
func TestSIPPolicyEnvNamesTheVariable(t *testing.T) {
	for name, tc := range map[string]struct{ key, value string }{
		"destination without tenant":   {"LKGATE_SIP_DESTINATIONS", "+49"},
		"destination without +":        {"LKGATE_SIP_DESTINATIONS", "acme=49"},
		"destination with spaces":      {"LKGATE_SIP_DESTINATIONS", "acme=+49 30"},
		"destination tenant twice":     {"LKGATE_SIP_DESTINATIONS", "acme=+49;acme=+44"},
		"destinations split by commas": {"LKGATE_SIP_DESTINATIONS", "acme=+49,globex=+44"},
		"caller ID prefix only":        {"LKGATE_SIP_CALLER_IDS", "acme=+"},
		"caller ID not E.164":          {"LKGATE_SIP_CALLER_IDS", "acme=030111111"},
	} {
		t.Run(name, func(t *testing.T) {
			vars := validEnv()
			vars["LKGATE_SIP_TRUNKS"] = "acme=ST_a"
			vars[tc.key] = tc.value
			if _, err := configFromEnv(env(vars)); err == nil || !strings.Contains(err.Error(), tc.key) {
				t.Errorf("error %v does not name %s", err, tc.key)
			}
		})
	}
	vars := validEnv()
	vars["LKGATE_SIP_DESTINATIONS"] = "acme=+49"
	if _, err := configFromEnv(env(vars)); err == nil || !strings.Contains(err.Error(), "LKGATE_SIP_TRUNKS") {
		t.Errorf("destinations without trunks: %v, want an error naming LKGATE_SIP_TRUNKS", err)
	}
}

// sipCall posts a call for acme to mux and returns the status and problem.
func sipCall(t *testing.T, mux http.Handler, from, to string) (int, httpx.Problem) {
	t.Helper()
	body := `{"room_name":"support","participant_identity":"phone","to_phone_number":"` + to + `"`
	if from != "" {
		body += `,"from_phone_number":"` + from + `"`
	}
	req := httptest.NewRequest("POST", "/api/v1/sip/call", strings.NewReader(body+"}"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer acme-key-0123456789")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	var p httpx.Problem
	if rec.Code != http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	return rec.Code, p
}

// The example server dials nothing until LKGATE_SIP_DESTINATIONS allows
// it, never premium-rate prefixes, and presents only its trunk's number
// unless LKGATE_SIP_CALLER_IDS approves another. Refusals never reach
// LiveKit.
func TestSIPDenyByDefault(t *testing.T) {
	fake := lkgatetest.NewServer(t)
	trunk := fake.AddOutboundTrunk("pbx.example:5060", "+15550000001")
	mux := func(vars map[string]string) http.Handler {
		t.Helper()
		env := validEnv()
		env["LIVEKIT_URL"], env["LKGATE_SIP_TRUNKS"] = fake.URL(), "acme="+trunk
		for k, v := range vars {
			env[k] = v
		}
		cfg, err := configFromEnv(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		return mustMux(t, cfg)
	}
	refused := func(t *testing.T, mux http.Handler, from, to, field string) {
		t.Helper()
		dialed := len(fake.Dialed())
		if status, p := sipCall(t, mux, from, to); status != http.StatusForbidden || p.Field != field {
			t.Errorf("from %q to %s: %d %+v, want 403 on %s", from, to, status, p, field)
		}
		if len(fake.Dialed()) != dialed {
			t.Errorf("from %q to %s was dialed", from, to)
		}
	}
	allowed := func(t *testing.T, mux http.Handler, from, to string) {
		t.Helper()
		if status, p := sipCall(t, mux, from, to); status != http.StatusOK {
			t.Fatalf("from %q to %s: %d %+v, want 200", from, to, status, p)
		}
		if d := fake.Dialed(); d[len(d)-1].SipCallTo != to || d[len(d)-1].SipNumber != from {
			t.Errorf("dialed %v, want to %s from %q", d[len(d)-1], to, from)
		}
	}

	t.Run("no allow-list", func(t *testing.T) {
		m := mux(nil)
		for _, to := range []string{"+4930123456", "+15550100", "+19005551234"} {
			refused(t, m, "", to, "to_phone_number")
		}
	})
	t.Run("allow-list and premium rate", func(t *testing.T) {
		m := mux(map[string]string{"LKGATE_SIP_DESTINATIONS": "acme=+49, +1; globex=+44"})
		allowed(t, m, "", "+4930123456")
		allowed(t, m, "", "+15550100")
		for _, to := range []string{"+4990012345", "+19005551234", "+19765550000", "+447700900123", "+3370000000"} {
			refused(t, m, "", to, "to_phone_number")
		}
	})
	t.Run("any number but premium rate", func(t *testing.T) {
		m := mux(map[string]string{"LKGATE_SIP_DESTINATIONS": "acme=+"})
		allowed(t, m, "", "+3370000000")
		for _, to := range []string{"+33899000000", "+8816000000", "+19005551234"} {
			refused(t, m, "", to, "to_phone_number")
		}
	})
	t.Run("caller ID", func(t *testing.T) {
		m := mux(map[string]string{"LKGATE_SIP_DESTINATIONS": "acme=+1"})
		refused(t, m, "+15550000001", "+15550100", "from_phone_number")
		refused(t, m, "+4930999999", "+15550100", "from_phone_number")
		m = mux(map[string]string{"LKGATE_SIP_DESTINATIONS": "acme=+1", "LKGATE_SIP_CALLER_IDS": "acme=+4930111111,+4930222222;globex=+15550000002"})
		allowed(t, m, "+4930222222", "+15550100")
		allowed(t, m, "", "+15550100")
		refused(t, m, "+15550000002", "+15550100", "from_phone_number")
	})
}

// LKGATE_AGENTS: without it no named agent may be dispatched; with it,
// each tenant its own.
func TestAgentsFromEnv(t *testing.T) {
	vars := validEnv()
	cfg, err := configFromEnv(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.manager.AllowAgent != nil {
		t.Error("agents allowed without LKGATE_AGENTS")
	}
	vars["LKGATE_AGENTS"] = "acme=helper+notetaker, globex=translator"
	if cfg, err = configFromEnv(env(vars)); err != nil {
		t.Fatal(err)
	}
	allow := cfg.manager.AllowAgent
	if allow == nil || !allow("acme", "helper") || !allow("acme", "notetaker") || !allow("globex", "translator") ||
		allow("acme", "translator") || allow("initech", "helper") {
		t.Error("LKGATE_AGENTS not applied per tenant")
	}
	for _, raw := range []string{"acme", "acme=", "=helper", "acme=helper+", "acme=a,acme=b"} {
		vars["LKGATE_AGENTS"] = raw
		if _, err := configFromEnv(env(vars)); err == nil || !strings.Contains(err.Error(), "LKGATE_AGENTS") {
			t.Errorf("%q: %v, want an error naming LKGATE_AGENTS", raw, err)
		}
	}
}

// LKGATE_ROOM_INDEX=on lists a tenant's rooms through a room index: a
// room a participant's join created shows once its room_started webhook
// or the next reconciliation says so, where the unfiltered list shows it
// at once.
func TestRoomIndexFromEnv(t *testing.T) {
	for _, tt := range []struct {
		value  string
		listed bool
	}{{"", true}, {"off", true}, {"on", false}} {
		t.Run("LKGATE_ROOM_INDEX="+tt.value, func(t *testing.T) {
			fake := lkgatetest.NewServer(t)
			vars := validEnv()
			vars["LIVEKIT_URL"] = fake.URL()
			vars["LKGATE_ROOM_INDEX"] = tt.value
			cfg, err := configFromEnv(env(vars))
			if err != nil {
				t.Fatal(err)
			}
			mux := mustMux(t, cfg)
			status, res := token(t, mux, "acme-key-0123456789", "board")
			if status != http.StatusOK {
				t.Fatalf("token: %d", status)
			}
			if _, err := fake.Join(res.Token); err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest("GET", "/api/v1/livekit/rooms", nil)
			req.Header.Set("Authorization", "Bearer acme-key-0123456789")
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("list: %d %s", rec.Code, rec.Body)
			}
			if listed := strings.Contains(rec.Body.String(), `"board"`); listed != tt.listed {
				t.Errorf("the join-created room listed: %v, want %v: %s", listed, tt.listed, rec.Body)
			}
		})
	}
}
