package main

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/lkgate/lkgate"
)

// countingLeases counts the round trips a shared-names Manager makes to
// its lease store, and the sweeps it completes.
type countingLeases struct {
	store  lkgate.LeaseStore
	calls  atomic.Int64
	sweeps atomic.Int64
}

func (c *countingLeases) Lease(ctx context.Context, name, tenant string, until, liveAfter time.Time) (string, error) {
	c.calls.Add(1)
	return c.store.Lease(ctx, name, tenant, until, liveAfter)
}

func (c *countingLeases) Renew(ctx context.Context, rooms map[string]string, until time.Time) error {
	c.calls.Add(1)
	return c.store.Renew(ctx, rooms, until)
}

func (c *countingLeases) RenewAfter(ctx context.Context, after, until time.Time) error {
	c.calls.Add(1)
	return c.store.RenewAfter(ctx, after, until)
}

func (c *countingLeases) LastSweep(ctx context.Context) (time.Time, error) {
	c.calls.Add(1)
	return c.store.LastSweep(ctx)
}

func (c *countingLeases) SetLastSweep(ctx context.Context, t time.Time) error {
	c.calls.Add(1)
	err := c.store.SetLastSweep(ctx, t)
	if err == nil {
		c.sweeps.Add(1)
	}
	return err
}
