package lkgate

import (
	"context"
	"sync"
	"time"
)

// deadlineCtx is a context that behaves as context.WithDeadline(parent,
// deadline), but starts that context, and its timer, only once something
// could tell the difference: Done, or Err or Value once it has ended (by
// the clock, the parent or cancel). An operation that waits on nothing,
// such as a token that needs no call, reads its deadline and pays no
// timer.
type deadlineCtx struct {
	parent   context.Context
	deadline time.Time

	mu       sync.Mutex
	started  context.Context // nil until needed
	stop     context.CancelFunc
	canceled bool
}

// newDeadlineCtx returns parent bounded by deadline; its cancel method is the
// context's cancel function.
func newDeadlineCtx(parent context.Context, deadline time.Time) *deadlineCtx {
	return &deadlineCtx{parent: parent, deadline: deadline}
}

// Deadline is the earlier of the parent's deadline and its own.
func (b *deadlineCtx) Deadline() (time.Time, bool) {
	if d, ok := b.parent.Deadline(); ok && d.Before(b.deadline) {
		return d, true
	}
	return b.deadline, true
}

// Done starts the context.
func (b *deadlineCtx) Done() <-chan struct{} { return b.ctx(true).Done() }

// Err is nil until the context has ended.
func (b *deadlineCtx) Err() error {
	if c := b.ctx(false); c != nil {
		return c.Err()
	}
	return nil
}

// Value is the started context's value, or until then the parent's, which
// a context that has not ended and holds no value of its own shares.
func (b *deadlineCtx) Value(key any) any {
	if c := b.ctx(false); c != nil {
		return c.Value(key)
	}
	return b.parent.Value(key)
}

// ctx returns the started context, starting it when asked to or when it
// has ended already; otherwise nil.
func (b *deadlineCtx) ctx(start bool) context.Context {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.started == nil && (start || b.canceled || b.parent.Err() != nil || !time.Now().Before(b.deadline)) {
		b.started, b.stop = context.WithDeadline(b.parent, b.deadline)
		if b.canceled {
			b.stop()
		}
	}
	return b.started
}

// cancel is the context's cancel function.
func (b *deadlineCtx) cancel() {
	b.mu.Lock()
	b.canceled = true
	stop := b.stop
	b.mu.Unlock()
	if stop != nil {
		stop()
	}
}
