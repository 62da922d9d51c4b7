package httpx_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/lkgatetest"
)

// observation is one ObserveRequest call.
type observation struct {
	route  string
	status int
}

// recordingObserver keeps what it is told.
type recordingObserver struct {
	mu   sync.Mutex
	seen []observation
}

func (o *recordingObserver) ObserveRequest(_ context.Context, route string, status int, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seen = append(o.seen, observation{route, status})
}

func (o *recordingObserver) take() []observation {
	o.mu.Lock()
	defer o.mu.Unlock()
	seen := o.seen
	o.seen = nil
	return seen
}

// Room mounted on a host's mux finds the room in the host's own wildcard,
// whatever its name and wherever it stands, or in the path's last segment.
func TestRoomOnHostMux(t *testing.T) {
	e := newEnv(t, lkgate.Config{}, httpx.StaticKeysConfig{})
	e.fake.AddParticipant(e.lkRoom(t, "acme", "stand-up"), lkgatetest.Participant{Identity: "alice"})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /rooms/{id}", e.h.Room)
	mux.HandleFunc("GET /orgs/{org}/rooms/{name}/details", e.h.Room)
	mux.HandleFunc("GET /exact/{room}/{$}", e.h.Room)
	mux.Handle("/by-prefix/", http.StripPrefix("/by-prefix/", http.HandlerFunc(e.h.Room)))
	for _, target := range []string{
		"/rooms/stand-up",
		"/orgs/acme/rooms/stand-up/details",
		"/exact/stand-up/",
		"/by-prefix/stand-up",
		"/by-prefix/stand%2Dup",
	} {
		req := httptest.NewRequest("GET", target, nil)
		req.Header.Set("Authorization", "Bearer "+keyAcme)
		res := serveOn(t, mux, req)
		got := decodeBody[httpx.RoomDetails](t, res)
		if res.status != 200 || got.Name != "stand-up" || len(got.Participants) != 1 || got.Participants[0].Identity != "alice" {
			t.Errorf("GET %s: %d %s", target, res.status, res.body)
		}
	}
	req := httptest.NewRequest("GET", "/rooms/missing", nil)
	req.Header.Set("Authorization", "Bearer "+keyAcme)
	if res := serveOn(t, mux, req); res.status != 404 || res.problem.Code != httpx.CodeNotFound {
		t.Errorf("a missing room: %d %s", res.status, res.body)
	}
}

// A per-route method mounted by the host serves as ServeHTTP does: a panic
// in the host's Authenticator is a 500 problem and an error log line, every
// request is logged and observed under lkgate's route, and another method
// is a 405 problem.
func TestPerRouteMethodsServeLikeServeHTTP(t *testing.T) {
	e := newEnv(t, lkgate.Config{}, httpx.StaticKeysConfig{})
	obs := &recordingObserver{}
	h, err := httpx.New(e.m, httpx.Config{
		Authenticator: httpx.AuthenticatorFunc(func(*http.Request) (httpx.Principal, error) { panic("session store bug") }),
		Logger:        e.logger,
		Observer:      obs,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/token", h.Token)
	mux.HandleFunc("/api/rooms", h.ListRooms) // no method in the pattern

	req := httptest.NewRequest("POST", "/api/token", strings.NewReader(`{"room_name":"r"}`))
	req.Header.Set("Content-Type", "application/json")
	res := serveOn(t, mux, req)
	if res.status != 500 || res.problem.Code != httpx.CodeInternal || strings.Contains(string(res.body), "session store bug") {
		t.Errorf("panic: %d %s", res.status, res.body)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "handler panic") || !strings.Contains(logs, "session store bug") || !strings.Contains(logs, "path=/api/token status=500") {
		t.Errorf("the panic and the request are not logged:\n%s", logs)
	}

	res = serveOn(t, mux, httptest.NewRequest("DELETE", "/api/rooms", nil))
	if res.status != 405 || res.problem.Code != httpx.CodeMethodNotAllowed || res.header.Get("Allow") != "GET" {
		t.Errorf("DELETE on GET /livekit/rooms: %d %v %s", res.status, res.header, res.body)
	}
	want := []observation{{"POST /livekit/token", 500}, {"GET /livekit/rooms", 405}}
	if got := obs.take(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("observed %v, want %v", got, want)
	}

	// ServeHTTP reports the same routes, and "" for none.
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/livekit/rooms", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/nowhere", nil))
	want = []observation{{"GET /livekit/rooms", 500}, {"", 404}}
	if got := obs.take(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("observed %v through ServeHTTP, want %v", got, want)
	}
}

