package proc

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestTailBufferIsBounded(t *testing.T) {
	b := &tailBuffer{max: 1000}
	line := strings.Repeat("x", 99) + "\n"
	for range 100 {
		b.Write([]byte(line))
	}
	got := b.String()
	if len(got) > 1100 || !strings.HasPrefix(got, "[... ") || !strings.HasSuffix(got, line) {
		t.Errorf("tail buffer holds %d bytes: %.80q...", len(got), got)
	}
}

func TestStopKillsWhatIgnoresTheSignal(t *testing.T) {
	p, err := Start(t.TempDir(), "sh", "-c", "trap '' TERM; echo ready; sleep 30")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitForLog("ready", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if !p.Stop(syscall.SIGTERM, 100*time.Millisecond) {
		t.Error("a process ignoring SIGTERM was not killed")
	}
	if p.State() == nil {
		t.Error("Stop returned before the process was reaped")
	}
	if p.Stop(syscall.SIGTERM, time.Millisecond) {
		t.Error("a second Stop acted again")
	}
}

func TestWaitForLogReportsExit(t *testing.T) {
	p, err := Start(t.TempDir(), "sh", "-c", "echo bye")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitForLog("never", 5*time.Second); err == nil || !strings.Contains(err.Error(), "exited") {
		t.Errorf("WaitForLog on an exited process: %v", err)
	}
}
