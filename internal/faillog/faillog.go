// Package faillog writes failure lines at a bounded rate. While LiveKit
// or a store is down every request fails the same way, and a line for
// each (138,000 WARN lines in a 15 s LiveKit outage under load, measured)
// buries everything else. The first failure of a kind is logged at once;
// the ones that follow within Interval are counted, and one summary line
// per kind and interval reports their number and the last one. Summaries
// are written by the next failure of their kind or by Flush: no goroutine
// or timer, so nothing outlives its user.
package faillog

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Interval is the longest a kind of failure goes without a line while it
// keeps failing, and the shortest between two of its lines.
const Interval = 10 * time.Second

// Log aggregates failure lines by kind: a message and a class of error
// (such as "operation failed" and "livekit_unavailable"), a small set
// fixed by the code, never by a request. It is safe for concurrent use.
type Log struct {
	log    *slog.Logger
	now    func() time.Time
	redact func(string) string

	mu      sync.Mutex
	windows map[kind]*window
	// pending counts the windows holding failures not yet logged, so that
	// Flush costs one atomic load while nothing is.
	pending atomic.Int64
}

type kind struct{ msg, class string }

// window is the Interval that follows a kind's last line.
type window struct {
	start, end time.Time
	// counted failures since start, not logged yet, and the last of them.
	counted int
	level   slog.Level
	err     string
	attrs   []slog.Attr
}

// New returns a Log writing to log, timed by now, that passes every error
// text through redact before it is written.
func New(log *slog.Logger, now func() time.Time, redact func(string) string) *Log {
	return &Log{log: log, now: now, redact: redact, windows: map[kind]*window{}}
}

// Failure logs err under msg (class distinguishes kinds of error under
// one message): at once if no line of its kind was written within
// Interval, otherwise as part of the kind's next summary line, which
// carries "repeated" (how many failures it stands for), "since" and the
// last failure's error and attrs.
func (l *Log) Failure(ctx context.Context, level slog.Level, msg, class string, err error, attrs ...slog.Attr) {
	if !l.log.Enabled(ctx, level) {
		return
	}
	text := l.redact(err.Error())
	now := l.now()
	k := kind{msg, class}
	l.mu.Lock()
	w := l.windows[k]
	var quiet *window // an interval to report before this failure
	if w != nil && w.counted > 0 && !now.Before(w.end) {
		done := *w
		if now.Before(w.end.Add(Interval)) {
			// Still failing: report the interval, and count this failure in
			// the next summary rather than log it alone.
			*w = window{start: now, end: now.Add(Interval), counted: 1, level: level, err: text, attrs: attrs}
			l.mu.Unlock()
			l.summary(ctx, k, done)
			return
		}
		// Failing again after a quiet interval: report the old one, and
		// this failure at once.
		l.pending.Add(-1)
		quiet = &done
	}
	if w == nil || !now.Before(w.end) {
		l.windows[k] = &window{start: now, end: now.Add(Interval)}
		l.mu.Unlock()
		if quiet != nil {
			l.summary(ctx, k, *quiet)
		}
		l.log.LogAttrs(ctx, level, msg, slices.Concat(attrs, []slog.Attr{slog.String("error", text)})...)
		return
	}
	if w.counted == 0 {
		l.pending.Add(1)
	}
	w.counted++
	w.level, w.err, w.attrs = level, text, attrs
	l.mu.Unlock()
}

// Flush writes the summary of every kind whose interval has ended with
// failures counted. A Log also flushes a kind on its next failure; a
// caller that sees every request calls Flush on each, so that the last
// summary of an outage is written as soon as its interval ends.
func (l *Log) Flush(ctx context.Context) {
	if l.pending.Load() == 0 {
		return
	}
	now := l.now()
	type line struct {
		k kind
		w window
	}
	var due []line
	l.mu.Lock()
	for k, w := range l.windows {
		if w.counted > 0 && !now.Before(w.end) {
			due = append(due, line{k, *w})
			*w = window{start: now, end: now.Add(Interval)}
			l.pending.Add(-1)
		}
	}
	l.mu.Unlock()
	for _, d := range due {
		l.summary(ctx, d.k, d.w)
	}
}

func (l *Log) summary(ctx context.Context, k kind, w window) {
	attrs := slices.Concat(w.attrs, []slog.Attr{slog.String("error", w.err), slog.Int("repeated", w.counted), slog.Time("since", w.start)})
	l.log.LogAttrs(ctx, w.level, k.msg, attrs...)
}
