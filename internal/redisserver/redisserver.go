// Package redisserver starts a real redis-server (Debian's package,
// installed by scripts/install-sip.sh) on a free loopback port, for tests
// and the bench harnesses.
package redisserver

import (
	"bufio"
	"errors"
	"net"
	"os"
	"os/exec"
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
	dir  string // removed by Stop; "" when a test owns it
}

// ErrNotInstalled means redis-server is not on PATH.
var ErrNotInstalled = errors.New("redis-server is not installed (scripts/install-sip.sh installs it)")

// Start starts a private redis-server for t, without persistence, and stops
// it by its own pid when t's cleanup runs. It fails t if the server cannot
// start; under -short it skips t.
func Start(t testing.TB) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs a real redis-server; run without -short")
	}
	s, err := launch(t.TempDir())
	if err != nil {
		t.Fatalf("redisserver: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Launch starts a private redis-server outside a test (the bench
// harnesses), as Start does, in a directory of its own that Stop removes.
func Launch() (*Server, error) {
	dir, err := os.MkdirTemp("", "lkgate-redis-")
	if err != nil {
		return nil, err
	}
	s, err := launch(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.dir = dir
	return s, nil
}

func launch(dir string) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrNotInstalled
	}
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	port := ports[0]
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", port)}
	s.proc, err = proc.Start(dir, bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no", "--daemonize", "no")
	if err != nil {
		return nil, err
	}
	if err := s.waitPong(); err != nil {
		return nil, err
	}
	return s, nil
}

// Stop stops the server by its own pid and removes the directory Launch
// made.
func (s *Server) Stop() {
	s.proc.Stop(syscall.SIGTERM, 5*time.Second)
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
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
