package lkgatetest

import (
	"sync"
	"time"
)

// Clock is a settable clock for tests of time-bound behaviour (token
// expiry, rates, leases, webhook windows): pass its Now as lkgate's
// Config.Now, or to Server.SetClock, and Advance it instead of sleeping.
// It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
