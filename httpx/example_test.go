package httpx_test

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/lkgatetest"
)

// Mount lkgate's API under /api/v1 on the host's own mux, with one API key
// per tenant, and ask it for a token.
func ExampleNew() {
	fake := lkgatetest.NewUnstartedServer() // a real LiveKit URL in production
	fake.Start()
	defer fake.Close()

	m, err := lkgate.New(lkgate.Config{URL: fake.URL(), APIKey: lkgatetest.APIKey, APISecret: lkgatetest.APISecret})
	if err != nil {
		log.Fatal(err)
	}
	// A backend's key may do everything; keep keys like it out of browsers,
	// whose sessions should carry httpx.PermTokens alone.
	keys, err := httpx.NewStaticKeys(httpx.StaticKeysConfig{
		Keys: map[string]httpx.Principal{"acme-secret-api-key": {Tenant: "acme", Subject: "backend", Permissions: httpx.AllPermissions}},
	})
	if err != nil {
		log.Fatal(err)
	}
	api, err := httpx.New(m, httpx.Config{Authenticator: keys})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", http.StripPrefix("/api/v1", api))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/livekit/token", strings.NewReader(`{"room_name":"standup","participant_identity":"alice"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer acme-secret-api-key")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer res.Body.Close()
	var tok httpx.TokenResponse
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.StatusCode, tok.RoomName, tok.ParticipantIdentity, tok.Token != "")

	req.Header.Set("Authorization", "Bearer wrong-key-wrong-key")
	req.Body = http.NoBody
	res2, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer res2.Body.Close()
	var p httpx.Problem
	if err := json.NewDecoder(res2.Body).Decode(&p); err != nil {
		log.Fatal(err)
	}
	fmt.Println(res2.StatusCode, p.Code)
	// Output:
	// 200 standup alice true
	// 401 unauthenticated
}
