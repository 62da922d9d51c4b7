package sipstack

import (
	"testing"
	"time"
)

// The harness starts every process, and its cleanup stops each by pid.
func TestStartAndStop(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real SIP stack; run without -short")
	}
	var s *Stack
	var peer *Peer
	t.Run("start", func(t *testing.T) {
		s = Start(t)
		t.Logf("redis-server + livekit-server + livekit-sip started in %v", s.Started)
		peer = StartPeer(t, Busy, PeerOptions{})
		if !peer.Running() {
			t.Fatal("sipp exited before its call")
		}
	})
	if s == nil || peer == nil {
		t.Fatal("the stack did not start")
	}
	type process interface {
		Pid() int
		Done() <-chan struct{}
	}
	for name, p := range map[string]process{"redis-server": s.redis, "livekit-sip": s.sip, "sipp": peer.proc} {
		select {
		case <-p.Done():
		case <-time.After(time.Second):
			t.Errorf("%s (pid %d) still runs after cleanup", name, p.Pid())
		}
	}
}
