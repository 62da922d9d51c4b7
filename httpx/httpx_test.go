package httpx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/livekit/protocol/auth"
	"github.com/twitchtv/twirp"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/lkgatetest"
)

const (
	keyAcme   = "acme-key-0123456789"
	keyGlobex = "globex-key-0123456789"
	// keyAcmeMember may only fetch tokens, as a browser's session should.
	keyAcmeMember = "acme-member-key-0123456789"
)

type env struct {
	fake   *lkgatetest.Server
	m      *lkgate.Manager
	h      *httpx.Handler
	logs   *syncBuffer
	logger *slog.Logger // the Manager's and the Handler's, writing to logs
	naming lkgate.RoomNaming
	hcfg   httpx.Config // h's
}

func newEnv(t testing.TB, mcfg lkgate.Config, keys httpx.StaticKeysConfig) *env {
	t.Helper()
	e := &env{fake: lkgatetest.NewServer(t), logs: &syncBuffer{}, naming: mcfg.RoomNames}
	e.logger = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	mcfg.Logger = e.logger
	e.m = e.fake.NewManager(t, mcfg)
	if keys.Keys == nil {
		keys.Keys = map[string]httpx.Principal{
			keyAcme:       {Tenant: "acme", Subject: "alice", Permissions: httpx.AllPermissions},
			keyGlobex:     {Tenant: "globex", Subject: "gina", Permissions: httpx.AllPermissions},
			keyAcmeMember: {Tenant: "acme", Subject: "mia", Permissions: httpx.PermTokens},
		}
	}
	sk, err := httpx.NewStaticKeys(keys)
	if err != nil {
		t.Fatal(err)
	}
	e.hcfg = httpx.Config{Authenticator: sk, Logger: e.logger}
	return e.build(t)
}

// build makes e's Handler anew from e.hcfg.
func (e *env) build(t testing.TB) *env {
	t.Helper()
	var err error
	if e.h, err = httpx.New(e.m, e.hcfg); err != nil {
		t.Fatal(err)
	}
	return e
}

// testGuests is a guest configuration for envs that need the guest routes.
var testGuests = lkgate.GuestConfig{Keys: []lkgate.InviteKey{{ID: "k1", Key: bytes.Repeat([]byte{7}, 32)}}, InviteBaseURL: "https://app.example.com"}

// withGuests gives e's Handler the guest routes, under cfg.
func (e *env) withGuests(t testing.TB, cfg lkgate.GuestConfig) *env {
	t.Helper()
	var err error
	if e.hcfg.Guests, err = lkgate.NewGuests(e.m, cfg); err != nil {
		t.Fatal(err)
	}
	return e.build(t)
}

// withSIP gives e's Handler the SIP routes, under cfg.
func (e *env) withSIP(t testing.TB, cfg lkgate.SIPConfig) *env {
	t.Helper()
	var err error
	if e.hcfg.SIP, err = lkgate.NewSIP(e.m, cfg); err != nil {
		t.Fatal(err)
	}
	return e.build(t)
}

// namings are both room namings, for tests of behaviour that matters in
// both.
var namings = []lkgate.RoomNaming{lkgate.ScopedNames, lkgate.SharedNames}

// forEachNaming runs test once per room naming, as subtests.
func forEachNaming(t *testing.T, test func(t *testing.T, naming lkgate.RoomNaming)) {
	for _, n := range namings {
		t.Run(n.String(), func(t *testing.T) { test(t, n) })
	}
}

// lkRoom is the LiveKit name of tenant's room under e's naming, for reading
// and seeding the fake directly.
func (e *env) lkRoom(t testing.TB, tenant, room string) string {
	t.Helper()
	if e.naming == lkgate.SharedNames {
		return room
	}
	name, err := lkgate.ScopedRoomName(tenant, room)
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// claimsOf verifies a token minted with the fake's key and returns its
// LiveKit claims.
func claimsOf(t *testing.T, token string) auth.ClaimGrants {
	t.Helper()
	var c struct {
		jwt.RegisteredClaims
		auth.ClaimGrants
	}
	if _, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return []byte(lkgatetest.APISecret), nil }); err != nil {
		t.Fatal(err)
	}
	return c.ClaimGrants
}

type response struct {
	status  int
	header  http.Header
	body    []byte
	problem httpx.Problem
}

func (e *env) do(t *testing.T, method, target, key, body string) response {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return e.serve(t, req)
}

