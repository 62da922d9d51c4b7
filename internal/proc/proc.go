// Package proc runs the real servers tests depend on (livekit-server,
// redis-server, livekit-sip, sipp) as child processes: each in its own
// process group, killed by the kernel if the test binary dies, its output
// kept for failure messages, and stopped by its own pid.
package proc

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// maxLogBytes bounds the output kept per process; the tail is what
// explains a failure.
const maxLogBytes = 1 << 20

// Process is a running child process. Its methods are safe for concurrent use.
type Process struct {
	cmd      *exec.Cmd
	logs     *tailBuffer
	done     chan struct{} // closed once the process has exited and been reaped
	stopOnce sync.Once
}

// Start starts bin with args in dir.
func Start(dir, bin string, args ...string) (*Process, error) {
	p := &Process{cmd: exec.Command(bin, args...), logs: &tailBuffer{max: maxLogBytes}, done: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	// A grandchild that outlives the child would hold the output pipe open
	// and block Wait; past this delay Wait closes it.
	p.cmd.WaitDelay = 2 * time.Second
	p.cmd.SysProcAttr = &syscall.SysProcAttr{
		// Own process group: a Ctrl-C aimed at the test's group does not
		// reach the child behind the harness's back.
		Setpgid: true,
		// The kernel kills the child if the test binary dies without
		// stopping it (timeout panic, SIGKILL).
		Pdeathsig: syscall.SIGKILL,
	}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the *thread* that started the child exits,
		// and the Go runtime may retire threads: start and reap the child
		// on a locked thread that lives exactly as long as it does.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := p.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = p.cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	return p, nil
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// State is how the process ended; nil while it runs.
func (p *Process) State() *os.ProcessState {
	select {
	case <-p.done:
		return p.cmd.ProcessState
	default:
		return nil
	}
}

// Logs returns the captured stdout and stderr: the last megabyte or so,
// preceded by a note when earlier output was dropped.
func (p *Process) Logs() string { return p.logs.String() }

// Tail returns the last n bytes or so of Logs.
func (p *Process) Tail(n int) string {
	l := p.logs.String()
	if len(l) > n {
		l = "[...]" + l[len(l)-n:]
	}
	return l
}

// Signal sends sig to the process (by its pid).
func (p *Process) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// ExitsWithin reports whether the process exits within d.
func (p *Process) ExitsWithin(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-p.done:
		return true
	case <-timer.C:
		return false
	}
}

// Stop sends sig, kills the process and its process group (its own, made
// at Start) if it has not exited after grace, and waits for it to exit.
// Only the first call acts; it reports whether the process had to be killed.
func (p *Process) Stop(sig syscall.Signal, grace time.Duration) (killed bool) {
	p.stopOnce.Do(func() {
		_ = p.Signal(sig)
		if !p.ExitsWithin(grace) {
			killed = true
			_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
			<-p.done
		}
	})
	return killed
}

// WaitForLog waits until the process has logged s, exited, or timeout
// passed.
func (p *Process) WaitForLog(s string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.logs.String(), s) {
		select {
		case <-p.done:
			return fmt.Errorf("exited (%s) before logging %q", p.cmd.ProcessState, s)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("did not log %q within %v", s, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// tailBuffer keeps the last max bytes or so written to it.
type tailBuffer struct {
	mu      sync.Mutex
	max     int
	buf     []byte
	dropped int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		// Drop down to half, not to max, so trimming is amortised over many writes.
		cut := len(b.buf) - b.max/2
		if i := bytes.IndexByte(b.buf[cut:], '\n'); i >= 0 {
			cut += i + 1
		}
		b.dropped += cut
		b.buf = append(b.buf[:0], b.buf[cut:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped == 0 {
		return string(b.buf)
	}
	return fmt.Sprintf("[... %d bytes of earlier output dropped ...]\n%s", b.dropped, b.buf)
}
