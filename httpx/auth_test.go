package httpx_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
)

// permRoutes is every authenticated route with the permission it needs and
// a request body it would accept.
var permRoutes = []struct {
	method, target string
	need           httpx.Permission
	body           string
}{
	{"POST", "/livekit/token", httpx.PermTokens, `{"room_name":"standup","participant_identity":"i"}`},
	{"GET", "/livekit/rooms", httpx.PermRooms, ""},
	{"GET", "/livekit/rooms/standup", httpx.PermRooms, ""},
	{"DELETE", "/livekit/participant", httpx.PermModerate, `{"room_name":"standup","participant_identity":"alice"}`},
	{"DELETE", "/livekit/participant", httpx.PermModerate, `{"room_name":"standup","participant_identity":"alice","ban_seconds":60}`},
	{"DELETE", "/livekit/rooms/standup", httpx.PermModerate, ""},
	{"POST", "/livekit/participant/unban", httpx.PermModerate, `{"room_name":"standup","participant_identity":"alice"}`},
	{"POST", "/livekit/participant/mute", httpx.PermModerate, `{"room_name":"standup","participant_identity":"alice","source":"microphone","muted":true}`},
	{"POST", "/livekit/guest/invite", httpx.PermGuests, `{"orgId":"acme","roomId":"standup","allowAll":true}`},
	{"POST", "/livekit/guest/admit", httpx.PermGuests, `{"roomId":"standup","guestIdentity":"guest-nobody","action":"deny"}`},
	{"GET", "/livekit/guest/waiting?roomId=standup", httpx.PermGuests, ""},
	{"POST", "/sip/call", httpx.PermSIP, `{"room_name":"support","participant_identity":"phone","from_phone_number":"+15550000001","to_phone_number":"+15550100"}`},
	{"POST", "/sip/transfer", httpx.PermSIP, `{"room_name":"support","participant_identity":"phone","transfer_to":"+4930999"}`},
}

// permEnv is a full env whose handler authenticates acme's alice with the
// permissions named in the X-Test-Permissions header.
func permEnv(t *testing.T) *env {
	t.Helper()
	e := newFullEnv(t, lkgate.ScopedNames)
	auth := httpx.AuthenticatorFunc(func(r *http.Request) (httpx.Principal, error) {
		p := httpx.Principal{Tenant: "acme", Subject: "alice"}
		if s := r.Header.Get("X-Test-Permissions"); s != "" {
			var err error
			if p.Permissions, err = httpx.ParsePermissions(s); err != nil {
				t.Fatal(err)
			}
		}
		return p, nil
	})
	e.hcfg.Authenticator = auth
	return e.build(t)
}

func permRequest(method, target, body string, perms httpx.Permission) *http.Request {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if perms != 0 {
		req.Header.Set("X-Test-Permissions", perms.String())
	}
	return req
}

// Every route checks its own permission: a principal holding every other
// permission gets 403 permission_denied naming the missing one, before the
// body is read (a malformed body is not reported) and before any LiveKit
// call; the one permission alone is enough to get past the check.
func TestRoutePermissions(t *testing.T) {
	e := permEnv(t)
	for _, rt := range permRoutes {
		t.Run(rt.method+" "+rt.target, func(t *testing.T) {
			e.fake.ResetCalls()
			body := rt.body
			if body != "" {
				body = "{" // malformed: must not be looked at
			}
			res := e.serve(t, permRequest(rt.method, rt.target, body, httpx.AllPermissions&^rt.need))
			if res.status != http.StatusForbidden || res.problem.Code != httpx.CodePermissionDenied {
				t.Fatalf("without %s: %d %s, want 403 permission_denied", rt.need, res.status, res.body)
			}
			if res.problem.Permission != rt.need.String() || !strings.Contains(res.problem.Detail, `"`+rt.need.String()+`"`) {
				t.Errorf("the problem does not name the permission %q: %s", rt.need, res.body)
			}
			if n := e.fake.TotalCalls(); n != 0 {
				t.Errorf("a refused request made %d LiveKit calls", n)
			}

			res = e.serve(t, permRequest(rt.method, rt.target, rt.body, rt.need))
			if res.problem.Code == httpx.CodePermissionDenied || res.status == http.StatusUnauthorized {
				t.Errorf("with %s alone: %d %s", rt.need, res.status, res.body)
			}
		})
	}
}

// The zero Principal may do nothing: an Authenticator that forgets to set
// permissions gets 403 on every route, not full power.
func TestZeroPermissionsMayDoNothing(t *testing.T) {
	e := permEnv(t)
	for _, rt := range permRoutes {
		res := e.serve(t, permRequest(rt.method, rt.target, rt.body, 0))
		if res.status != http.StatusForbidden || res.problem.Code != httpx.CodePermissionDenied {
			t.Errorf("%s %s with no permissions: %d %s", rt.method, rt.target, res.status, res.body)
		}
	}
	if n := e.fake.TotalCalls(); n != 0 {
		t.Errorf("%d LiveKit calls", n)
	}
}