func (e *env) serve(t *testing.T, req *http.Request) response {
	t.Helper()
	return serveOn(t, e.h, req)
}

// serveOn serves req with h and reads the answer: an error must be a
// complete problem.
func serveOn(t *testing.T, h http.Handler, req *http.Request) response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return parseResponse(t, rec)
}

func parseResponse(t *testing.T, rec *httptest.ResponseRecorder) response {
	t.Helper()
	res := response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
	if rec.Code >= 400 {
		if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("error response has Content-Type %q: %s", ct, res.body)
		}
		if err := json.Unmarshal(res.body, &res.problem); err != nil {
			t.Fatalf("error body is not a problem: %s", res.body)
		}
		if res.problem.Status != rec.Code || res.problem.Code == "" || res.problem.Title == "" {
			t.Fatalf("incomplete problem: %s", res.body)
		}
	}
	return res
}

func TestTokenRoute(t *testing.T) {
	e := newEnv(t, lkgate.Config{}, httpx.StaticKeysConfig{})
	res := e.do(t, "POST", "/livekit/token", keyAcme, `{"room_name":"standup","participant_identity":"alice","participant_name":"Alice","extra_sdk_field":1}`)
	if res.status != http.StatusOK {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	var got httpx.TokenResponse
	if err := json.Unmarshal(res.body, &got); err != nil {
		t.Fatal(err)
	}
	if got.RoomName != "standup" || got.ParticipantIdentity != "alice" || got.LiveKitURL != "ws"+strings.TrimPrefix(e.fake.URL(), "http") {
		t.Errorf("response %+v", got)
	}
	if cc := res.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q: tokens must not be cached", cc)
	}
	c := claimsOf(t, got.Token)
	v := c.Video
	// The response speaks the tenant's name; LiveKit sees the scoped one.
	if !v.RoomJoin || v.Room != "t4_acme_standup" || v.RoomAdmin || v.RoomCreate || v.RoomList || v.RoomRecord || v.GetCanUpdateOwnMetadata() || c.Name != "Alice" || c.Attributes[lkgate.TenantAttribute] != "acme" {
		t.Errorf("claims %+v video %+v", c, v)
	}
}

// Under ScopedNames two tenants both get tokens for "standup": each names
// the tenant's own LiveKit room, and each answer names the room as the
// tenant does. Neither costs a LiveKit call.
func TestTokenRouteScopedNames(t *testing.T) {
	e := newEnv(t, lkgate.Config{}, httpx.StaticKeysConfig{})
	for _, tc := range []struct{ key, tenant, lkRoom string }{
		{keyAcme, "acme", "t4_acme_standup"},
		{keyGlobex, "globex", "t6_globex_standup"},
	} {
		res := e.do(t, "POST", "/livekit/token", tc.key, `{"room_name":"standup","participant_identity":"x"}`)
		if res.status != http.StatusOK {
			t.Fatalf("%s: %d %s", tc.tenant, res.status, res.body)
		}
		got := decodeBody[httpx.TokenResponse](t, res)
		if got.RoomName != "standup" {
			t.Errorf("%s: room_name %q, want the tenant's name", tc.tenant, got.RoomName)
		}
		c := claimsOf(t, got.Token)
		if c.Video == nil || c.Video.Room != tc.lkRoom || c.Attributes[lkgate.TenantAttribute] != tc.tenant {
			t.Errorf("%s: video %+v attributes %v, want room %q", tc.tenant, c.Video, c.Attributes, tc.lkRoom)
		}
	}
	if n := e.fake.TotalCalls(); n != 0 {
		t.Errorf("scoped tokens made %d LiveKit calls, want 0", n)
	}
}

