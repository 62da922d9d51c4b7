package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lkgate/lkgate/internal/proc"
)

// redisServer is a private redis-server, started the way
// internal/redisserver starts one for tests (which needs a testing.TB): no
// persistence, a free loopback port, its own process group.
type redisServer struct {
	addr string
	dir  string
	proc *proc.Process
}

func startRedis() (*redisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server is not installed (scripts/install-sip.sh installs it): %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	dir, err := os.MkdirTemp("", "lkgate-indexsim-redis-")
	if err != nil {
		return nil, err
	}
	p, err := proc.Start(dir, bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no", "--daemonize", "no")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &redisServer{addr: net.JoinHostPort("127.0.0.1", port), dir: dir, proc: p}
	c := redis.NewClient(&redis.Options{Addr: s.addr})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if p.State() != nil || time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("redis-server did not answer on %s; log:\n%s", s.addr, p.Tail(4096))
		}
		time.Sleep(10 * time.Millisecond)
	}
	return s, nil
}

// stop stops the server by its own pid and removes its directory.
func (s *redisServer) stop() {
	s.proc.Stop(syscall.SIGTERM, 5*time.Second)
	os.RemoveAll(s.dir)
}
