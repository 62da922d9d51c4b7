package sipstack

import (
	"embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lkgate/lkgate/internal/proc"
)

// The scenarios of shared/reference/sip, copied.
//
//go:embed testdata/*.xml
var scenarios embed.FS

// Scenarios sipp can play, as files in testdata.
const (
	// AnswerAndRefer answers, then accepts a REFER with 202 and a NOTIFY
	// whose sipfrag is PeerOptions.Notify (default "200 OK"), then waits
	// for BYE.
	AnswerAndRefer = "uas_refer.xml"
	// AnswerRefuseRefer answers, then answers a REFER with 403.
	AnswerRefuseRefer = "uas_refer_403.xml"
	// Busy rings, then answers 486 Busy Here.
	Busy = "uas_486.xml"
	// Decline rings, then answers 603 Decline.
	Decline = "uas_603.xml"
)

// PeerOptions tunes a Peer.
type PeerOptions struct {
	// Ring is how long the peer rings before answering (sipp -d).
	Ring time.Duration
	// Notify is the status line the NOTIFY of AnswerAndRefer reports.
	Notify string
}

// Peer is a sipp user agent server that plays one scenario for one call.
type Peer struct {
	// Addr is where it listens for SIP over UDP (127.0.0.1:port).
	Addr    string
	proc    *proc.Process
	logFile string
}

// StartPeer starts sipp playing scenario for one call (-m 1) and waits
// until it listens. Its process is stopped by pid when t ends.
func StartPeer(t testing.TB, scenario string, o PeerOptions) *Peer {
	t.Helper()
	bin, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatalf("sipstack: sipp not on PATH (run scripts/install-sip.sh): %v", err)
	}
	dir := t.TempDir()
	body, err := scenarios.ReadFile("testdata/" + scenario)
	if err != nil {
		t.Fatal(err)
	}
	sf := filepath.Join(dir, scenario)
	if err := os.WriteFile(sf, body, 0o600); err != nil {
		t.Fatal(err)
	}
	if o.Notify == "" {
		o.Notify = "200 OK"
	}
	port, err := quietPort(1)
	if err != nil {
		t.Fatalf("sipstack: %v", err)
	}
	// sipp binds its audio and video RTP ports (and their RTCP ports)
	// from -mp on, even for a scenario without media.
	media, err := quietPort(4)
	if err != nil {
		t.Fatalf("sipstack: %v", err)
	}
	p := &Peer{Addr: "127.0.0.1:" + strconv.Itoa(port), logFile: filepath.Join(dir, "actions.log")}
	args := []string{"-sf", sf, "-i", "127.0.0.1", "-p", strconv.Itoa(port),
		"-mp", strconv.Itoa(media), "-m", "1", "-nostdin",
		"-d", strconv.FormatInt(o.Ring.Milliseconds(), 10),
		"-trace_logs", "-log_file", p.logFile,
		"-timeout", "60s", "-timeout_error"}
	if scenario == AnswerAndRefer {
		// sipp refuses to set a variable the scenario does not declare.
		args = append(args, "-set", "notifycode", o.Notify)
	}
	p.proc, err = proc.Start(dir, bin, args...)
	if err != nil {
		t.Fatalf("sipstack: %v", err)
	}
	t.Cleanup(func() {
		stop(t, p.proc, syscall.SIGKILL)
		if t.Failed() {
			t.Logf("sipp %s output:\n%s\nactions:\n%s", scenario, p.proc.Tail(errLogTail), p.Actions())
		}
	})
	if err := waitUDP(port, p.proc); err != nil {
		t.Fatalf("sipstack: sipp: %v; output:\n%s", err, p.proc.Tail(errLogTail))
	}
	return p
}

// Wait waits up to d for sipp to finish its call and returns its exit code
// (0: the scenario ran to its end).
func (p *Peer) Wait(t testing.TB, d time.Duration) int {
	t.Helper()
	select {
	case <-p.proc.Done():
		return p.proc.State().ExitCode()
	case <-time.After(d):
		t.Fatalf("sipp still running after %v; output:\n%s", d, p.proc.Tail(errLogTail))
		return -1
	}
}

// Running reports whether sipp is still waiting for (or in) its call.
func (p *Peer) Running() bool {
	return p.proc.State() == nil
}

// Actions returns what the scenario's <log> actions wrote, such as
// "GOT REFER cseq=... Refer-To=...".
func (p *Peer) Actions() string {
	b, _ := os.ReadFile(p.logFile)
	return string(b)
}

// waitUDP waits until something listens on the UDP port of 127.0.0.1,
// reading /proc/net/udp: a UDP port cannot be probed from outside.
func waitUDP(port int, p *proc.Process) error {
	want := fmt.Sprintf("0100007F:%04X", port)
	deadline := time.Now().Add(readyTimeout)
	for {
		b, err := os.ReadFile("/proc/net/udp")
		if err != nil {
			return err
		}
		if strings.Contains(string(b), want) {
			return nil
		}
		select {
		case <-p.Done():
			return fmt.Errorf("exited (%s)", p.State())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not listening on UDP %d after %v", port, readyTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
