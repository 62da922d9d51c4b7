package openapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/internal/routetest"
	"github.com/lkgate/lkgate/lkgatetest"
)

func init() {
	// LiveKit sends webhooks as application/webhook+json.
	openapi3filter.RegisterBodyDecoder("application/webhook+json", openapi3filter.JSONBodyDecoder)
}

// openAPIRouter loads the embedded document, checks it is valid OpenAPI 3
// and returns a router over it.
func openAPIRouter(t *testing.T) (*openapi3.T, routers.Router) {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(httpx.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the OpenAPI document is invalid: %v", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return doc, router
}

// newFullEnv is an env whose Manager has routetest.FullConfig: every
// route works.
func newFullEnv(t *testing.T, naming lkgate.RoomNaming) *env {
	t.Helper()
	full := routetest.FullConfig(naming)
	e := newEnv(t, full.Manager, httpx.StaticKeysConfig{})
	e.hcfg.Guests, e.hcfg.SIP = full.Features(t, e.fake, e.m)
	return e.build(t)
}

// TestOpenAPIConformance drives every route, successes and errors, under
// both room namings, and validates each request and each real response
// against the document.
func TestOpenAPIConformance(t *testing.T) { forEachNaming(t, testOpenAPIConformance) }

func testOpenAPIConformance(t *testing.T, naming lkgate.RoomNaming) {
	doc, router := openAPIRouter(t)
	e := newFullEnv(t, naming)
	shared := naming == lkgate.SharedNames
	covered := map[string]bool{}

	// check validates req against the document (which must refuse it when
	// invalidRequest), serves it and validates the response.
	check := func(t *testing.T, req *http.Request, wantStatus int, invalidRequest bool) []byte {
		t.Helper()
		var body []byte
		if req.Body != nil {
			body, _ = io.ReadAll(req.Body)
		}
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Fatalf("%s %s is not in the document: %v", req.Method, req.URL.Path, err)
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		err = openapi3filter.ValidateRequest(context.Background(), in)
		switch {
		case invalidRequest && err == nil:
			t.Errorf("the document accepts a request the server refuses: %s", body)
		case !invalidRequest && err != nil:
			t.Errorf("request does not match the document: %v", err)
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		if rec.Code != wantStatus {
			t.Fatalf("status %d, want %d: %s", rec.Code, wantStatus, rec.Body)
		}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rec.Code, Header: rec.Header(),
			Options: &openapi3filter.Options{IncludeResponseStatus: true}}
		out.SetBodyBytes(rec.Body.Bytes())
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			t.Errorf("response does not match the document: %v\n%s", err, rec.Body)
		}
		covered[route.Method+" "+route.Path] = true
		return rec.Body.Bytes()
	}
	request := func(method, target, key, body string) *http.Request {
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		return req
	}
	run := func(name string, req *http.Request, status int, invalid bool) []byte {
		var out []byte
		t.Run(name, func(t *testing.T) { out = check(t, req, status, invalid) })
		return out
	}

	run("token", request("POST", "/livekit/token", keyAcme, `{"room_name":"standup","participant_identity":"alice","participant_name":"Alice"}`), 200, false)
	run("token TokenSource", request("POST", "/livekit/token", keyAcme, `{"room_name":"standup","participant_name":"Ann","room_config":{"agents":[{"agent_name":"helper"}]}}`), 200, false)
	run("token agent not allowed", request("POST", "/livekit/token", keyAcme, `{"room_name":"standup","room_config":{"agents":[{"agent_name":"helper"},{"agent_name":"spy"}]}}`), 403, false)
	run("token refused room_config", request("POST", "/livekit/token", keyAcme, `{"room_name":"standup","room_config":{"egress":{}}}`), 400, true)
	run("token no key", request("POST", "/livekit/token", "", `{"room_name":"standup"}`), 401, false)
	if shared {
		run("token other tenant", request("POST", "/livekit/token", keyGlobex, `{"room_name":"standup","participant_identity":"g"}`), 403, false)
	} else {
		run("token same name, other tenant", request("POST", "/livekit/token", keyGlobex, `{"room_name":"standup","participant_identity":"g"}`), 200, false)
	}
	run("token over the rate", request("POST", "/livekit/token", keyGlobex, `{"room_name":"g","participant_identity":"g"}`), 429, false)
	run("token not JSON", func() *http.Request {
		r := request("POST", "/livekit/token", keyAcme, `room_name=x`)
		r.Header.Set("Content-Type", "text/plain")
		return r
	}(), 415, true)
	// OpenAPI cannot state these refusals in a schema (the info
	// description and the Name schema do), so the document accepts them.
	run("token not UTF-8", func() *http.Request {
		r := request("POST", "/livekit/token", keyAcme, `{"room_name":"standup"}`)
		r.Header.Set("Content-Type", "application/json; charset=utf-16")
		return r
	}(), 415, false)
	run("token case variant", request("POST", "/livekit/token", keyAcme, `{"room_name":"standup","ROOM_NAME":"x"}`), 400, false)
	run("token blank name", request("POST", "/livekit/token", keyAcme, `{"room_name":"  "}`), 400, false)
	run("token no room", request("POST", "/livekit/token", keyAcme, `{"participant_identity":"alice"}`), 400, true)
	run("token empty identity", request("POST", "/livekit/token", keyAcme, `{"room_name":"standup","participant_identity":""}`), 400, true)
	run("token blank identity", request("POST", "/livekit/token", keyAcme, `{"room_name":"standup","participant_identity":"  "}`), 400, false)
	e.seed(t, "standup")
	run("rooms", request("GET", "/livekit/rooms", keyAcme, ""), 200, false)
	run("room", request("GET", "/livekit/rooms/standup", keyAcme, ""), 200, false)
	run("room not found", request("GET", "/livekit/rooms/standup", keyGlobex, ""), 404, false)
	run("mute", request("POST", "/livekit/participant/mute", keyAcme, `{"room_name":"standup","participant_identity":"alice","source":"microphone","muted":true}`), 200, false)
	run("mute bad source", request("POST", "/livekit/participant/mute", keyAcme, `{"room_name":"standup","participant_identity":"alice","source":"mouth","muted":true}`), 400, true)
	run("remove", request("DELETE", "/livekit/participant", keyAcme, `{"room_name":"standup","participant_identity":"alice"}`), 200, false)
	run("remove unknown field", request("DELETE", "/livekit/participant", keyAcme, `{"room_name":"standup","participant_identity":"alice","force":true}`), 400, true)
	// Refusals before the route: a token-only key elsewhere, and (in
	// unauthenticated mode) a Host the server does not serve.
	run("remove without permission", request("DELETE", "/livekit/participant", keyAcmeMember, `{"room_name":"standup","participant_identity":"alice"}`), 403, false)
	run("call without permission", request("POST", "/sip/call", keyAcmeMember, callBody), 403, false)
	run("ban", request("DELETE", "/livekit/participant", keyAcme, `{"room_name":"standup","participant_identity":"mallory","ban_seconds":600}`), 200, false)
	run("ban too long", request("DELETE", "/livekit/participant", keyAcme, `{"room_name":"standup","participant_identity":"mallory","ban_seconds":604801}`), 400, true)
	run("ban over the cap", request("DELETE", "/livekit/participant", keyAcme, `{"room_name":"standup","participant_identity":"eve","ban_seconds":600}`), 429, false)
	run("token banned", request("POST", "/livekit/token", keyAcme, `{"room_name":"standup","participant_identity":"mallory"}`), 403, false)
	run("unban unknown field", request("POST", "/livekit/participant/unban", keyAcme, `{"room_name":"standup","participant_identity":"mallory","ban_seconds":1}`), 400, true)
	run("unban without permission", request("POST", "/livekit/participant/unban", keyAcmeMember, `{"room_name":"standup","participant_identity":"mallory"}`), 403, false)
	run("unban", request("POST", "/livekit/participant/unban", keyAcme, `{"room_name":"standup","participant_identity":"mallory"}`), 200, false)
	run("token unbanned", request("POST", "/livekit/token", keyAcme, `{"room_name":"standup","participant_identity":"mallory"}`), 200, false)
	e.seed(t, "ended")
	run("delete room without permission", request("DELETE", "/livekit/rooms/ended", keyAcmeMember, ""), 403, false)
	run("delete room", request("DELETE", "/livekit/rooms/ended", keyAcme, ""), 200, false)
	run("delete room not found", request("DELETE", "/livekit/rooms/ended", keyAcme, ""), 404, false)
	func() {
		keyed := e.h
		defer func() { e.h = keyed }()
		var err error
		if e.h, err = httpx.New(e.m, httpx.Config{Authenticator: httpx.Unauthenticated("127.0.0.1:8080")}); err != nil {
			t.Fatal(err)
		}
		rebound := request("GET", "/livekit/rooms", "", "")
		rebound.Host = "rebind.attacker.example:8080"
		run("rooms from another Host", rebound, 421, false)
	}()

	inv := decodeBody[httpx.InviteResponse](t, response{body: run("invite",
		request("POST", "/livekit/guest/invite", keyAcme, `{"orgId":"acme","roomId":"standup","allowAll":true}`), 201, false)})
	run("invite over the rate", request("POST", "/livekit/guest/invite", keyAcme, `{"orgId":"acme","roomId":"standup","allowAll":true}`), 429, false)
	u, err := url.Parse(inv.InviteURL)
	if err != nil {
		t.Fatal(err)
	}
	ra := decodeBody[httpx.RoomAuthResponse](t, response{body: run("room-auth",
		request("POST", "/livekit/guest/room-auth", "", `{"inviteToken":"`+u.Query().Get("invite_token")+`","guestName":"Grace"}`), 200, false)})
	run("room-auth over the rate", request("POST", "/livekit/guest/room-auth", "", `{"inviteToken":"`+u.Query().Get("invite_token")+`","guestName":"Gus"}`), 429, false)
	// globex lets one guest wait per room.
	// Neither allowAll nor allowedAdmins: gina, who invites, may admit.
	ginv := decodeBody[httpx.InviteResponse](t, response{body: run("invite globex",
		request("POST", "/livekit/guest/invite", keyGlobex, `{"roomId":"lobbied"}`), 201, false)})
	// The document cannot know the host's limits.
	run("invite beyond the maximum duration", request("POST", "/livekit/guest/invite", keyGlobex, `{"roomId":"lobbied","durationSeconds":2592000}`), 400, false)
	gu, err := url.Parse(ginv.InviteURL)
	if err != nil {
		t.Fatal(err)
	}
	run("room-auth globex", request("POST", "/livekit/guest/room-auth", "", `{"inviteToken":"`+gu.Query().Get("invite_token")+`","guestName":"Gail"}`), 200, false)
	run("room-auth over the waiting cap", request("POST", "/livekit/guest/room-auth", "", `{"inviteToken":"`+gu.Query().Get("invite_token")+`","guestName":"Gus"}`), 429, false)
	run("room-auth bad invite", request("POST", "/livekit/guest/room-auth", "", `{"inviteToken":"x.y.z","guestName":"Grace"}`), 400, false)
	run("room-auth trailing slash", request("POST", "/livekit/guest/room-auth/", "", `{"inviteToken":"x.y.z","guestName":"Grace"}`), 400, false)
	if _, err := e.fake.Join(ra.LiveKitToken); err != nil {
		t.Fatal(err)
	}
	run("waiting", request("GET", "/livekit/guest/waiting?roomId=standup", keyAcme, ""), 200, false)
	run("admit", request("POST", "/livekit/guest/admit", keyAcme, `{"roomId":"standup","guestIdentity":"`+ra.GuestIdentity+`","action":"admit"}`), 200, false)
	run("admit unknown guest", request("POST", "/livekit/guest/admit", keyAcme, `{"roomId":"standup","guestIdentity":"guest-nobody","action":"deny"}`), 404, false)

	if shared {
		// globex's invite claims "theirs". Neither tenant may reach into
		// the other's room: globex invite into standup, acme call into
		// theirs.
		run("invite claims", request("POST", "/livekit/guest/invite", keyGlobex, `{"orgId":"globex","roomId":"theirs","allowAll":true}`), 201, false)
		run("invite other tenant", request("POST", "/livekit/guest/invite", keyGlobex, `{"orgId":"globex","roomId":"standup","allowAll":true}`), 404, false)
		run("call other tenant", request("POST", "/sip/call", keyAcme, strings.Replace(callBody, `"support"`, `"theirs"`, 1)), 404, false)
	}
	run("call", request("POST", "/sip/call", keyAcme, callBody), 200, false)
	run("call over the concurrency quota", request("POST", "/sip/call", keyAcme, strings.Replace(callBody, `"phone"`, `"phone2"`, 1)), 429, false)
	run("call in progress", request("POST", "/sip/call", keyAcme, callBody), 409, false)
	run("call refused caller number", request("POST", "/sip/call", keyAcme, strings.Replace(callBody, `"to_phone_number"`, `"from_phone_number":"+4930999999","to_phone_number"`, 1)), 403, false)
	run("transfer", request("POST", "/sip/transfer", keyAcme, `{"room_name":"support","participant_identity":"phone","transfer_to":"+4930999"}`), 200, false)
	run("call no trunk", request("POST", "/sip/call", keyGlobex, `{"room_name":"g","participant_identity":"p","to_phone_number":"+15550100"}`), 403, false)

	// hook is a delivery of ev signed as LiveKit signs it, or with sig.
	hook := func(ev *livekit.WebhookEvent, sig string) *http.Request {
		event, err := protojson.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if sig == "" {
			sum := sha256.Sum256(event)
			if sig, err = auth.NewAccessToken(lkgatetest.APIKey, lkgatetest.APISecret).SetValidFor(time.Minute).SetSha256(base64.StdEncoding.EncodeToString(sum[:])).ToJWT(); err != nil {
				t.Fatal(err)
			}
		}
		r := httptest.NewRequest("POST", "/livekit/webhook", bytes.NewReader(event))
		r.Header.Set("Content-Type", "application/webhook+json")
		r.Header.Set("Authorization", sig)
		return r
	}
	started := &livekit.WebhookEvent{Event: "room_started", Id: "EV_1", Room: &livekit.Room{Name: "standup"}, CreatedAt: time.Now().Unix()}
	run("webhook", hook(started, ""), 200, false)
	run("webhook duplicate", hook(started, ""), 200, false)
	run("webhook unsigned", hook(started, "nope"), 401, false)
	run("webhook expired", hook(&livekit.WebhookEvent{Event: "room_started", Id: "EV_2", CreatedAt: time.Now().Add(-lkgate.WebhookWindow).Unix()}, ""), 401, false)
	run("webhook without id", hook(&livekit.WebhookEvent{Event: "room_started", CreatedAt: time.Now().Unix()}, ""), 400, false)

	served := run("openapi", httptest.NewRequest("GET", "/openapi.yaml", nil), 200, false)
	if !bytes.Equal(served, httpx.OpenAPI) {
		t.Error("GET /openapi.yaml does not serve the embedded document")
	}

	// Every route New registers, a route's pattern or a literal one, is
	// documented.
	files, err := filepath.Glob("../../httpx/*.go")
	if err != nil {
		t.Fatal(err)
	}
	var routes [][]string
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(f, "_test.go") {
			routes = append(routes, regexp.MustCompile(`(?:pattern: |HandleFunc\()"([A-Z]+) ([^"]+)"`).FindAllStringSubmatch(string(src), -1)...)
		}
	}
	if len(routes) < 14 {
		t.Fatalf("found %d routes in httpx", len(routes))
	}
	for _, r := range routes {
		// {$} only anchors a pattern ending in "/" to that path.
		if item := doc.Paths.Find(strings.TrimSuffix(r[2], "{$}")); item == nil || item.GetOperation(r[1]) == nil {
			t.Errorf("%s %s is served but not documented", r[1], r[2])
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !covered[method+" "+path] {
				t.Errorf("%s %s is documented but not exercised", method, path)
			}
		}
	}
}
