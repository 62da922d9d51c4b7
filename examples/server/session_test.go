package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/lkgatetest"
)

// LKGATE_API_KEYS splits each entry at its last "=", so base64 keys (which
// end in "=" and hold "+" and "/") and keys with ":" or "=" inside keep
// every byte, and each entry carries its permissions.
func TestAPIKeysFromEnv(t *testing.T) {
	const (
		b64       = "q83vEjRWeJq8mN+/AAECAwQFBgc=" // 20 bytes, base64 with padding
		b64Double = "AAECAwQFBgcICQoLDA0ODxA=="    // two "=" of padding
		colons    = "key:with:colons:0123456789"
		inner     = "key=with=equals=0123456789"
	)
	keys, err := parseAPIKeys(b64 + "=acme:alice:all, " + b64Double + "=acme::tokens," + colons + "=globex:gina:tokens+rooms+moderate," + inner + "=globex:bot:guests+sip")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]httpx.Principal{
		b64:       {Tenant: "acme", Subject: "alice", Permissions: httpx.AllPermissions},
		b64Double: {Tenant: "acme", Permissions: httpx.PermTokens},
		colons:    {Tenant: "globex", Subject: "gina", Permissions: httpx.PermTokens | httpx.PermRooms | httpx.PermModerate},
		inner:     {Tenant: "globex", Subject: "bot", Permissions: httpx.PermGuests | httpx.PermSIP},
	}
	if len(keys) != len(want) {
		t.Fatalf("keys %v", keys)
	}
	for k, p := range want {
		if keys[k] != p {
			t.Errorf("key %q: %+v, want %+v", k, keys[k], p)
		}
	}

	// The keys work as parsed: the base64 key authenticates over HTTP.
	fake := lkgatetest.NewServer(t)
	vars := validEnv()
	vars["LIVEKIT_URL"] = fake.URL()
	vars["LKGATE_API_KEYS"] = b64 + "=acme:alice:all"
	cfg, err := configFromEnv(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := token(t, mustMux(t, cfg), b64, "r"); status != http.StatusOK {
		t.Errorf("the base64 key: %d", status)
	}

	// Errors name the variable and the entry, never the key.
	const secret = "SECRET-key-0123456789"
	for _, raw := range []string{
		"acme-key-0123456789=acme:alice:all," + secret + "=acme:alice",
		"acme-key-0123456789=acme:alice:all," + secret + "=acme:alice:root",
		"acme-key-0123456789=acme:alice:all," + secret + "=:alice:all",
		"acme-key-0123456789=acme:alice:all," + secret,
		"acme-key-0123456789=acme:alice:all," + secret + "=acme:a:b:all",
	} {
		vars["LKGATE_API_KEYS"] = raw
		_, err := configFromEnv(env(vars))
		if err == nil || !strings.Contains(err.Error(), "LKGATE_API_KEYS: entry 2") || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%q: error %v, want one naming LKGATE_API_KEYS and entry 2, without the key", raw, err)
		}
	}
}

// ?api_key= is refused unless LKGATE_ALLOW_QUERY_KEY=1.
func TestQueryKeyFromEnv(t *testing.T) {
	fake := lkgatetest.NewServer(t)
	for value, want := range map[string]int{"": http.StatusUnauthorized, "1": http.StatusOK} {
		vars := validEnv()
		vars["LIVEKIT_URL"] = fake.URL()
		vars["LKGATE_ALLOW_QUERY_KEY"] = value
		cfg, err := configFromEnv(env(vars))
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest("POST", "/api/v1/livekit/token?api_key=acme-key-0123456789", strings.NewReader(`{"room_name":"r","participant_identity":"i"}`))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		mustMux(t, cfg).ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("LKGATE_ALLOW_QUERY_KEY=%q: %d %s, want %d", value, rec.Code, rec.Body, want)
		}
	}
}

// demoServer is the example server with the demo page and two users of
// acme: hana the host and mia the member.
type demoServer struct {
	mux  http.Handler
	fake *lkgatetest.Server
}

