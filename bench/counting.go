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

// countingBans counts the round trips a Manager makes to its ban store:
// with redislimit's, one Redis GET per token.
type countingBans struct {
	store lkgate.BanStore
	calls atomic.Int64
}

func (c *countingBans) Ban(ctx context.Context, tenant, room, identity string, until time.Time) error {
	c.calls.Add(1)
	return c.store.Ban(ctx, tenant, room, identity, until)
}

func (c *countingBans) Unban(ctx context.Context, tenant, room, identity string) error {
	c.calls.Add(1)
	return c.store.Unban(ctx, tenant, room, identity)
}

func (c *countingBans) BannedUntil(ctx context.Context, tenant, room, identity string, now time.Time) (time.Time, error) {
	c.calls.Add(1)
	return c.store.BannedUntil(ctx, tenant, room, identity, now)
}

func (c *countingBans) Bans(ctx context.Context, now time.Time) ([]lkgate.Ban, error) {
	c.calls.Add(1)
	return c.store.Bans(ctx, now)
}
