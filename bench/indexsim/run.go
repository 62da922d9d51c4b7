package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/redislimit"
)

// run is one simulation and what it measured.
type run struct {
	s                     *stream
	x                     *redislimit.RoomIndex
	client                *redis.Client
	workers, sweepWorkers int

	truth        map[string][]lkgate.IndexedRoom
	baseMemory   int64
	driveTime    time.Duration
	eventLatency []time.Duration // a sample of Started and Finished calls
	before       indexError      // after the stream, before reconciliation
	reconciled   lkgate.ReconcileResult
	sweepTime    time.Duration
	slowestSweep time.Duration // one tenant's Reconcile
	slowestOf    string
	after        indexError
	memory       memoryUse
	rooms        []roomsLatency
	tenantsTime  time.Duration
	tenantsCount int
	redisVersion string
}

// indexError compares the index with the truth.
type indexError struct {
	missing       int // alive rooms the index lacks
	stale         int // entries of rooms not alive
	wrongSession  int // entries of an alive room under another session
	extraTenants  int // tenants in Tenants without a room alive (stale entries only)
	absentTenants int // tenants with a room alive missing from Tenants
}

func (r *run) all(ctx context.Context) error {
	r.truth = r.s.truth()
	info, err := r.client.InfoMap(ctx, "server").Result()
	if err != nil {
		return err
	}
	r.redisVersion = "redis-server " + info["Server"]["redis_version"]
	if r.baseMemory, err = usedMemory(ctx, r.client); err != nil {
		return err
	}
	progress(fmt.Sprintf("driving %d deliveries with %d workers", len(r.s.deliveries), r.workers))
	if err := r.drive(ctx); err != nil {
		return err
	}
	progress("comparing the index with the truth")
	if r.before, err = r.compare(ctx); err != nil {
		return err
	}
	progress(fmt.Sprintf("reconciling %d tenants", len(r.truth)))
	if err := r.sweep(ctx); err != nil {
		return err
	}
	if r.after, err = r.compare(ctx); err != nil {
		return err
	}
	progress("measuring memory")
	if r.memory, err = measureMemory(ctx, r.client, r.baseMemory); err != nil {
		return err
	}
	progress("measuring Rooms latency")
	return r.latency(ctx)
}

// drive hands the deliveries, in order, to concurrent workers, each
// taking the next few.
func (r *run) drive(ctx context.Context) error {
	const take = 16
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, r.workers)
	samples := make([][]time.Duration, r.workers)
	start := time.Now()
	for w := range r.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(take)) - take
				if i >= len(r.s.deliveries) {
					return
				}
				for j, d := range r.s.deliveries[i:min(i+take, len(r.s.deliveries))] {
					tenant, room := r.s.room(d.sess)
					t := time.Now()
					var err error
					if d.finished {
						err = r.x.Finished(ctx, tenant, room)
					} else {
						err = r.x.Started(ctx, tenant, room)
					}
					if err != nil {
						errs <- err
						return
					}
					if (i+j)%8 == 0 {
						samples[w] = append(samples[w], time.Since(t))
					}
				}
			}
		}()
	}
	wg.Wait()
	r.driveTime = time.Since(start)
	close(errs)
	for _, s := range samples {
		r.eventLatency = append(r.eventLatency, s...)
	}
	return <-errs
}

// compare reads every tenant's entries (those with rooms alive and those
// Tenants names) and counts how they differ from the truth.
func (r *run) compare(ctx context.Context) (indexError, error) {
	var e indexError
	listed, err := r.x.Tenants(ctx)
	if err != nil {
		return e, err
	}
	tenants := map[string]bool{}
	for _, t := range listed {
		tenants[t] = true
		if len(r.truth[t]) == 0 {
			e.extraTenants++
		}
	}
	for t := range r.truth {
		if !tenants[t] {
			e.absentTenants++
			tenants[t] = true
		}
	}
	var mu sync.Mutex
	err = r.each(ctx, slices.Collect(maps.Keys(tenants)), r.workers, func(ctx context.Context, tenant string) error {
		got, err := r.x.Rooms(ctx, tenant)
		if err != nil {
			return err
		}
		want := make(map[string]string, len(r.truth[tenant]))
		for _, w := range r.truth[tenant] {
			want[w.Name] = w.SID
		}
		var d indexError
		seen := 0
		for _, g := range got {
			switch sid, ok := want[g.Name]; {
			case !ok:
				d.stale++
			case sid != g.SID:
				d.wrongSession++
				seen++
			default:
				seen++
			}
		}
		d.missing = len(want) - seen
		mu.Lock()
		e.missing += d.missing
		e.stale += d.stale
		e.wrongSession += d.wrongSession
		mu.Unlock()
		return nil
	})
	return e, err
}

