package httpx_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/lkgatetest"
)

// A browser authenticates with the host's own session, never with an API
// key, and its principal may only fetch tokens: livekit-client's
// TokenSource.endpoint works, and removing a participant is refused.
func ExampleAuthenticatorFunc() {
	fake := lkgatetest.NewUnstartedServer() // a real LiveKit URL in production
	fake.Start()
	defer fake.Close()
	m, err := lkgate.New(lkgate.Config{URL: fake.URL(), APIKey: lkgatetest.APIKey, APISecret: lkgatetest.APISecret})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	// The host's sessions: a cookie naming a signed-in user of a tenant.
	sessions := map[string]struct{ tenant, user string }{"session-of-ann": {"acme", "ann"}}
	browser := httpx.AuthenticatorFunc(func(r *http.Request) (httpx.Principal, error) {
		c, err := r.Cookie("session")
		if err != nil {
			return httpx.Principal{}, err
		}
		s, ok := sessions[c.Value]
		if !ok {
			return httpx.Principal{}, errors.New("no such session")
		}
		return httpx.Principal{Tenant: s.tenant, Subject: s.user, Permissions: httpx.PermTokens}, nil
	})
	api, err := httpx.New(m, httpx.Config{Authenticator: browser})
	if err != nil {
		log.Fatal(err)
	}

	for _, req := range []*http.Request{
		httptest.NewRequest("POST", "/livekit/token", strings.NewReader(`{"room_name":"standup"}`)),
		httptest.NewRequest("DELETE", "/livekit/participant", strings.NewReader(`{"room_name":"standup","participant_identity":"bob"}`)),
	} {
		req.Header.Set("Content-Type", "application/json")
		req.AddCookie(&http.Cookie{Name: "session", Value: "session-of-ann"})
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		var p httpx.Problem
		_ = json.Unmarshal(rec.Body.Bytes(), &p)
		fmt.Println(strings.TrimSpace(fmt.Sprint(req.Method, " ", req.URL.Path, " ", rec.Code, " ", p.Code, " ", p.Permission)))
	}
	// Output:
	// POST /livekit/token 200
	// DELETE /livekit/participant 403 permission_denied moderate
}

// A custom Authenticator words its own 401. Here the host's users sign in
// with tokens of its own, so the challenge names the host's realm, and
// the detail tells the client what to do.
func ExampleAuthError() {
	fake := lkgatetest.NewUnstartedServer() // a real LiveKit URL in production
	fake.Start()
	defer fake.Close()
	m, err := lkgate.New(lkgate.Config{URL: fake.URL(), APIKey: lkgatetest.APIKey, APISecret: lkgatetest.APISecret})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	users := map[string]string{"token-of-ann": "ann"} // the host's own sign-in tokens
	auth := httpx.AuthenticatorFunc(func(r *http.Request) (httpx.Principal, error) {
		token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		user, ok := users[token]
		if !ok {
			return httpx.Principal{}, &httpx.AuthError{
				Detail:    "sign in again at https://app.example.com/login",
				Challenge: `Bearer realm="app.example.com", error="invalid_token"`,
			}
		}
		return httpx.Principal{Tenant: "acme", Subject: user, Permissions: httpx.PermTokens}, nil
	})
	api, err := httpx.New(m, httpx.Config{Authenticator: auth})
	if err != nil {
		log.Fatal(err)
	}

	req := httptest.NewRequest("POST", "/livekit/token", strings.NewReader(`{"room_name":"standup"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer expired-token")
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, req)
	var p httpx.Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		log.Fatal(err)
	}
	fmt.Println(rec.Code, p.Code)
	fmt.Println(p.Detail)
	fmt.Println(rec.Header().Get("WWW-Authenticate"))
	// Output:
	// 401 unauthenticated
	// sign in again at https://app.example.com/login
	// Bearer realm="app.example.com", error="invalid_token"
}