// A custom Authenticator words its own 401 with an *AuthError; any other
// error gets a neutral one whose text never shows the error; StaticKeys
// keeps its own.
func TestAuthErrorWordsThe401(t *testing.T) {
	e := newEnv(t, lkgate.Config{}, httpx.StaticKeysConfig{})
	for _, tc := range []struct {
		name      string
		err       error
		detail    string
		challenge string
	}{
		{"detail and challenge", &httpx.AuthError{Detail: "sign in first", Challenge: `Session realm="app"`, Err: errors.New("cookie expired")}, "sign in first", `Session realm="app"`},
		{"wrapped", fmt.Errorf("session: %w", &httpx.AuthError{Detail: "sign in first"}), "sign in first", ""},
		{"zero", &httpx.AuthError{}, "authentication required", ""},
		{"other error", errors.New("db password hunter2 rejected"), "missing or invalid credentials", `Bearer realm="lkgate"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := httpx.New(e.m, httpx.Config{Authenticator: httpx.AuthenticatorFunc(func(*http.Request) (httpx.Principal, error) {
				return httpx.Principal{}, tc.err
			})})
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest("GET", "/livekit/rooms", nil)
			res := serveOn(t, h, req)
			if res.status != 401 || res.problem.Code != httpx.CodeUnauthenticated || res.problem.Detail != tc.detail {
				t.Errorf("%d %s, want 401 with detail %q", res.status, res.body, tc.detail)
			}
			if got, ok := res.header["Www-Authenticate"]; tc.challenge == "" && ok || tc.challenge != "" && (len(got) != 1 || got[0] != tc.challenge) {
				t.Errorf("WWW-Authenticate %q, want %q", got, tc.challenge)
			}
			if strings.Contains(string(res.body), "hunter2") || strings.Contains(string(res.body), "cookie expired") {
				t.Errorf("the cause reached the client: %s", res.body)
			}
		})
	}

	t.Run("static keys", func(t *testing.T) {
		for _, key := range []string{"", "wrong-key-wrong-key"} {
			res := e.do(t, "GET", "/livekit/rooms", key, "")
			if res.status != 401 || res.problem.Detail != "missing or invalid API key" || res.header.Get("WWW-Authenticate") != `Bearer realm="lkgate"` {
				t.Errorf("key %q: %d %v %s", key, res.status, res.header, res.body)
			}
		}
		keys, err := httpx.NewStaticKeys(httpx.StaticKeysConfig{Keys: map[string]httpx.Principal{keyAcme: {Tenant: "acme", Permissions: httpx.PermTokens}}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = keys.Authenticate(httptest.NewRequest("GET", "/", nil))
		var ae *httpx.AuthError
		if !errors.Is(err, httpx.ErrNoCredentials) || !errors.As(err, &ae) {
			t.Errorf("no key: %v", err)
		}
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", "Bearer wrong-key-wrong-key")
		if _, err := keys.Authenticate(req); !errors.Is(err, httpx.ErrBadCredentials) {
			t.Errorf("unknown key: %v", err)
		}
	})
}

// WriteError answers an lkgate error exactly as the mounted API answers
// the same failure, and never shows the text of anything else.
func TestWriteError(t *testing.T) {
	e := newEnv(t, lkgate.Config{}, httpx.StaticKeysConfig{})
	viaAPI := e.do(t, "DELETE", "/livekit/participant", keyAcme, `{"room_name":"standup","participant_identity":"nobody"}`)
	err := e.m.RemoveParticipant(context.Background(), "acme", "standup", "nobody")
	rec := httptest.NewRecorder()
	httpx.WriteError(rec, err)
	if rec.Code != viaAPI.status || rec.Body.String() != string(viaAPI.body) || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("WriteError: %d %s; the API: %d %s", rec.Code, rec.Body, viaAPI.status, viaAPI.body)
	}

	const secret = "eyJhbGciOiJIUzI1NiJ9.secret"
	for _, tc := range []struct {
		name       string
		err        error
		status     int
		code       string
		detail     string
		field      string
		retryAfter string
	}{
		{"invalid argument, wrapped with a secret", fmt.Errorf("minting %s: %w", secret, &lkgate.Error{Kind: lkgate.ErrInvalidArgument, Field: "Room", Msg: "is required"}), 400, httpx.CodeInvalidArgument, "Room: is required", "Room", ""},
		{"limit", &lkgate.Error{Kind: lkgate.ErrLimited, Limit: lkgate.LimitTokenRate, RetryAfter: 3 * time.Second, Msg: "slow down"}, 429, httpx.CodeTokenRateExceeded, "slow down", "", "3"},
		{"unavailable", &lkgate.Error{Kind: lkgate.ErrUnavailable, Msg: "LiveKit is unreachable"}, 503, httpx.CodeLiveKitUnavailable, "LiveKit is unreachable", "", ""},
		{"not lkgate's", errors.New("dial " + secret), 500, httpx.CodeInternal, "internal error", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := httpx.ProblemFor(tc.err)
			if p.Status != tc.status || p.Code != tc.code || p.Detail != tc.detail || p.Field != tc.field {
				t.Errorf("ProblemFor: %+v", p)
			}
			rec := httptest.NewRecorder()
			httpx.WriteError(rec, tc.err)
			res := parseResponse(t, rec)
			if res.status != tc.status || res.problem.Code != tc.code || res.header.Get("Retry-After") != tc.retryAfter {
				t.Errorf("WriteError: %d %v %s", res.status, res.header, res.body)
			}
			if strings.Contains(rec.Body.String(), secret) {
				t.Errorf("the secret reached the body: %s", rec.Body)
			}
		})
	}
}

// What makes a session cookie safe without a CSRF token: no route that
// acts accepts a body a page of another origin can send without a CORS
// preflight (a form's or a no-cors fetch's), so a signed-in user's cookie
// riding along does nothing. A route without a body acts only by a method
// no such page can send (DELETE).
func TestCrossSiteBodiesCannotAct(t *testing.T) {
	e := newFullEnv(t, lkgate.ScopedNames)
	routes := append([]struct {
		method, target string
		need           httpx.Permission
		body           string
	}{{"POST", "/livekit/guest/room-auth", 0, `{"inviteToken":"x","guestName":"Mallory"}`}}, permRoutes...)
	for _, rt := range routes {
		if rt.method == "GET" {
			continue
		}
		if rt.body == "" {
			if rt.method != "DELETE" {
				t.Errorf("%s %s acts without a body, by a method a cross-site page can send", rt.method, rt.target)
			}
			continue
		}
		for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain; charset=utf-8"} {
			e.fake.ResetCalls()
			req := httptest.NewRequest(rt.method, rt.target, strings.NewReader(rt.body))
			req.Header.Set("Content-Type", ct)
			req.Header.Set("Authorization", "Bearer "+keyAcme)
			if res := e.serve(t, req); res.status != 415 || e.fake.TotalCalls() != 0 {
				t.Errorf("%s %s as %s: %d %s, %d LiveKit calls", rt.method, rt.target, ct, res.status, res.body, e.fake.TotalCalls())
			}
		}
	}
}