// sweep reconciles every tenant (with rooms alive, or in Tenants) against
// the truth, as a periodic sweep would against a full LiveKit list read
// at the end of the stream.
func (r *run) sweep(ctx context.Context) error {
	listed, err := r.x.Tenants(ctx)
	if err != nil {
		return err
	}
	tenants := map[string]bool{}
	for _, t := range listed {
		tenants[t] = true
	}
	for t := range r.truth {
		tenants[t] = true
	}
	before := r.s.epoch.Add(time.Duration(r.s.horizon) * time.Second)
	var mu sync.Mutex
	start := time.Now()
	err = r.each(ctx, slices.Collect(maps.Keys(tenants)), r.sweepWorkers, func(ctx context.Context, tenant string) error {
		t := time.Now()
		res, err := r.x.Reconcile(ctx, tenant, r.truth[tenant], before)
		if err != nil {
			return err
		}
		took := time.Since(t)
		mu.Lock()
		r.reconciled.Added += res.Added
		r.reconciled.Removed += res.Removed
		if took > r.slowestSweep {
			r.slowestSweep, r.slowestOf = took, tenant
		}
		mu.Unlock()
		return nil
	})
	r.sweepTime = time.Since(start)
	return err
}

// each runs f for every tenant on n workers; the first error stops it.
func (r *run) each(ctx context.Context, tenants []string, n int, f func(context.Context, string) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var first atomic.Pointer[error]
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for first.Load() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(tenants) {
					return
				}
				if err := f(ctx, tenants[i]); err != nil {
					first.CompareAndSwap(nil, &err)
				}
			}
		}()
	}
	wg.Wait()
	if err := first.Load(); err != nil {
		return *err
	}
	return nil
}

// roomsLatency is Rooms of one tenant, called repeatedly.
type roomsLatency struct {
	which    string
	tenant   string
	rooms    int
	p50, p99 time.Duration
	calls    int
}

// latency times Rooms for the smallest, the median and the largest
// tenant, on one connection at a time, and Tenants.
func (r *run) latency(ctx context.Context) error {
	type sized struct {
		tenant string
		n      int
	}
	var all []sized
	for t, rs := range r.truth {
		all = append(all, sized{t, len(rs)})
	}
	sort.Slice(all, func(i, j int) bool {
		return all[i].n < all[j].n || all[i].n == all[j].n && all[i].tenant < all[j].tenant
	})
	picks := []struct {
		which string
		s     sized
	}{{"smallest", all[0]}, {"median", all[len(all)/2]}, {"largest", all[len(all)-1]}}
	for _, p := range picks {
		var ds []time.Duration
		deadline := time.Now().Add(5 * time.Second)
		for len(ds) < 1000 && (len(ds) < 20 || time.Now().Before(deadline)) {
			t := time.Now()
			got, err := r.x.Rooms(ctx, p.s.tenant)
			if err != nil {
				return err
			}
			ds = append(ds, time.Since(t))
			if len(got) != p.s.n {
				return fmt.Errorf("Rooms(%s): %d rooms after reconciliation, want %d", p.s.tenant, len(got), p.s.n)
			}
		}
		p50, p99 := percentiles(ds)
		r.rooms = append(r.rooms, roomsLatency{which: p.which, tenant: p.s.tenant, rooms: p.s.n, p50: p50, p99: p99, calls: len(ds)})
	}
	t := time.Now()
	ts, err := r.x.Tenants(ctx)
	r.tenantsTime, r.tenantsCount = time.Since(t), len(ts)
	return err
}

// percentiles returns the p50 and p99 of ds, which it sorts.
func percentiles(ds []time.Duration) (time.Duration, time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	slices.Sort(ds)
	return ds[len(ds)/2], ds[min(len(ds)-1, len(ds)*99/100)]
}
