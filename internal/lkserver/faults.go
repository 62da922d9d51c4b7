package lkserver

import (
	"fmt"
	"path/filepath"
	"syscall"

	"github.com/lkgate/lkgate/internal/proc"
)

// Kill kills the server at once, as a crash would (SIGKILL to its pid, on
// loopback ports this harness chose), and waits for it to exit. Restart
// starts it again. Use it on a server of Start, never on Shared's.
func (s *Server) Kill() error {
	if err := s.proc.Signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("killing livekit-server (pid %d): %w", s.proc.Pid(), err)
	}
	if !s.proc.ExitsWithin(stopGrace) {
		return fmt.Errorf("livekit-server (pid %d) still running %s after SIGKILL", s.proc.Pid(), stopGrace)
	}
	return nil
}

// Restart starts a killed server again, with the same configuration on the
// same ports, and waits until it is ready; Stop then stops the new process.
func (s *Server) Restart() error {
	bin, err := binaryPath()
	if err != nil {
		return err
	}
	p, err := proc.Start(s.dir, bin, "--config", filepath.Join(s.dir, "livekit.yaml"))
	if err != nil {
		return err
	}
	s.proc = p
	if err := s.waitReady(); err != nil {
		return fmt.Errorf("restarted livekit-server (pid %d) not ready: %w; log tail:\n%s", p.Pid(), err, p.Tail(errLogTail))
	}
	return nil
}