func TestAuthentication(t *testing.T) {
	body := `{"room_name":"r","participant_identity":"i"}`
	e := newEnv(t, lkgate.Config{}, httpx.StaticKeysConfig{})
	tests := []struct {
		name   string
		target string
		header string
		want   int
	}{
		{"no key", "/livekit/token", "", 401},
		{"unknown key", "/livekit/token", "Bearer nope-nope-nope-nope", 401},
		{"key prefix", "/livekit/token", "Bearer " + keyAcme[:len(keyAcme)-1], 401},
		{"basic scheme", "/livekit/token", "Basic " + keyAcme, 401},
		{"bearer", "/livekit/token", "Bearer " + keyAcme, 200},
		{"bearer lower case", "/livekit/token", "bearer " + keyAcme, 200},
		{"query form refused by default", "/livekit/token?api_key=" + keyAcme, "", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", tt.target, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			res := e.serve(t, req)
			if res.status != tt.want {
				t.Fatalf("status %d, want %d: %s", res.status, tt.want, res.body)
			}
			if tt.want == 401 && (res.problem.Code != httpx.CodeUnauthenticated || res.header.Get("WWW-Authenticate") == "") {
				t.Errorf("401 without code or challenge: %s", res.body)
			}
		})
	}
	t.Run("query form allowed", func(t *testing.T) {
		e := newEnv(t, lkgate.Config{}, httpx.StaticKeysConfig{AllowQueryKey: true, Keys: map[string]httpx.Principal{keyAcme: {Tenant: "acme", Permissions: httpx.PermTokens}}})
		if res := e.do(t, "POST", "/livekit/token?api_key="+keyAcme, "", body); res.status != 200 {
			t.Errorf("status %d, want 200: %s", res.status, res.body)
		}
	})
}

