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
