package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/lkgatetest"
)

// publishedEnv is the configuration of a server with guests, SIP and the
// demo page, at LKGATE_PREFIX=prefix.
func publishedEnv(t *testing.T, prefix string) config {
	t.Helper()
	fake := lkgatetest.NewServer(t)
	vars := validEnv()
	vars["LIVEKIT_URL"] = fake.URL()
	vars["LKGATE_PREFIX"] = prefix
	vars["LKGATE_INVITE_KEYS"] = "2026-11=" + base64.StdEncoding.EncodeToString(make([]byte, 32))
	vars["LKGATE_INVITE_BASE_URL"] = "https://app.example.com"
	vars["LKGATE_SIP_TRUNKS"] = "acme=ST_acme"
	vars["LKGATE_DEMO_USERS"] = "hana:pw=acme:all"
	vars["LKGATE_DEMO_LIVEKIT_CLIENT"] = filepath.Join(t.TempDir(), "livekit-client.esm.mjs")
	if err := os.WriteFile(vars["LKGATE_DEMO_LIVEKIT_CLIENT"], []byte("export const Room = 1;\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := configFromEnv(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// documentedRoutes are the method and path of every operation in httpx's
// OpenAPI document, relative to where the API is mounted.
func documentedRoutes(t *testing.T) [][2]string {
	t.Helper()
	var routes [][2]string
	for _, m := range regexp.MustCompile(`(?m)^  (/\S*):\n    (get|post|delete):`).FindAllStringSubmatch(string(httpx.OpenAPI), -1) {
		routes = append(routes, [2]string{strings.ToUpper(m[2]), strings.ReplaceAll(m[1], "{room_name}", "standup")})
	}
	if len(routes) < 14 {
		t.Fatalf("found %d routes in the OpenAPI document", len(routes))
	}
	return routes
}

// send serves a request with acme's API key and a JSON body, and reports
// whether lkgate's API answered it, whatever it answered: the mux's own
// 404 and 405 are plain text, and lkgate answers every route it has with
// JSON or YAML.
func send(t *testing.T, mux http.Handler, method, target, body string) (*httptest.ResponseRecorder, bool) {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer acme-key-0123456789")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	var p httpx.Problem
	noRoute := rec.Code == http.StatusNotFound && json.Unmarshal(rec.Body.Bytes(), &p) == nil && p.Detail == "no such route"
	api := strings.HasPrefix(rec.Header().Get("Content-Type"), "application/") && rec.Code != http.StatusMethodNotAllowed && !noRoute
	return rec, api
}

// LKGATE_PREFIX=/ serves every route at the published paths: at the root,
// and the guest routes also under /api/v1, while the demo page keeps /,
// /join and /demo/ and the health check /healthz.
func TestPublishedPathsAtTheRoot(t *testing.T) {
	cfg := publishedEnv(t, "/")
	mux := mustMux(t, cfg)
	for _, r := range documentedRoutes(t) {
		paths := []string{r[1]}
		if strings.HasPrefix(r[1], "/livekit/guest/") {
			paths = append(paths, "/api/v1"+r[1])
		}
		for _, path := range paths {
			if rec, api := send(t, mux, r[0], path, "{}"); !api {
				t.Errorf("%s %s: %d %q %s", r[0], path, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
			}
		}
	}
	// Only the guest routes are published under /api/v1.
	if rec, api := send(t, mux, "POST", "/api/v1/livekit/token", `{"room_name":"standup"}`); api || rec.Code != http.StatusNotFound {
		t.Errorf("POST /api/v1/livekit/token at the root: %d %s", rec.Code, rec.Body)
	}

	// A guest's whole way in, at the published paths.
	rec, _ := send(t, mux, "POST", "/api/v1/livekit/guest/invite", `{"roomId":"standup","allowAll":true}`)
	var inv httpx.InviteResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &inv); rec.Code != http.StatusCreated || err != nil {
		t.Fatalf("invite: %d %s", rec.Code, rec.Body)
	}
	u, err := url.Parse(inv.InviteURL)
	if err != nil {
		t.Fatal(err)
	}
	rec, _ = send(t, mux, "POST", "/api/v1/livekit/guest/room-auth/", `{"inviteToken":"`+u.Query().Get("invite_token")+`","guestName":"Grace"}`)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"livekitToken"`) {
		t.Errorf("room-auth/: %d %s", rec.Code, rec.Body)
	}
	if rec, _ := send(t, mux, "POST", "/livekit/token", `{"room_name":"standup"}`); rec.Code != http.StatusOK {
		t.Errorf("token: %d %s", rec.Code, rec.Body)
	}

	for _, tc := range []struct{ path, contentType, contains string }{
		{"/", "text/html", `src="/demo/app.js"`},
		{"/join?invite_token=x", "text/html", "<"},
		{"/demo/config.json", "application/json", `{"api":""}`},
		{"/healthz", "", ""},
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), tc.contentType) || !strings.Contains(rec.Body.String(), tc.contains) {
			t.Errorf("GET %s: %d %q, body lacks %q", tc.path, rec.Code, rec.Header().Get("Content-Type"), tc.contains)
		}
	}
}

// Under a prefix every route is there and nowhere else: the root belongs
// to the host.
func TestPublishedPathsUnderAPrefix(t *testing.T) {
	cfg := publishedEnv(t, "/api/v1")
	mux := mustMux(t, cfg)
	for _, r := range documentedRoutes(t) {
		if rec, api := send(t, mux, r[0], "/api/v1"+r[1], "{}"); !api {
			t.Errorf("%s /api/v1%s: %d %s", r[0], r[1], rec.Code, rec.Body)
		}
		if rec, api := send(t, mux, r[0], r[1], "{}"); api {
			t.Errorf("%s %s answered at the root: %d %s", r[0], r[1], rec.Code, rec.Body)
		}
	}
}

func TestPrefixSetting(t *testing.T) {
	for prefix, ok := range map[string]bool{"/": true, "/api/v1": true, "//": false, "/api/": false, "api": false} {
		vars := validEnv()
		vars["LKGATE_PREFIX"] = prefix
		_, err := configFromEnv(env(vars))
		if ok != (err == nil) || err != nil && !strings.Contains(err.Error(), "LKGATE_PREFIX") {
			t.Errorf("LKGATE_PREFIX=%q: %v", prefix, err)
		}
	}
}
