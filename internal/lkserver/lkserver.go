// Package lkserver runs a real livekit-server (the pinned v1.8.4 binary in
// <repo>/.bin/livekit-server) for integration tests, on free loopback ports.
//
// Start gives a test its own server; Shared gives every test of a test binary
// one server, started on first use and stopped by StopShared from TestMain.
// A missing binary or a server that cannot start fails the test: it is never
// skipped, except under -short. Webhooks are on, as in the configurations
// the project ships: each server posts them to a receiver the harness
// serves, which a test points at its lkgate handler (HandleWebhooks). Install the binary with
// scripts/install-livekit.sh, or point LKGATE_LIVEKIT_BIN at one.
package lkserver

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/lkgate/lkgate/internal/proc"
)

// Dev credentials every server started here accepts.
const (
	APIKey    = "devkey"
	APISecret = "secretsecretsecretsecretsecretsecret"
)

const (
	// Version is the livekit-server version the project's tests are written against.
	Version = "1.8.4"

	// BinEnv overrides the path of the livekit-server binary; it must still
	// report Version.
	BinEnv = "LKGATE_LIVEKIT_BIN"
	// LogLevelEnv sets the default log level (debug, info, warn, error) of
	// servers started here; WithLogLevel overrides it per server.
	LogLevelEnv = "LKGATE_LIVEKIT_LOG_LEVEL"

	modulePath   = "github.com/lkgate/lkgate"
	readyTimeout = 20 * time.Second
	readyPoll    = 20 * time.Millisecond
	forceAfter   = 250 * time.Millisecond
	stopGrace    = 5 * time.Second
	// How much of the log goes into error messages.
	errLogTail = 8 << 10
	// A free port found by listening on :0 can be taken by another process
	// before the server binds it; a fresh set of ports then usually works.
	startAttempts = 3
)

// Server is a running livekit-server.
type Server struct {
	// URL is the HTTP base URL for the server API, e.g. http://127.0.0.1:41234.
	URL string
	// WSURL is the WebSocket URL participants connect to, e.g. ws://127.0.0.1:41234.
	WSURL string
	// APIKey and APISecret are the credentials the server accepts.
	APIKey    string
	APISecret string
	// WebhookURL is where the server posts its webhooks: the harness's
	// receiver (see HandleWebhooks). Empty WithoutWebhooks.
	WebhookURL string

	proc     *proc.Process
	hooks    *webhookSink // nil WithoutWebhooks
	dir      string       // removed by Stop when rmDir is set (Shared)
	rmDir    bool
	stopOnce sync.Once
}

// Option configures a server started by Start.
type Option func(*options)

type options struct {
	webhooks   []string
	noWebhooks bool
	redis      string
	logLevel   string
	yaml       []string
}

// WithWebhook makes the server post its webhooks, signed with APIKey, to url
// as well as to the harness's receiver. It may be given more than once.
func WithWebhook(url string) Option {
	return func(o *options) { o.webhooks = append(o.webhooks, url) }
}

// WithRedis points the server at the Redis at addr (host:port), as SIP needs.
func WithRedis(addr string) Option {
	return func(o *options) { o.redis = addr }
}

// WithLogLevel sets the server's log level (debug, info, warn, error).
func WithLogLevel(level string) Option {
	return func(o *options) { o.logLevel = level }
}

// WithYAML deep-merges a fragment of livekit-server YAML configuration over
// the generated one, e.g. "room: {empty_timeout: 2}". Values in the fragment win.
func WithYAML(fragment string) Option {
	return func(o *options) { o.yaml = append(o.yaml, fragment) }
}

// Start starts a private livekit-server for t and stops it when t's cleanup runs.
// It fails t when the server cannot run; under -short it skips t.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	skipIfShort(t)
	o := options{logLevel: os.Getenv(LogLevelEnv)}
	for _, opt := range opts {
		opt(&o)
	}
	s, err := launch(t.TempDir(), false, o)
	if err != nil {
		t.Fatalf("lkserver: %v", err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("livekit-server log tail:\n%s", s.proc.Tail(errLogTail))
		}
	})
	return s
}

var shared struct {
	mu  sync.Mutex
	srv *Server
	err error
}

// Shared returns the test binary's shared livekit-server, starting it on first
// use. Call StopShared from TestMain after m.Run. Tests sharing it should use
// distinct room names. It fails t when the server cannot run (every call
// reports the same start error); under -short it skips t. If t fails, the
// tail of the server's log is logged.
func Shared(t testing.TB) *Server {
	t.Helper()
	skipIfShort(t)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv == nil && shared.err == nil {
		shared.srv, shared.err = Launch()
	}
	if shared.err != nil {
		t.Fatalf("lkserver: shared server: %v", shared.err)
	}
	srv := shared.srv
	if state := srv.proc.State(); state != nil {
		t.Fatalf("lkserver: shared livekit-server has exited (%s); log tail:\n%s", state, srv.proc.Tail(errLogTail))
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("shared livekit-server log tail:\n%s", srv.proc.Tail(errLogTail))
		}
	})
	return srv
}

