package lkgate

import (
	"context"
	"sync"
)

// Locker serialises room claims so that exactly one tenant wins a room.
// Implementations must be safe for concurrent use.
type Locker interface {
	// Lock blocks until it holds the lock named key, or until ctx ends, in
	// which case it returns ctx's error. The returned unlock releases the
	// lock; it must be called exactly once.
	Lock(ctx context.Context, key string) (unlock func(), err error)
}

// NewLocalLocker returns a Locker for one process: exactly one holder per
// key among the Managers of this process. Several replicas need a Locker
// shared between them.
func NewLocalLocker() Locker {
	return &localLocker{held: make(map[string]*localLock)}
}

type localLocker struct {
	mu   sync.Mutex
	held map[string]*localLock
}

// localLock is a one-slot semaphore; waiters counts holders and waiters so
// the entry is dropped when nobody needs it.
type localLock struct {
	slot    chan struct{}
	waiters int
}

func (l *localLocker) Lock(ctx context.Context, key string) (func(), error) {
	l.mu.Lock()
	lk := l.held[key]
	if lk == nil {
		lk = &localLock{slot: make(chan struct{}, 1)}
		l.held[key] = lk
	}
	lk.waiters++
	l.mu.Unlock()

	select {
	case lk.slot <- struct{}{}:
	case <-ctx.Done():
		l.release(key, lk, false)
		return nil, ctx.Err()
	}
	var once sync.Once
	return func() { once.Do(func() { l.release(key, lk, true) }) }, nil
}

func (l *localLocker) release(key string, lk *localLock, held bool) {
	if held {
		<-lk.slot
	}
	l.mu.Lock()
	lk.waiters--
	if lk.waiters == 0 {
		delete(l.held, key)
	}
	l.mu.Unlock()
}