func TestNewStaticKeysValidates(t *testing.T) {
	for name, keys := range map[string]map[string]httpx.Principal{
		"empty":     {},
		"short key": {"short": {Tenant: "a", Permissions: httpx.AllPermissions}},
		"no tenant": {keyAcme: {Subject: "x", Permissions: httpx.AllPermissions}},
		// The zero Permission would refuse every request: a migration
		// mistake caught at start-up.
		"no permissions": {keyAcme: {Tenant: "a"}},
		"space":          {"key with spaces in it": {Tenant: "a", Permissions: httpx.AllPermissions}},
	} {
		if _, err := httpx.NewStaticKeys(httpx.StaticKeysConfig{Keys: keys}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestTokenRouteBadInput(t *testing.T) {
	e := newEnv(t, lkgate.Config{}, httpx.StaticKeysConfig{})
	long := strings.Repeat("r", 300)
	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		code        string
		field       string
	}{
		{"empty body", "application/json", "", 400, httpx.CodeInvalidArgument, ""},
		{"whitespace body", "application/json", "  \n", 400, httpx.CodeInvalidArgument, ""},
		{"not an object", "application/json", `["r"]`, 400, httpx.CodeInvalidArgument, ""},
		{"null", "application/json", `null`, 400, httpx.CodeInvalidArgument, ""},
		{"malformed", "application/json", `{"room_name":`, 400, httpx.CodeInvalidArgument, ""},
		{"trailing data", "application/json", `{"room_name":"r","participant_identity":"i"} {}`, 400, httpx.CodeInvalidArgument, ""},
		{"wrong type", "application/json", `{"room_name":5,"participant_identity":"i"}`, 400, httpx.CodeInvalidArgument, "room_name"},
		{"attributes wrong type", "application/json", `{"room_name":"r","participant_identity":"i","participant_attributes":{"a":1}}`, 400, httpx.CodeInvalidArgument, "participant_attributes"},
		{"missing room", "application/json", `{"participant_identity":"i"}`, 400, httpx.CodeInvalidArgument, "room_name"},
		{"empty room", "application/json", `{"room_name":"","participant_identity":"i"}`, 400, httpx.CodeInvalidArgument, "room_name"},
		{"oversized room", "application/json", `{"room_name":"` + long + `","participant_identity":"i"}`, 400, httpx.CodeInvalidArgument, "room_name"},
		{"control char", "application/json", `{"room_name":"a\u0007b","participant_identity":"i"}`, 400, httpx.CodeInvalidArgument, "room_name"},
		{"control char identity", "application/json", `{"room_name":"r","participant_identity":"a\u0007b"}`, 400, httpx.CodeInvalidArgument, "participant_identity"},
		{"room_config egress", "application/json", `{"room_name":"r","room_config":{"egress":{"room":{}}}}`, 400, httpx.CodeInvalidArgument, "room_config.egress"},
		{"room_config name", "application/json", `{"room_name":"r","room_config":{"agents":[],"name":"other"}}`, 400, httpx.CodeInvalidArgument, "room_config.name"},
		{"room_config timeouts", "application/json", `{"room_name":"r","room_config":{"empty_timeout":1,"departure_timeout":1}}`, 400, httpx.CodeInvalidArgument, "room_config.departure_timeout"},
		{"room_config not object", "application/json", `{"room_name":"r","room_config":[]}`, 400, httpx.CodeInvalidArgument, "room_config"},
		{"agents not array", "application/json", `{"room_name":"r","room_config":{"agents":{}}}`, 400, httpx.CodeInvalidArgument, "room_config.agents"},
		{"agent deployment", "application/json", `{"room_name":"r","room_config":{"agents":[{"agent_name":"a","deployment":"d"}]}}`, 400, httpx.CodeInvalidArgument, "room_config.agents[0].deployment"},
		{"agent name type", "application/json", `{"room_name":"r","room_config":{"agents":[{"agent_name":1}]}}`, 400, httpx.CodeInvalidArgument, "room_config.agents[0].agent_name"},
		{"agent without name", "application/json", `{"room_name":"r","room_config":{"agents":[{"metadata":"m"}]}}`, 400, httpx.CodeInvalidArgument, "room_config.agents.agent_name"},
		{"reserved attribute", "application/json", `{"room_name":"r","participant_identity":"i","participant_attributes":{"lkgate.tenant":"globex"}}`, 400, httpx.CodeInvalidArgument, "participant_attributes"},
		{"form content type", "application/x-www-form-urlencoded", `room_name=r`, 415, httpx.CodeUnsupportedMediaType, ""},
		{"no content type", "", `{"room_name":"r","participant_identity":"i"}`, 415, httpx.CodeUnsupportedMediaType, ""},
		{"too large", "application/json", `{"room_name":"r","participant_identity":"i","participant_metadata":"` + strings.Repeat("m", 70<<10) + `"}`, 413, httpx.CodePayloadTooLarge, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.fake.ResetCalls()
			req := httptest.NewRequest("POST", "/livekit/token", strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			req.Header.Set("Authorization", "Bearer "+keyAcme)
			res := e.serve(t, req)
			if res.status != tt.status || res.problem.Code != tt.code || res.problem.Field != tt.field {
				t.Fatalf("got %d %s field %q, want %d %s field %q: %s", res.status, res.problem.Code, res.problem.Field, tt.status, tt.code, tt.field, res.body)
			}
			if tt.field != "" && !strings.HasPrefix(res.problem.Detail, tt.field+": ") {
				t.Errorf("detail %q does not start with the field", res.problem.Detail)
			}
			if n := e.fake.TotalCalls(); n != 0 {
				t.Errorf("bad input made %d LiveKit calls", n)
			}
		})
	}
}

// Under SharedNames another tenant's name is refused with the token route's
// published 403.
func TestTokenRouteCrossTenant(t *testing.T) {
	e := newEnv(t, lkgate.Config{RoomNames: lkgate.SharedNames}, httpx.StaticKeysConfig{})
	body := `{"room_name":"board","participant_identity":"x"}`
	if res := e.do(t, "POST", "/livekit/token", keyAcme, body); res.status != 200 {
		t.Fatalf("owner: %d %s", res.status, res.body)
	}
	res := e.do(t, "POST", "/livekit/token", keyGlobex, body)
	if res.status != http.StatusForbidden || res.problem.Code != httpx.CodeForbidden {
		t.Fatalf("other tenant: %d %s", res.status, res.body)
	}
	if bytes.Contains(res.body, []byte("eyJ")) {
		t.Errorf("refusal carries a token: %s", res.body)
	}
}

func TestTokenRouteLiveKitFailures(t *testing.T) {
	body := `{"room_name":"r","participant_identity":"i"}`
	jwtInMessage := "invalid token: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
	// The first LiveKit call of a token: CreateRoom under ScopedNames with
	// PrecreateRooms (without it a scoped token makes none), the read of
	// the room under SharedNames.
	for _, mode := range []struct {
		name   string
		cfg    lkgate.Config
		method string
	}{
		{"scoped precreate", lkgate.Config{PrecreateRooms: true}, "CreateRoom"},
		{"shared", lkgate.Config{RoomNames: lkgate.SharedNames}, "ListRooms"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			for _, tt := range []struct {
				name   string
				err    error
				status int
				code   string
			}{
				{"unavailable", twirp.NewError(twirp.Unavailable, "node unavailable"), 503, httpx.CodeLiveKitUnavailable},
				{"internal", twirp.NewError(twirp.Internal, jwtInMessage), 502, httpx.CodeLiveKitError},
				{"refuses our key", twirp.NewError(twirp.Unauthenticated, jwtInMessage), 502, httpx.CodeLiveKitError},
			} {
				t.Run(tt.name, func(t *testing.T) {
					e := newEnv(t, mode.cfg, httpx.StaticKeysConfig{})
					e.fake.SetError(mode.method, tt.err)
					res := e.do(t, "POST", "/livekit/token", keyAcme, body)
					if res.status != tt.status || res.problem.Code != tt.code {
						t.Fatalf("got %d %s: %s", res.status, res.problem.Code, res.body)
					}
					assertNoSecrets(t, string(res.body)+e.logs.String())
				})
			}
			t.Run("slow", func(t *testing.T) {
				e := newEnv(t, mode.cfg, httpx.StaticKeysConfig{})
				e.fake.SetDelay(mode.method, time.Second)
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				defer cancel()
				req := httptest.NewRequestWithContext(ctx, "POST", "/livekit/token", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+keyAcme)
				if res := e.serve(t, req); res.status != 504 || res.problem.Code != httpx.CodeLiveKitTimeout {
					t.Fatalf("got %d: %s", res.status, res.body)
				}
			})
			t.Run("down", func(t *testing.T) {
				e := newEnv(t, mode.cfg, httpx.StaticKeysConfig{})
				e.fake.Close()
				if res := e.do(t, "POST", "/livekit/token", keyAcme, body); res.status != 503 {
					t.Fatalf("got %d: %s", res.status, res.body)
				}
			})
		})
	}
	// Without PrecreateRooms a scoped token needs no LiveKit at all.
	t.Run("scoped, LiveKit down", func(t *testing.T) {
		e := newEnv(t, lkgate.Config{}, httpx.StaticKeysConfig{})
		e.fake.Close()
		if res := e.do(t, "POST", "/livekit/token", keyAcme, body); res.status != 200 {
			t.Fatalf("got %d: %s", res.status, res.body)
		}
	})
}

func TestUnknownRoutes(t *testing.T) {
	e := newEnv(t, lkgate.Config{}, httpx.StaticKeysConfig{})
	if res := e.do(t, "GET", "/nope", keyAcme, ""); res.status != 404 || res.problem.Code != httpx.CodeNotFound {
		t.Errorf("unknown path: %d %s", res.status, res.body)
	}
	if res := e.do(t, "GET", "/livekit/token", keyAcme, ""); res.status != 405 || res.problem.Code != httpx.CodeMethodNotAllowed {
		t.Errorf("wrong method: %d %s", res.status, res.body)
	}
}

func TestPanicBecomesProblem(t *testing.T) {
	m := lkgatetest.NewServer(t).NewManager(t, lkgate.Config{})
	h, err := httpx.New(m, httpx.Config{Authenticator: httpx.AuthenticatorFunc(func(*http.Request) (httpx.Principal, error) { panic("auth backend bug") })})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/livekit/token", strings.NewReader("{}")))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), `"code":"internal"`) || strings.Contains(rec.Body.String(), "auth backend bug") {
		t.Errorf("got %d %s", rec.Code, rec.Body)
	}
}