// Static keys carry their permissions: a token-only key joins, and cannot
// remove, mute, list, invite or dial.
func TestStaticKeyPermissions(t *testing.T) {
	e := newFullEnv(t, lkgate.ScopedNames)
	e.seed(t, "standup")
	if res := e.do(t, "POST", "/livekit/token", keyAcmeMember, `{"room_name":"standup","participant_identity":"mia"}`); res.status != 200 {
		t.Fatalf("the member's token: %d %s", res.status, res.body)
	}
	e.fake.ResetCalls()
	for _, rt := range permRoutes[1:] {
		res := e.do(t, rt.method, rt.target, keyAcmeMember, rt.body)
		if res.status != http.StatusForbidden || res.problem.Permission != rt.need.String() {
			t.Errorf("member %s %s: %d %s", rt.method, rt.target, res.status, res.body)
		}
	}
	if n := e.fake.TotalCalls(); n != 0 {
		t.Errorf("%d LiveKit calls", n)
	}
	if ps := e.fake.Participants(e.lkRoom(t, "acme", "standup")); len(ps) != 1 || ps[0].Identity != "alice" || ps[0].Tracks[0].Muted {
		t.Errorf("the member changed the room: %v", ps)
	}
}

func TestPermissionNames(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want httpx.Permission
	}{
		{"tokens", httpx.PermTokens},
		{"tokens+rooms", httpx.PermTokens | httpx.PermRooms},
		{"moderate+guests+sip", httpx.PermModerate | httpx.PermGuests | httpx.PermSIP},
		{"all", httpx.AllPermissions},
	} {
		got, err := httpx.ParsePermissions(tc.s)
		if err != nil || got != tc.want {
			t.Errorf("ParsePermissions(%q) = %v, %v; want %v", tc.s, got, err, tc.want)
		}
		if again, err := httpx.ParsePermissions(got.String()); err != nil || again != got {
			t.Errorf("%v does not survive String and ParsePermissions: %v, %v", got, again, err)
		}
	}
	for _, bad := range []string{"", "admin", "tokens+", "Tokens", "tokens,rooms", "none", "all+sip"} {
		if p, err := httpx.ParsePermissions(bad); err == nil {
			t.Errorf("ParsePermissions(%q) = %v, want an error", bad, p)
		}
	}
	if s := httpx.Permission(0).String(); s != "none" {
		t.Errorf("zero: %q", s)
	}
	if !httpx.AllPermissions.Has(httpx.PermSIP|httpx.PermTokens) || httpx.PermTokens.Has(httpx.PermTokens|httpx.PermRooms) || !httpx.PermRooms.Has(0) {
		t.Error("Has")
	}
}

// Unauthenticated mode serves only its own Hosts: a page on an attacker's
// name that resolves to 127.0.0.1 (DNS rebinding) sends that name as Host,
// and is refused with 421 before anything happens.
func TestUnauthenticatedChecksHost(t *testing.T) {
	e := newEnv(t, lkgate.Config{AllowUnauthenticated: true}, httpx.StaticKeysConfig{})
	const body = `{"room_name":"r","participant_identity":"i"}`
	for _, tc := range []struct {
		name  string
		hosts []string
		host  string
		want  int
	}{
		{"default loopback IPv4", nil, "127.0.0.1:8080", 200},
		{"default localhost", nil, "LocalHost:9999", 200},
		{"default IPv6 loopback", nil, "[::1]:8080", 200},
		{"default localhost without port", nil, "localhost", 200},
		{"default rebinding", nil, "rebind.attacker.example:8080", 421},
		{"default loopback-looking name", nil, "127.0.0.1.attacker.example:8080", 421},
		{"listen address", []string{"127.0.0.1:8080"}, "127.0.0.1:8080", 200},
		{"listen address, other port", []string{"127.0.0.1:8080"}, "127.0.0.1:8081", 421},
		{"listen address, rebinding", []string{"127.0.0.1:8080"}, "rebind.attacker.example:8080", 421},
		{"listen address, localhost not listed", []string{"127.0.0.1:8080"}, "localhost:8080", 421},
		{"name any port", []string{"dev.internal"}, "DEV.internal:1234", 200},
		{"IPv6 with port", []string{"[::1]:8080"}, "[::1]:8080", 200},
		{"empty Host", nil, "", 421},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := httpx.New(e.m, httpx.Config{Authenticator: httpx.Unauthenticated(tc.hosts...)})
			if err != nil {
				t.Fatal(err)
			}
			e.h = h
			e.fake.ResetCalls()
			req := httptest.NewRequest("POST", "/livekit/token", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Host = tc.host
			res := e.serve(t, req)
			if res.status != tc.want {
				t.Fatalf("Host %q: %d %s, want %d", tc.host, res.status, res.body, tc.want)
			}
			if tc.want == 421 && (res.problem.Code != httpx.CodeHostNotAllowed || e.fake.TotalCalls() != 0) {
				t.Errorf("refusal: %s, %d LiveKit calls", res.body, e.fake.TotalCalls())
			}
		})
	}
}
