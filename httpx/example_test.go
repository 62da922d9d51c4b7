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
	defer m.Close()
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

// Turn on the guest routes by giving the Handler the Manager's Guests; the
// SIP routes, not given here, do not exist.
func ExampleConfig() {
	fake := lkgatetest.NewUnstartedServer() // a real LiveKit URL in production
	fake.Start()
	defer fake.Close()

	m, err := lkgate.New(lkgate.Config{URL: fake.URL(), APIKey: lkgatetest.APIKey, APISecret: lkgatetest.APISecret})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	guests, err := lkgate.NewGuests(m, lkgate.GuestConfig{
		// Use 32 random bytes from your secret store.
		Keys:          []lkgate.InviteKey{{ID: "2026-11", Key: []byte("0123456789abcdef0123456789abcdef")}},
		InviteBaseURL: "https://app.example.com",
	})
	if err != nil {
		log.Fatal(err)
	}
	keys, err := httpx.NewStaticKeys(httpx.StaticKeysConfig{
		Keys: map[string]httpx.Principal{"acme-secret-api-key": {Tenant: "acme", Subject: "backend", Permissions: httpx.AllPermissions}},
	})
	if err != nil {
		log.Fatal(err)
	}
	api, err := httpx.New(m, httpx.Config{Authenticator: keys, Guests: guests})
	if err != nil {
		log.Fatal(err)
	}
	for _, path := range []string{"/livekit/guest/invite", "/sip/call"} {
		req := httptest.NewRequest("POST", path, strings.NewReader(`{"roomId":"standup","allowAll":true}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer acme-secret-api-key")
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		fmt.Println(path, rec.Code)
	}
	// Output:
	// /livekit/guest/invite 201
	// /sip/call 404
}
