package redisserver

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lkgate/lkgate/internal/proc"
)

const (
	// clusterNodes is how many masters StartCluster runs: enough that a
	// key, a script's keys or a SCAN can land on a node other than the
	// first.
	clusterNodes = 3
	slotCount    = 16384 // Redis Cluster's hash slots
)

// firstSlot is the first slot node i serves; it serves up to
// firstSlot(i+1)-1.
func firstSlot(i int) int64 { return int64(i) * slotCount / clusterNodes }

// Cluster is a running Redis Cluster of three masters without replicas,
// the hash slots split evenly between them.
type Cluster struct {
	// Addrs are the masters' host:port on 127.0.0.1, the first holding
	// slots 0-5460, the second 5461-10921, the third 10922-16383.
	Addrs []string
	nodes []*Server
}

// StartCluster starts a private Redis Cluster for t, without persistence,
// and stops each node by its own pid when t's cleanup runs. It returns
// once every node reports cluster_state:ok. It fails t if the cluster
// cannot form (redis-server 7.0 or newer is needed, for CLUSTER
// ADDSLOTSRANGE and --cluster-port); under -short it skips t.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs a real redis-server; run without -short")
	}
	dir := t.TempDir()
	c := &Cluster{}
	// Registered after TempDir's, so that it runs before the directory is
	// removed, and before the nodes start, so that a failure halfway still
	// stops the nodes already running.
	t.Cleanup(c.Stop)
	if err := c.launch(dir); err != nil {
		t.Fatalf("redisserver: cluster: %v", err)
	}
	return c
}

// Master returns the address of the master that serves slot (0-16383),
// as CLUSTER KEYSLOT names a key's slot.
func (c *Cluster) Master(slot int64) string {
	i := clusterNodes - 1
	for i > 0 && slot < firstSlot(i) {
		i--
	}
	return c.Addrs[i]
}

// Stop stops every node by its own pid, all at once: each takes a tenth
// of a second or more to shut down.
func (c *Cluster) Stop() {
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		wg.Go(n.Stop)
	}
	wg.Wait()
}

func (c *Cluster) launch(dir string) error {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return ErrNotInstalled
	}
	// Each node listens on a port and talks to the others on a bus port;
	// both are picked free, rather than Redis's default bus port of
	// port+10000, which may be taken.
	ports, err := freePorts(2 * clusterNodes)
	if err != nil {
		return err
	}
	for i := range clusterNodes {
		port, bus := ports[2*i], ports[2*i+1]
		s := &Server{Addr: net.JoinHostPort("127.0.0.1", port)}
		s.proc, err = proc.Start(dir, bin, "--bind", "127.0.0.1", "--port", port,
			"--save", "", "--appendonly", "no", "--daemonize", "no",
			"--cluster-enabled", "yes", "--cluster-port", bus,
			"--cluster-config-file", filepath.Join(dir, "nodes-"+port+".conf"),
			"--cluster-node-timeout", "2000")
		if err != nil {
			return err
		}
		c.nodes = append(c.nodes, s)
		c.Addrs = append(c.Addrs, s.Addr)
	}
	for _, s := range c.nodes {
		if err := s.waitPong(); err != nil {
			return err
		}
	}
	return c.form(ports)
}

// form assigns the slots, introduces the nodes to the first and waits
// until every node sees all slots served.
func (c *Cluster) form(ports []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clients := make([]*redis.Client, len(c.nodes))
	for i, s := range c.nodes {
		clients[i] = redis.NewClient(&redis.Options{Addr: s.Addr})
		defer clients[i].Close()
	}
	for i, rdb := range clients {
		lo, hi := firstSlot(i), firstSlot(i+1)-1
		if err := rdb.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err(); err != nil {
			return fmt.Errorf("%s: CLUSTER ADDSLOTSRANGE %d %d: %w", c.nodes[i].Addr, lo, hi, err)
		}
	}
	for i := 1; i < len(clients); i++ {
		if err := clients[0].Do(ctx, "CLUSTER", "MEET", "127.0.0.1", ports[2*i], ports[2*i+1]).Err(); err != nil {
			return fmt.Errorf("CLUSTER MEET %s: %w", c.nodes[i].Addr, err)
		}
	}
	for i, rdb := range clients {
		for {
			info, err := rdb.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("%s never reported cluster_state:ok (%v); log:\n%s", c.nodes[i].Addr, err, c.nodes[i].proc.Tail(4096))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// freePorts returns n distinct loopback ports that were free, all held
// until the last is found.
func freePorts(n int) ([]string, error) {
	ports := make([]string, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("no free port: %w", err)
		}
		defer l.Close()
		ports[i] = strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// waitPong waits until s answers PING or has exited.
func (s *Server) waitPong() error {
	deadline := time.Now().Add(10 * time.Second)
	for !pong(s.Addr) {
		if s.proc.State() != nil {
			return fmt.Errorf("redis-server exited: %s", s.proc.Logs())
		}
		if time.Now().After(deadline) {
			s.proc.Stop(syscall.SIGTERM, 5*time.Second)
			return fmt.Errorf("no PONG from %s; log:\n%s", s.Addr, s.proc.Tail(4096))
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}
