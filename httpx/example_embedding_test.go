package httpx_test

import (
	"context"
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

// sessionUser is the signed-in user the host's session middleware puts in
// a request's context.
type sessionUser struct{ tenant, name string }

type sessionUserKey struct{}

// A backend with its own cookie sessions mounts lkgate's API behind its
// session middleware. A signed-in browser fetches tokens with its cookie
// alone, and no more: its principal carries PermTokens. Two routes stay
// outside the middleware, because their callers have no session: a guest's
// room-auth (its invite is its credential) and LiveKit's webhook (signed
// with the API secret).
//
// The session cookie needs no CSRF token for this API: every route that
// acts reads an application/json body, which a page of another origin can
// only send after a CORS preflight this API never grants (do not add CORS
// with credentials for origins you do not trust), and SameSite=Lax cookies
// are a second wall.
func Example_embedding() {
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

	// The host's sessions, and its middleware that refuses a request
	// without one, in the API's own problem format.
	sessions := map[string]sessionUser{"session-of-ann": {"acme", "ann"}}
	requireSession := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := r.Cookie("session")
			if err != nil || sessions[c.Value] == (sessionUser{}) {
				httpx.WriteError(w, &lkgate.Error{Kind: lkgate.ErrUnauthenticated, Msg: "sign in first"})
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionUserKey{}, sessions[c.Value])))
		})
	}
	// lkgate's principal is the session's user.
	browser := httpx.AuthenticatorFunc(func(r *http.Request) (httpx.Principal, error) {
		u, ok := r.Context().Value(sessionUserKey{}).(sessionUser)
		if !ok {
			return httpx.Principal{}, &httpx.AuthError{Detail: "sign in first"}
		}
		return httpx.Principal{Tenant: u.tenant, Subject: u.name, Permissions: httpx.PermTokens}, nil
	})
	h, err := httpx.New(m, httpx.Config{Authenticator: browser, Guests: guests})
	if err != nil {
		log.Fatal(err)
	}
	api := http.StripPrefix("/api/v1", h)
	mux := http.NewServeMux()
	mux.Handle("POST /api/v1/livekit/guest/room-auth", api) // no session: the invite
	mux.Handle("POST /api/v1/livekit/webhook", api)         // no session: LiveKit's signature
	mux.Handle("/api/v1/", requireSession(api))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	post := func(path, body, cookie string) (*http.Response, map[string]any) {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: "session", Value: cookie})
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer res.Body.Close()
		var v map[string]any
		if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
			log.Fatal(err)
		}
		return res, v
	}

	res, tok := post("/api/v1/livekit/token", `{"room_name":"standup"}`, "session-of-ann")
	fmt.Println("token with the session:", res.StatusCode, tok["room_name"])
	res, prob := post("/api/v1/livekit/token", `{"room_name":"standup"}`, "")
	fmt.Println("token without:", res.StatusCode, prob["code"], prob["detail"])

	// An admin of acme invites a guest (here straight through the Manager);
	// the guest redeems the invite without any session.
	inv, err := guests.Invite(lkgate.WithSubject(context.Background(), "ann"), "acme", lkgate.InviteRequest{Room: "standup"})
	if err != nil {
		log.Fatal(err)
	}
	res, guest := post("/api/v1/livekit/guest/room-auth", `{"inviteToken":"`+inv.Token+`","guestName":"Grace"}`, "")
	fmt.Println("guest room-auth without a session:", res.StatusCode, guest["guestName"])
	// Output:
	// token with the session: 200 standup
	// token without: 401 unauthenticated sign in first
	// guest room-auth without a session: 200 Grace
}
