// Package sipstack runs the real SIP test stack on loopback: redis-server,
// livekit-server (through lkserver, with that Redis), livekit-sip v1.0.0
// (<repo>/.bin/livekit-sip, built by scripts/install-sip.sh) and, per test,
// sipp as the far end of calls.
//
// Start gives a test its own stack and stops it, by pid, when the test
// ends. A missing binary or a stack that cannot start fails the test; it
// is never skipped, except under -short.
package sipstack

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"go.yaml.in/yaml/v3"

	"github.com/lkgate/lkgate/internal/lkserver"
	"github.com/lkgate/lkgate/internal/proc"
	"github.com/lkgate/lkgate/internal/redisserver"
)

const (
	// SIPBinEnv overrides the path of the livekit-sip binary.
	SIPBinEnv = "LKGATE_SIP_BIN"
	// TrunkNumber is the caller number of trunks made by Trunk.
	TrunkNumber = "+15550000000"

	readyTimeout = 20 * time.Second
	stopGrace    = 5 * time.Second
	errLogTail   = 8 << 10
	// livekit-sip start attempts, each on fresh ports.
	startAttempts = 3
	// RTP ports per livekit-sip: two per call, and tests make few at once.
	rtpPorts = 20
)

// Stack is a running redis-server, livekit-server and livekit-sip.
type Stack struct {
	// LiveKit is the livekit-server, configured with the stack's Redis.
	LiveKit *lkserver.Server
	// Started is how long the whole stack took to start.
	Started time.Duration

	redis *redisserver.Server
	sip   *proc.Process
}

// Start starts a stack for t and stops it when t's cleanup runs. opts
// configure its livekit-server.
func Start(t testing.TB, opts ...lkserver.Option) *Stack {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs redis-server, livekit-server and livekit-sip; run without -short")
	}
	begin := time.Now()
	sipBin, err := sipBinary()
	if err != nil {
		t.Fatalf("sipstack: %v", err)
	}
	s := &Stack{redis: redisserver.Start(t)}
	redisAddr := s.redis.Addr

	s.LiveKit = lkserver.Start(t, append(opts, lkserver.WithRedis(redisAddr))...)

	for attempt := 1; ; attempt++ {
		s.sip, err = startSIP(t, sipBin, s.LiveKit, redisAddr)
		if err == nil {
			break
		}
		// A port picked as free can be taken before livekit-sip binds it;
		// fresh ports usually work.
		if attempt == startAttempts {
			t.Fatalf("sipstack: livekit-sip: %v", err)
		}
		t.Logf("sipstack: livekit-sip attempt %d: %v", attempt, err)
	}
	t.Cleanup(func() {
		// SIGTERM makes livekit-sip wait for calls to end, which can hang.
		stop(t, s.sip, syscall.SIGINT)
		if t.Failed() {
			t.Logf("livekit-sip log tail:\n%s", s.sip.Tail(errLogTail))
		}
	})
	s.Started = time.Since(begin)
	return s
}

// startSIP starts livekit-sip on fresh ports and waits until it is ready.
func startSIP(t testing.TB, bin string, lk *lkserver.Server, redisAddr string) (*proc.Process, error) {
	dir := t.TempDir()
	sipPort, err := quietPort(1)
	if err != nil {
		return nil, err
	}
	rtp, err := quietPort(rtpPorts)
	if err != nil {
		return nil, err
	}
	conf, err := yaml.Marshal(map[string]any{
		"api_key":    lk.APIKey,
		"api_secret": lk.APISecret,
		"ws_url":     lk.WSURL,
		"redis":      map[string]any{"address": redisAddr},
		"sip_port":   sipPort,
		"listen_ip":  "127.0.0.1",
		// Without it livekit-sip looks up its public address on the Internet.
		"nat_1_to_1_ip": "127.0.0.1",
		"rtp_port":      fmt.Sprintf("%d-%d", rtp, rtp+rtpPorts-1),
		"logging":       map[string]any{"level": "debug"},
		// Otherwise calls are refused ("cpu exhausted") while a build or
		// other tests keep the cores busy.
		"max_cpu_utilization": 1.0,
	})
	if err != nil {
		return nil, err
	}
	confPath := filepath.Join(dir, "sip.yaml")
	if err := os.WriteFile(confPath, conf, 0o600); err != nil {
		return nil, err
	}
	p, err := proc.Start(dir, bin, "--config", confPath)
	if err != nil {
		return nil, err
	}
	// livekit-sip v1.0.0 has no health endpoint.
	if err := p.WaitForLog("service ready", readyTimeout); err != nil {
		stop(t, p, syscall.SIGINT)
		return nil, fmt.Errorf("%w; log tail:\n%s", err, p.Tail(errLogTail))
	}
	return p, nil
}

// SIPLogs returns livekit-sip's captured output.
func (s *Stack) SIPLogs() string { return s.sip.Logs() }

// Trunk creates an outbound trunk to the SIP peer at addr (host:port, UDP)
// with caller number TrunkNumber, and returns its id.
func (s *Stack) Trunk(t testing.TB, addr string) string {
	t.Helper()
	c := lksdk.NewSIPClient(s.LiveKit.URL, s.LiveKit.APIKey, s.LiveKit.APISecret)
	tr, err := c.CreateSIPOutboundTrunk(context.Background(), &livekit.CreateSIPOutboundTrunkRequest{Trunk: &livekit.SIPOutboundTrunkInfo{
		Name: "sipp " + addr, Address: addr, Transport: livekit.SIPTransport_SIP_TRANSPORT_UDP, Numbers: []string{TrunkNumber},
	}})
	if err != nil {
		t.Fatalf("sipstack: CreateSIPOutboundTrunk: %v", err)
	}
	return tr.SipTrunkId
}

func sipBinary() (string, error) {
	if p := os.Getenv(SIPBinEnv); p != "" {
		return p, nil
	}
	p, err := lkserver.BinPath("livekit-sip")
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("livekit-sip not found at %s: run scripts/install-sip.sh (or set $%s)", p, SIPBinEnv)
	}
	return p, nil
}

// quietPort returns the first of n consecutive loopback ports, free for
// both TCP and UDP, below Linux's ephemeral range (32768 and up). livekit-
// sip listens on its SIP port with both protocols, and a port picked from
// the ephemeral range is soon taken by some outgoing TCP connection.
func quietPort(n int) (int, error) {
	const low, high = 20000, 32768
	for range 100 {
		base := low + rand.IntN(high-low-n)
		if portsFree(base, n) {
			return base, nil
		}
	}
	return 0, fmt.Errorf("no %d free consecutive ports between %d and %d", n, low, high)
}

func portsFree(base, n int) bool {
	for p := base; p < base+n; p++ {
		addr := "127.0.0.1:" + strconv.Itoa(p)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return false
		}
		u, err := net.ListenPacket("udp", addr)
		l.Close()
		if err != nil {
			return false
		}
		u.Close()
	}
	return true
}

// stop stops p by its pid with sig, saying so if it had to be killed.
func stop(t testing.TB, p *proc.Process, sig syscall.Signal) {
	if p.Stop(sig, stopGrace) {
		t.Logf("sipstack: pid %d ignored %v for %v and was killed", p.Pid(), sig, stopGrace)
	}
}
