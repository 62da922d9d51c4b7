// Package redisserver starts a real redis-server (Debian's package,
// installed by scripts/install-sip.sh) on a free loopback port for tests.
package redisserver

import (
	"bufio"
	"net"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/lkgate/lkgate/internal/proc"
)

// Server is a running redis-server.
type Server struct {
	// Addr is host:port on 127.0.0.1.
	Addr string
	proc *proc.Process
}

// Start starts a private redis-server for t, without persistence, and stops
// it by its own pid when t's cleanup runs. It fails t if the server cannot
// start; under -short it skips t.
func Start(t testing.TB) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs a real redis-server; run without -short")
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redisserver: redis-server is not installed (run scripts/install-sip.sh): %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redisserver: no free port: %v", err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", port)}
	s.proc, err = proc.Start(t.TempDir(), bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no", "--daemonize", "no")
	if err != nil {
		t.Fatalf("redisserver: %v", err)
	}
	t.Cleanup(func() { s.proc.Stop(syscall.SIGTERM, 5*time.Second) })
	deadline := time.Now().Add(10 * time.Second)
	for !pong(s.Addr) {
		if s.proc.State() != nil {
			t.Fatalf("redisserver: redis-server exited: %s", s.proc.Logs())
		}
		if time.Now().After(deadline) {
			t.Fatalf("redisserver: no PONG from %s; log:\n%s", s.Addr, s.proc.Tail(4096))
		}
		time.Sleep(10 * time.Millisecond)
	}
	return s
}

// Pid is the server's process id.
func (s *Server) Pid() int { return s.proc.Pid() }

// Done is closed once the server has exited.
func (s *Server) Done() <-chan struct{} { return s.proc.Done() }

func pong(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && line == "+PONG\r\n"
}
