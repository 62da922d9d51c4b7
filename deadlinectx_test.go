package lkgate

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

type ctxKey struct{}

// bounded is what a deadlineCtx must behave as: context.WithDeadline, or the
// deadlineCtx itself.
type bounded func(parent context.Context, deadline time.Time) (context.Context, context.CancelFunc)

var boundedKinds = []struct {
	name string
	make bounded
}{
	{"WithDeadline", context.WithDeadline},
	{"deadlineCtx", func(parent context.Context, deadline time.Time) (context.Context, context.CancelFunc) {
		b := newDeadlineCtx(parent, deadline)
		return b, b.cancel
	}},
}

// A deadlineCtx is observably context.WithDeadline: the same deadline, values,
// errors, causes and Done channel, whichever ends it (the clock, the
// parent, cancel) and whether or not Done was asked for first.
func TestDeadlineCtxBehavesAsWithDeadline(t *testing.T) {
	cause := errors.New("parent's cause")
	type ending struct {
		name string
		// end ends ctx (whose cancel is cancel, whose parent's is
		// cancelParent) and returns the error it must then report.
		end func(ctx context.Context, cancel context.CancelFunc, cancelParent context.CancelCauseFunc) error
		// short is the deadline's distance; long ones never pass.
		short bool
	}
	endings := []ending{
		{"the deadline passes", func(ctx context.Context, _ context.CancelFunc, _ context.CancelCauseFunc) error {
			time.Sleep(30 * time.Millisecond)
			return context.DeadlineExceeded
		}, true},
		{"the parent is canceled", func(_ context.Context, _ context.CancelFunc, cancelParent context.CancelCauseFunc) error {
			cancelParent(cause)
			return context.Canceled
		}, false},
		{"cancel", func(_ context.Context, cancel context.CancelFunc, _ context.CancelCauseFunc) error {
			cancel()
			return context.Canceled
		}, false},
	}
	for _, kind := range boundedKinds {
		for _, e := range endings {
			for _, doneFirst := range []bool{false, true} {
				name := kind.name + "/" + e.name
				if doneFirst {
					name += "/waited on"
				}
				t.Run(name, func(t *testing.T) {
					parent, cancelParent := context.WithCancelCause(context.WithValue(context.Background(), ctxKey{}, "v"))
					defer cancelParent(nil)
					distance := time.Hour
					if e.short {
						distance = 10 * time.Millisecond
					}
					deadline := time.Now().Add(distance)
					ctx, cancel := kind.make(parent, deadline)
					defer cancel()
					if d, ok := ctx.Deadline(); !ok || !d.Equal(deadline) {
						t.Errorf("Deadline() = %v, %t; want %v", d, ok, deadline)
					}
					if ctx.Value(ctxKey{}) != "v" || ctx.Err() != nil || context.Cause(ctx) != nil {
						t.Errorf("before its end: value %v, Err %v, Cause %v", ctx.Value(ctxKey{}), ctx.Err(), context.Cause(ctx))
					}
					// Waited on, or looked at only after its end.
					var done <-chan struct{}
					var child context.Context
					fired := make(chan struct{})
					watch := func() {
						done = ctx.Done()
						var cancelChild context.CancelFunc
						child, cancelChild = context.WithCancel(ctx)
						t.Cleanup(cancelChild)
						context.AfterFunc(ctx, func() { close(fired) })
					}
					if doneFirst {
						watch()
						select {
						case <-done:
							t.Fatal("Done is closed before the end")
						default:
						}
					}
					want := e.end(ctx, cancel, cancelParent)
					if err := ctx.Err(); err != want {
						t.Errorf("Err() = %v; want %v", err, want)
					}
					wantCause := want
					if e.name == "the parent is canceled" {
						wantCause = cause
					}
					if c := context.Cause(ctx); c != wantCause {
						t.Errorf("Cause = %v; want %v", c, wantCause)
					}
					if !doneFirst {
						watch()
					}
					for what, ch := range map[string]<-chan struct{}{"Done": done, "a child's Done": child.Done(), "AfterFunc": fired} {
						select {
						case <-ch:
						case <-time.After(5 * time.Second):
							t.Errorf("%s is not closed after the end", what)
						}
					}
					if ctx.Value(ctxKey{}) != "v" {
						t.Errorf("the value is lost after the end")
					}
				})
			}
		}
	}
}

// A parent's earlier deadline is the deadlineCtx's, as WithDeadline's.
func TestDeadlineCtxParentDeadline(t *testing.T) {
	early := time.Now().Add(time.Minute)
	parent, cancel := context.WithDeadline(context.Background(), early)
	defer cancel()
	for _, kind := range boundedKinds {
		ctx, cancel := kind.make(parent, early.Add(time.Hour))
		if d, _ := ctx.Deadline(); !d.Equal(early) {
			t.Errorf("%s: Deadline() = %v; want the parent's %v", kind.name, d, early)
		}
		cancel()
	}
}

// A deadlineCtx is safe for concurrent use, Done channels agreeing.
func TestDeadlineCtxConcurrent(t *testing.T) {
	b := newDeadlineCtx(context.Background(), time.Now().Add(5*time.Millisecond))
	var wg sync.WaitGroup
	dones := make([]<-chan struct{}, 8)
	for i := range dones {
		wg.Go(func() {
			_ = b.Err()
			_ = b.Value(ctxKey{})
			dones[i] = b.Done()
			<-dones[i]
			if i%2 == 0 {
				b.cancel()
			}
		})
	}
	wg.Wait()
	for _, d := range dones[1:] {
		if d != dones[0] {
			t.Fatal("Done returned different channels")
		}
	}
	if b.Err() != context.DeadlineExceeded {
		t.Errorf("Err() = %v", b.Err())
	}
}

// The point of a deadlineCtx: one nobody waits on costs no timer. Asking for
// its deadline, its values and its error before the end starts nothing.
func TestDeadlineCtxStartsOnlyWhenAsked(t *testing.T) {
	b := newDeadlineCtx(context.Background(), time.Now().Add(time.Hour))
	_, _ = b.Deadline()
	_ = b.Value(ctxKey{})
	_ = b.Err()
	b.cancel()
	if b.started != nil {
		t.Error("the deadlineCtx started its context without a reason")
	}
	if b.Err() != context.Canceled {
		t.Errorf("after cancel, Err() = %v", b.Err())
	}
}

// A deadlineCtx that ended by its deadline keeps that cause when its parent is
// canceled later with another, as WithDeadline does.
func TestDeadlineCtxKeepsItsCause(t *testing.T) {
	for _, kind := range boundedKinds {
		parent, cancelParent := context.WithCancelCause(context.Background())
		ctx, cancel := kind.make(parent, time.Now().Add(-time.Second))
		_ = ctx.Err()
		cancelParent(errors.New("later"))
		if c := context.Cause(ctx); c != context.DeadlineExceeded {
			t.Errorf("%s: Cause = %v; want %v", kind.name, c, context.DeadlineExceeded)
		}
		cancel()
	}
}