// Launch starts a livekit-server outside a test (for the bench program):
// its config goes to a new temporary directory, removed by Stop, which the
// caller must call.
func Launch(opts ...Option) (*Server, error) {
	o := options{logLevel: os.Getenv(LogLevelEnv)}
	for _, opt := range opts {
		opt(&o)
	}
	dir, err := os.MkdirTemp("", "lkserver-")
	if err != nil {
		return nil, err
	}
	s, err := launch(dir, true, o)
	if err != nil {
		_ = os.RemoveAll(dir)
	}
	return s, err
}

// StopShared stops the shared server, if one was started. Call it from TestMain.
func StopShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv != nil {
		shared.srv.Stop()
	}
	shared.srv, shared.err = nil, nil
}

func skipIfShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs a real livekit-server; run without -short")
	}
}

// Stop stops the server: SIGTERM to its pid, a second SIGTERM after 250 ms,
// SIGKILL 5 s after the first, then waits for it to exit. It is safe to call
// more than once.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		// livekit-server v1.8.4 ignores a SIGTERM that arrives in the 100 ms
		// after it starts serving, and on SIGTERM waits for connected
		// participants to leave; its second SIGTERM forces the stop.
		_ = s.proc.Signal(syscall.SIGTERM)
		if !s.proc.ExitsWithin(forceAfter) {
			s.proc.Stop(syscall.SIGTERM, stopGrace-forceAfter)
		}
		if s.hooks != nil {
			s.hooks.close()
		}
		if s.rmDir {
			_ = os.RemoveAll(s.dir)
		}
	})
}

// Logs returns the server's captured stdout and stderr: the last megabyte or so,
// preceded by a note when earlier output was dropped.
func (s *Server) Logs() string { return s.proc.Logs() }

func launch(dir string, rmDir bool, o options) (*Server, error) {
	bin, err := binaryPath()
	if err != nil {
		return nil, err
	}
	if err := checkVersion(bin); err != nil {
		return nil, err
	}
	var hooks *webhookSink
	if o.noWebhooks {
		o.webhooks = nil
	} else {
		if hooks, err = startWebhookSink(); err != nil {
			return nil, fmt.Errorf("webhook receiver: %w", err)
		}
		o.webhooks = append([]string{hooks.url}, o.webhooks...)
	}
	for attempt := 1; ; attempt++ {
		s, err := launchOnce(bin, dir, o)
		if err == nil {
			s.dir, s.rmDir, s.hooks = dir, rmDir, hooks
			if hooks != nil {
				s.WebhookURL = hooks.url
			}
			return s, nil
		}
		if attempt == startAttempts || !errors.Is(err, errPortTaken) {
			if hooks != nil {
				hooks.close()
			}
			return nil, err
		}
	}
}

var errPortTaken = errors.New("port already in use")

func launchOnce(bin, dir string, o options) (*Server, error) {
	ports, err := freePorts()
	if err != nil {
		return nil, err
	}
	conf, err := config(ports, o)
	if err != nil {
		return nil, err
	}
	confPath := filepath.Join(dir, "livekit.yaml")
	if err := os.WriteFile(confPath, conf, 0o600); err != nil {
		return nil, err
	}

	base := "127.0.0.1:" + strconv.Itoa(ports.http)
	p, err := proc.Start(dir, bin, "--config", confPath)
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://" + base, WSURL: "ws://" + base, APIKey: APIKey, APISecret: APISecret, proc: p}

	begin := time.Now()
	if err := s.waitReady(); err != nil {
		s.Stop()
		return nil, fmt.Errorf("livekit-server (pid %d, config %s) not ready after %v: %w; log tail:\n%s",
			p.Pid(), confPath, time.Since(begin).Round(time.Millisecond), err, s.proc.Tail(errLogTail))
	}
	return s, nil
}

// waitReady polls GET / until the server answers 200 "OK" (it answers 406
// until its node stats are first published).
func (s *Server) waitReady() error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	for {
		if s.answersOK(client) {
			return nil
		}
		select {
		case <-s.proc.Done():
			if strings.Contains(s.Logs(), "address already in use") {
				return fmt.Errorf("exited (%s): %w", s.proc.State(), errPortTaken)
			}
			return fmt.Errorf("exited (%s)", s.proc.State())
		case <-deadline.C:
			return errors.New("timed out waiting for GET / to answer 200 OK")
		case <-tick.C:
		}
	}
}

