package faillog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

type line struct {
	Msg      string
	Error    string
	Repeated int
	Since    time.Time
	Attempt  int
}

func lines(t *testing.T, buf *bytes.Buffer) []line {
	t.Helper()
	var out []line
	for _, raw := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if raw == "" {
			continue
		}
		var l line
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			t.Fatalf("%v: %s", err, raw)
		}
		out = append(out, l)
	}
	buf.Reset()
	return out
}

// An outage writes its first failure at once, then one line per Interval
// per kind with the count and the last error; after a quiet interval the
// next failure is written at once again.
func TestFailuresAreAggregatedPerKindAndInterval(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := New(slog.New(slog.NewJSONHandler(&buf, nil)), func() time.Time { return now }, strings.ToUpper)
	ctx := context.Background()
	fail := func(msg, class string, n int) {
		for i := range n {
			l.Failure(ctx, slog.LevelWarn, msg, class, fmt.Errorf("down %d", i), slog.Int("attempt", i))
		}
	}
	start := now
	fail("operation failed", "livekit_unavailable", 1000)
	fail("operation failed", "livekit_timeout", 3) // another kind: its own first line
	got := lines(t, &buf)
	if len(got) != 2 || got[0].Error != "DOWN 0" || got[0].Repeated != 0 || got[1].Error != "DOWN 0" {
		t.Fatalf("%d first lines (%.200v...), want one per kind, redacted", len(got), got)
	}

	now = now.Add(Interval) // the outage goes on
	fail("operation failed", "livekit_unavailable", 5)
	got = lines(t, &buf)
	if len(got) != 1 || got[0].Repeated != 999 || got[0].Error != "DOWN 999" || got[0].Attempt != 999 || !got[0].Since.Equal(start) {
		t.Fatalf("after an interval = %+v, want one summary of the 999 others, the last one's error", got)
	}
	// Flush writes what an interval counted once it has ended, without
	// waiting for the next failure: the timeout kind's 2, then the 5.
	l.Flush(ctx)
	if got = lines(t, &buf); len(got) != 1 || got[0].Repeated != 2 {
		t.Fatalf("flush = %+v, want the timeout kind's summary only", got)
	}
	now = now.Add(Interval)
	l.Flush(ctx)
	l.Flush(ctx)
	if got = lines(t, &buf); len(got) != 1 || got[0].Repeated != 5 || got[0].Error != "DOWN 4" {
		t.Fatalf("flush = %+v, want one summary of 5", got)
	}
	// Within the interval after a flush, failures are counted; a failure
	// after a quiet interval is written at once, after the summary of the
	// one that preceded it.
	fail("operation failed", "livekit_unavailable", 2)
	if got = lines(t, &buf); len(got) != 0 {
		t.Fatalf("%+v written within the interval", got)
	}
	now = now.Add(3 * Interval)
	fail("operation failed", "livekit_unavailable", 1)
	if got = lines(t, &buf); len(got) != 2 || got[0].Repeated != 2 || got[1].Repeated != 0 || got[1].Error != "DOWN 0" {
		t.Fatalf("after a quiet interval = %+v, want the summary of 2, then the failure", got)
	}
	// A logger that drops the level costs nothing and counts nothing.
	quiet := New(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelError})), func() time.Time { return now }, strings.ToUpper)
	quiet.Failure(ctx, slog.LevelWarn, "m", "", errors.New("x"))
	if buf.Len() != 0 || quiet.pending.Load() != 0 {
		t.Errorf("a disabled level wrote %q", buf.String())
	}
}

// Concurrent failures are counted once each: one line, then one summary
// of all the others.
func TestConcurrentFailuresAreCountedOnce(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	l := New(slog.New(slog.NewJSONHandler(&buf, nil)), clock, strings.ToUpper)
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				l.Failure(ctx, slog.LevelWarn, "operation failed", "livekit_unavailable", errors.New("down"))
				l.Flush(ctx)
			}
		})
	}
	wg.Wait()
	mu.Lock()
	now = now.Add(Interval)
	mu.Unlock()
	l.Flush(ctx)
	got := lines(t, &buf)
	if len(got) != 2 || got[1].Repeated != 7999 {
		t.Fatalf("%d lines (%.300v), want the first failure and a summary of 7999", len(got), got)
	}
}
