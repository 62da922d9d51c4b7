package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/internal/lkserver"
)

// TestBrowser runs web/e2e/browser.mjs (playwright-core in headless Debian
// Chromium, fake camera and microphone) against the demo page of this
// server (default scoped room names) and a real livekit-server, once with
// the API under the default prefix and once at the published root paths
// (LKGATE_PREFIX=/): the page calls the API where /demo/config.json says.
// No API key ever reaches the browser: people sign in as demo users and the
// API authenticates their session cookie. TokenSource.endpoint fetches a
// token with a member's session and connects to the tenant's room; a host
// joins; a member joins, sees the host's video, has no moderation controls
// and its attempts to remove or mute the host get 403 permission_denied; a
// guest waits in its lobby, the host admits it, the guest sees and decodes
// the host's video; the host mutes and removes it; a second guest is
// denied and never sees the room. Every video stays in the video grid, and
// the page fits 1280x800 and 800x600. Screenshots go to .artifacts/browser/
// (and .artifacts/browser/root/ for the root paths).
// Install its parts with scripts/install-browser.sh (make install); a
// missing part fails the test, except under -short.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: needs Chromium, node and a real livekit-server; run without -short")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	livekitClient := filepath.Join(root, "web", "node_modules", "livekit-client", "dist", "livekit-client.esm.mjs")
	for _, need := range []string{chromium, livekitClient, filepath.Join(root, "web", "node_modules", "playwright-core", "package.json")} {
		if _, err := os.Stat(need); err != nil {
			t.Fatalf("browser test: %v; run scripts/install-browser.sh (make install)", err)
		}
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("browser test: %v", err)
	}
	for _, tc := range []struct{ name, prefix, artifacts string }{
		{"default prefix", "", filepath.Join(root, ".artifacts", "browser")},
		{"root paths", "/", filepath.Join(root, ".artifacts", "browser", "root")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runBrowser(t, browserRun{root: root, node: node, chromium: chromium, livekitClient: livekitClient, prefix: tc.prefix, artifacts: tc.artifacts})
		})
	}
}

// browserRun is one run of web/e2e/browser.mjs: where its parts are, the
// server's LKGATE_PREFIX (empty: the default) and where screenshots go.
type browserRun struct {
	root, node, chromium, livekitClient string
	prefix, artifacts                   string
}

func runBrowser(t *testing.T, run browserRun) {
	if err := os.MkdirAll(run.artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	// An earlier run's failure screenshots would pass for this run's.
	stale, _ := filepath.Glob(filepath.Join(run.artifacts, "failure-*.png"))
	for _, f := range stale {
		_ = os.Remove(f)
	}
	lk := lkserver.Start(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	inviteKey := make([]byte, 32)
	_, _ = rand.Read(inviteKey)
	hostPassword, memberPassword := rand.Text(), rand.Text()
	cfg, err := configFromEnv(env(map[string]string{
		"LIVEKIT_URL":        lk.URL,
		"LIVEKIT_API_KEY":    lk.APIKey,
		"LIVEKIT_API_SECRET": lk.APISecret,
		"LKGATE_PREFIX":      run.prefix,
		// A backend's key, which the browser never sees.
		"LKGATE_API_KEYS":            "e2e-backend-key-acme-0123456789=acme:backend:all",
		"LKGATE_DEMO_USERS":          "hana:" + hostPassword + "=acme:tokens+rooms+moderate+guests,mia:" + memberPassword + "=acme:tokens",
		"LKGATE_INVITE_KEYS":         "k1=" + base64.StdEncoding.EncodeToString(inviteKey),
		"LKGATE_INVITE_BASE_URL":     base,
		"LKGATE_DEMO_LIVEKIT_CLIENT": run.livekitClient,
	}))
	if err != nil {
		t.Fatal(err)
	}
	// The TokenSource step dispatches the agent "helper" to acme's room.
	cfg.manager.AllowAgent = lkgate.AllowAgents(map[string][]string{"acme": {"helper"}})
	mux, manager, err := newMux(cfg, slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { manager.Close() })
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}
	srv.Start()
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, run.node, filepath.Join(run.root, "web", "e2e", "browser.mjs"))
	cmd.Dir = filepath.Join(run.root, "web")
	// The tenant's room "tokensource", as LiveKit names it under the
	// default scoped names.
	tokenSourceRoom, err := lkgate.ScopedRoomName("acme", "tokensource")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(os.Environ(), "BASE_URL="+base, "ARTIFACT_DIR="+run.artifacts, "CHROMIUM="+run.chromium,
		"HOST_USER=hana", "HOST_PASSWORD="+hostPassword, "MEMBER_USER=mia", "MEMBER_PASSWORD="+memberPassword,
		"TOKENSOURCE_LIVEKIT_ROOM="+tokenSourceRoom)
	// Killing node's process group also ends the Chromium it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("browser run (%v):\n%s", time.Since(start).Round(time.Millisecond), out)
	if err != nil {
		t.Fatalf("browser test failed: %v; screenshots in %s", err, run.artifacts)
	}
	t.Logf("screenshots in %s", run.artifacts)
}