func newDemoServer(t *testing.T) *demoServer {
	t.Helper()
	fake := lkgatetest.NewServer(t)
	vars := validEnv()
	vars["LIVEKIT_URL"] = fake.URL()
	vars["LKGATE_DEMO_USERS"] = "hana:host-pass=acme:tokens+rooms+moderate+guests, mia:member:pass=acme:tokens"
	vars["LKGATE_INVITE_KEYS"] = "k1=" + base64.StdEncoding.EncodeToString(make([]byte, 32)) // the guest routes
	vars["LKGATE_INVITE_BASE_URL"] = "https://app.example.com"
	vars["LKGATE_SIP_TRUNKS"] = "acme=ST_acme" // the SIP routes
	cfg, err := configFromEnv(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	cfg.livekitClient = "unused" // the page's routes, without the file check
	return &demoServer{mux: mustMux(t, cfg), fake: fake}
}

func (d *demoServer) do(t *testing.T, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	d.mux.ServeHTTP(rec, req)
	return rec
}

// signIn signs user in and returns the session cookie.
func (d *demoServer) signIn(t *testing.T, user, password string) *http.Cookie {
	t.Helper()
	req := httptest.NewRequest("POST", "/demo/session", strings.NewReader(`{"user":"`+user+`","password":"`+password+`"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := d.do(t, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("sign-in %s: %d %s", user, rec.Code, rec.Body)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == sessionCookie {
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
				t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/", c)
			}
			return c
		}
	}
	t.Fatalf("sign-in %s set no session cookie", user)
	return nil
}

// api sends an API request with the session cookie (if any) as the page's
// fetch would.
func (d *demoServer) api(t *testing.T, c *http.Cookie, method, path, body string) (int, httpx.Problem) {
	t.Helper()
	req := httptest.NewRequest(method, "/api/v1"+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c != nil {
		req.AddCookie(c)
	}
	rec := d.do(t, req)
	var p httpx.Problem
	if rec.Code >= 400 {
		_ = json.Unmarshal(rec.Body.Bytes(), &p)
	}
	return rec.Code, p
}

// The page's API authenticates by the session cookie with the user's own
// permissions: the member joins but cannot remove, mute, list or invite;
// the host can. No API key is involved.
func TestDemoSessionPermissions(t *testing.T) {
	d := newDemoServer(t)
	host, member := d.signIn(t, "hana", "host-pass"), d.signIn(t, "mia", "member:pass")
	const tok = `{"room_name":"standup","participant_name":"Mia"}`
	if status, p := d.api(t, member, "POST", "/livekit/token", tok); status != http.StatusOK {
		t.Fatalf("the member's token: %d %+v", status, p)
	}
	d.fake.ResetCalls()
	for _, c := range []struct{ method, path, body, perm string }{
		{"DELETE", "/livekit/participant", `{"room_name":"standup","participant_identity":"hana"}`, "moderate"},
		{"POST", "/livekit/participant/mute", `{"room_name":"standup","participant_identity":"hana","source":"microphone","muted":true}`, "moderate"},
		{"GET", "/livekit/rooms/standup", "", "rooms"},
		{"POST", "/livekit/guest/invite", `{"orgId":"acme","roomId":"standup","allowAll":true}`, "guests"},
	} {
		status, p := d.api(t, member, c.method, c.path, c.body)
		if status != http.StatusForbidden || p.Code != httpx.CodePermissionDenied || p.Permission != c.perm {
			t.Errorf("member %s %s: %d %+v, want 403 permission_denied for %s", c.method, c.path, status, p, c.perm)
		}
	}
	if n := d.fake.TotalCalls(); n != 0 {
		t.Errorf("the member's refused requests made %d LiveKit calls", n)
	}
	// The host gets past the permission check (404: nobody is in the room).
	if status, p := d.api(t, host, "DELETE", "/livekit/participant", `{"room_name":"standup","participant_identity":"mia"}`); status != http.StatusNotFound {
		t.Errorf("host remove: %d %+v, want 404", status, p)
	}
	if status, _ := d.api(t, host, "GET", "/livekit/rooms", ""); status != http.StatusOK {
		t.Errorf("host list: %d", status)
	}
	if status, p := d.api(t, host, "POST", "/sip/call", `{"room_name":"standup","participant_identity":"p","from_phone_number":"+15550000001","to_phone_number":"+15550100"}`); p.Permission != "sip" {
		t.Errorf("host call: %d %+v, want 403 for sip", status, p)
	}
}

// Sign-in, sign-out and what the session cookie can and cannot do.
func TestDemoSessionLifecycle(t *testing.T) {
	d := newDemoServer(t)
	const tok = `{"room_name":"standup"}`
	signIn := func(contentType, body string) int {
		req := httptest.NewRequest("POST", "/demo/session", strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		return d.do(t, req).Code
	}
	for _, tc := range []struct {
		name, contentType, body string
		want                    int
	}{
		{"wrong password", "application/json", `{"user":"hana","password":"nope"}`, http.StatusUnauthorized},
		{"unknown user", "application/json", `{"user":"eve","password":""}`, http.StatusUnauthorized},
		{"another user's password", "application/json", `{"user":"mia","password":"host-pass"}`, http.StatusUnauthorized},
		{"form post (CSRF)", "application/x-www-form-urlencoded", `user=hana&password=host-pass`, http.StatusUnsupportedMediaType},
		{"text/plain (CSRF)", "text/plain", `{"user":"hana","password":"host-pass"}`, http.StatusUnsupportedMediaType},
		{"unknown field", "application/json", `{"user":"hana","password":"host-pass","admin":true}`, http.StatusBadRequest},
	} {
		if got := signIn(tc.contentType, tc.body); got != tc.want {
			t.Errorf("sign-in, %s: %d, want %d", tc.name, got, tc.want)
		}
	}
	if status, _ := d.api(t, nil, "POST", "/livekit/token", tok); status != http.StatusUnauthorized {
		t.Errorf("no cookie: %d", status)
	}
	if status, _ := d.api(t, &http.Cookie{Name: sessionCookie, Value: "forged"}, "POST", "/livekit/token", tok); status != http.StatusUnauthorized {
		t.Errorf("forged cookie: %d", status)
	}

	host := d.signIn(t, "hana", "host-pass")
	rec := d.do(t, func() *http.Request {
		r := httptest.NewRequest("GET", "/demo/session", nil)
		r.AddCookie(host)
		return r
	}())
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"user":"hana","tenant":"acme","permissions":["tokens","rooms","moderate","guests"]}` {
		t.Errorf("GET /demo/session: %d %s", rec.Code, rec.Body)
	}
	// A cross-site page cannot use the session: a form post is not JSON,
	// and a cross-origin request is refused outright.
	req := httptest.NewRequest("POST", "/api/v1/livekit/token", strings.NewReader(tok))
	req.Header.Set("Content-Type", "text/plain")
	req.AddCookie(host)
	if rec := d.do(t, req); rec.Code != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain with the cookie: %d", rec.Code)
	}
	for site, want := range map[string]int{"cross-site": http.StatusForbidden, "same-site": http.StatusForbidden, "same-origin": http.StatusOK} {
		req := httptest.NewRequest("POST", "/api/v1/livekit/token", strings.NewReader(tok))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Sec-Fetch-Site", site)
		req.AddCookie(host)
		if rec := d.do(t, req); rec.Code != want {
			t.Errorf("Sec-Fetch-Site %s: %d %s, want %d", site, rec.Code, rec.Body, want)
		}
	}
	// An API key in the header wins over the cookie: a backend's request
	// is the backend's.
	req = httptest.NewRequest("POST", "/api/v1/livekit/token", strings.NewReader(tok))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer wrong-key-0123456789")
	req.AddCookie(host)
	if rec := d.do(t, req); rec.Code != http.StatusUnauthorized {
		t.Errorf("bad key with a good cookie: %d", rec.Code)
	}

	// Signing out ends the session on the server.
	out := httptest.NewRequest("DELETE", "/demo/session", nil)
	out.AddCookie(host)
	if rec := d.do(t, out); rec.Code != http.StatusNoContent {
		t.Errorf("sign-out: %d", rec.Code)
	}
	if status, _ := d.api(t, host, "POST", "/livekit/token", tok); status != http.StatusUnauthorized {
		t.Errorf("after sign-out: %d", status)
	}
}

// Sessions end after sessionTTL.
func TestDemoSessionExpires(t *testing.T) {
	users, err := parseDemoUsers("hana:pw=acme:tokens")
	if err != nil {
		t.Fatal(err)
	}
	s := newSessions(users)
	now := time.Unix(1_700_000_000, 0)
	s.now = func() time.Time { return now }
	id, ok := s.signIn("hana", "pw")
	if !ok {
		t.Fatal("sign-in refused")
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: id})
	if p, err := s.Authenticate(req); err != nil || p != (httpx.Principal{Tenant: "acme", Subject: "hana", Permissions: httpx.PermTokens}) {
		t.Fatalf("fresh session: %+v, %v", p, err)
	}
	now = now.Add(sessionTTL)
	if _, err := s.Authenticate(req); err == nil {
		t.Error("the session outlived its TTL")
	}
}

// Demo users' tenants count among the tenants for shared names: a second
// tenant only among the users still needs Redis for its leases.
func TestDemoUsersTenantsCount(t *testing.T) {
	vars := validEnv()
	vars["LKGATE_API_KEYS"] = "acme-key-0123456789=acme:alice:all"
	vars["LKGATE_ROOM_NAMES"] = "shared"
	if _, err := configFromEnv(env(vars)); err != nil {
		t.Fatalf("one tenant: %v", err)
	}
	vars["LKGATE_DEMO_USERS"] = "gina:pw=globex:tokens"
	if _, err := configFromEnv(env(vars)); err == nil || !strings.Contains(err.Error(), "LKGATE_REDIS_ADDR") {
		t.Errorf("a second tenant among the demo users: %v, want an error asking for LKGATE_REDIS_ADDR", err)
	}
}