// A full session of successes and failures leaves no token, API key or
// secret in the logs.
func TestNoSecretsInLogs(t *testing.T) {
	e := newEnv(t, lkgate.Config{}, httpx.StaticKeysConfig{AllowQueryKey: true})
	var tokens []string
	for _, tc := range []struct{ key, body string }{
		{keyAcme, `{"room_name":"a","participant_identity":"i"}`},
		{keyGlobex, `{"room_name":"a","participant_identity":"i"}`},
		{"", `{"room_name":"a","participant_identity":"i"}`},
		{keyAcme, `{"room_name":""}`},
	} {
		res := e.do(t, "POST", "/livekit/token", tc.key, tc.body)
		var tr httpx.TokenResponse
		if json.Unmarshal(res.body, &tr) == nil && tr.Token != "" {
			tokens = append(tokens, tr.Token)
		}
	}
	e.do(t, "POST", "/livekit/token?api_key="+keyGlobex, "", `{"room_name":"b","participant_identity":"i"}`)
	if len(tokens) == 0 {
		t.Fatal("no token minted")
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "token minted") {
		t.Fatalf("debug logs were not captured: %s", logs)
	}
	assertNoSecrets(t, logs)
	for _, tok := range tokens {
		if strings.Contains(logs, tok) {
			t.Error("a token reached the logs")
		}
	}
}

func assertNoSecrets(t *testing.T, s string) {
	t.Helper()
	for _, secret := range []string{"eyJ", lkgatetest.APISecret, keyAcme, keyGlobex} {
		if strings.Contains(s, secret) {
			t.Errorf("output contains %q:\n%s", secret, s)
		}
	}
}

// syncBuffer is a log sink safe for the concurrent writes of ensures that
// outlive their request.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