func (s *Server) answersOK(client *http.Client) bool {
	resp, err := client.Get(s.URL + "/")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
	return resp.StatusCode == http.StatusOK && string(bytes.TrimSpace(body)) == "OK"
}

type ports struct{ http, rtcTCP, rtcUDP int }

// freePorts picks free loopback ports. All three listeners are held open
// together so they cannot hand out the same port twice.
func freePorts() (ports, error) {
	httpL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return ports{}, fmt.Errorf("picking a free port: %w", err)
	}
	defer httpL.Close()
	// The RTC TCP mux listens on every address, so probe the wildcard.
	tcpL, err := net.Listen("tcp", ":0")
	if err != nil {
		return ports{}, fmt.Errorf("picking a free port: %w", err)
	}
	defer tcpL.Close()
	udpL, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return ports{}, fmt.Errorf("picking a free port: %w", err)
	}
	defer udpL.Close()
	return ports{
		http:   httpL.Addr().(*net.TCPAddr).Port,
		rtcTCP: tcpL.Addr().(*net.TCPAddr).Port,
		rtcUDP: udpL.LocalAddr().(*net.UDPAddr).Port,
	}, nil
}

// config renders the server's YAML configuration.
func config(p ports, o options) ([]byte, error) {
	level := o.logLevel
	if level == "" {
		level = "info"
	}
	conf := map[string]any{
		"port":           p.http,
		"bind_addresses": []string{"127.0.0.1"},
		"rtc": map[string]any{
			// rtc.tcp_port always listens on every address in v1.8.4.
			"tcp_port":        p.rtcTCP,
			"udp_port":        p.rtcUDP, // one port: a single UDP mux
			"node_ip":         "127.0.0.1",
			"use_external_ip": false,
			// Without these the UDP mux binds every non-loopback address
			// instead of 127.0.0.1.
			"enable_loopback_candidate": true,
			"ips":                       map[string]any{"includes": []string{"127.0.0.1/32"}},
		},
		"keys":    map[string]any{APIKey: APISecret},
		"logging": map[string]any{"level": level},
	}
	if len(o.webhooks) > 0 {
		conf["webhook"] = map[string]any{"api_key": APIKey, "urls": o.webhooks}
	}
	if o.redis != "" {
		conf["redis"] = map[string]any{"address": o.redis}
	}
	for _, frag := range o.yaml {
		var extra map[string]any
		if err := yaml.Unmarshal([]byte(frag), &extra); err != nil {
			return nil, fmt.Errorf("WithYAML fragment %q: %w", frag, err)
		}
		merge(conf, extra)
	}
	return yaml.Marshal(conf)
}

// merge copies src into dst, descending into maps present in both.
func merge(dst, src map[string]any) {
	for k, v := range src {
		dv, dok := dst[k].(map[string]any)
		sv, sok := v.(map[string]any)
		if dok && sok {
			merge(dv, sv)
			continue
		}
		dst[k] = v
	}
}

// binaryPath finds livekit-server: $LKGATE_LIVEKIT_BIN, else <repo root>/.bin/livekit-server.
func binaryPath() (string, error) {
	if p := os.Getenv(BinEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("livekit-server binary from $%s: %w", BinEnv, err)
		}
		return p, nil
	}
	p, err := BinPath("livekit-server")
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("livekit-server binary not found at %s: run scripts/install-livekit.sh (or set $%s)", p, BinEnv)
	}
	return p, nil
}

// BinPath returns <repo root>/.bin/name, where the install scripts put the
// pinned binaries, whether or not the file exists.
func BinPath(name string) (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, ".bin", name), nil
}

// repoRoot walks up from the working directory to the directory whose go.mod
// declares this module.
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if declaresModule(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no go.mod for module %s above %s: set $%s to the livekit-server binary", modulePath, wd, BinEnv)
		}
	}
}

func declaresModule(goMod string) bool {
	f, err := os.Open(goMod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) >= 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`) == modulePath
		}
	}
	return false
}

var versions struct {
	mu      sync.Mutex
	checked map[string]error
}

// checkVersion runs `bin --version` once per binary: the project's facts were
// measured on one server version, and a stale binary would silently differ.
func checkVersion(bin string) error {
	versions.mu.Lock()
	defer versions.mu.Unlock()
	if err, ok := versions.checked[bin]; ok {
		return err
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	got := strings.TrimSpace(string(out))
	switch {
	case err != nil:
		err = fmt.Errorf("%s --version: %v: %s", bin, err, got)
	case got != "livekit-server version "+Version:
		err = fmt.Errorf("%s reports %q, want livekit-server version %s: run scripts/install-livekit.sh", bin, got, Version)
	}
	if versions.checked == nil {
		versions.checked = map[string]error{}
	}
	versions.checked[bin] = err
	return err
}
