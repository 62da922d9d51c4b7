package forward

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// markReady puts q in the round of ready tenants if it has an event
// queued and a worker to spare. f.mu is held.
func (f *Forwarder) markReady(q *tenantQueue) {
	if !q.inReady && len(q.queue) > 0 && q.inFlight < f.cfg.TenantWorkers {
		q.inReady = true
		f.ready = append(f.ready, q)
		f.work.Signal()
	}
}

// forget releases a held event of q. f.mu is held.
func (f *Forwarder) forget(q *tenantQueue) {
	q.held--
	f.held--
	if q.held == 0 {
		delete(f.tenants, q.name)
	}
	f.checkDrained()
}

func (f *Forwarder) checkDrained() {
	if f.closed && f.held == 0 {
		select {
		case <-f.drained:
		default:
			close(f.drained)
		}
	}
}

// next takes the next delivery, tenants served in turn; nil once the
// Forwarder stops.
func (f *Forwarder) next() (*delivery, *tenantQueue) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		if f.stopping {
			return nil, nil
		}
		if len(f.ready) > 0 {
			q := f.ready[0]
			f.ready = f.ready[1:]
			q.inReady = false
			d := q.queue[0]
			q.queue = q.queue[1:]
			q.inFlight++
			f.markReady(q)
			return d, q
		}
		f.work.Wait()
	}
}

func (f *Forwarder) worker() {
	defer f.wg.Done()
	for {
		d, q := f.next()
		if d == nil {
			return
		}
		f.done(d, q, f.attempt(d))
		f.failures.Flush(f.ctx)
	}
}

// done records an attempt's outcome: d is released, or scheduled for a
// retry.
func (f *Forwarder) done(d *delivery, q *tenantQueue, o outcome) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q.inFlight--
	switch {
	case o == delivered:
		f.stats.Delivered++
	case o == unrouted:
		f.stats.Unrouted++
	case o == retry && f.stopping:
		f.stats.Dropped++
	case o == retry:
		f.retries[d] = time.AfterFunc(f.backoff(d.attempts), func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			if _, ok := f.retries[d]; !ok {
				return // abandoned by Close
			}
			delete(f.retries, d)
			q.queue = append(q.queue, d)
			f.markReady(q)
		})
		f.markReady(q)
		return
	default:
		f.stats.Failed++
	}
	f.forget(q)
	f.markReady(q)
}

// backoff is the delay after the n-th attempt: Backoff doubled n-1 times,
// capped at MaxBackoff, drawn between half of it and all of it, so that
// the retries of many events spread out.
func (f *Forwarder) backoff(n int) time.Duration {
	d := f.cfg.MaxBackoff
	if n-1 < 30 {
		d = min(f.cfg.Backoff<<(n-1), f.cfg.MaxBackoff)
	}
	return d/2 + rand.N(d/2+1)
}

type outcome int

const (
	failed outcome = iota
	retry
	delivered
	unrouted
)

// again is the outcome of a failure that is retried unless it was the
// last attempt.
func again(last bool) outcome {
	if last {
		return failed
	}
	return retry
}

// attempt sends d once.
func (f *Forwarder) attempt(d *delivery) outcome {
	d.attempts++
	if d.attempts > 1 {
		f.mu.Lock()
		f.stats.Retries++
		f.mu.Unlock()
	}
	tenant, event := slog.String("tenant", d.tenant), slog.String("event", d.id)
	target, secret, ok := f.cfg.Endpoint(d.tenant)
	if !ok {
		return unrouted
	}
	if len(secret) == 0 {
		f.failures.Failure(f.ctx, slog.LevelError, "forward: event not sent", "no_secret", errors.New("the tenant's endpoint has an empty secret"), tenant, event)
		return failed
	}
	ctx, cancel := context.WithTimeout(f.ctx, f.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(d.body))
	if err != nil || (req.URL.Scheme != "http" && req.URL.Scheme != "https") {
		f.failures.Failure(f.ctx, slog.LevelError, "forward: event not sent", "bad_url", errors.New("the tenant's URL is not an http(s) URL"), tenant, event)
		return failed
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "lkgate-forward")
	req.Header.Set(EventIDHeader, d.id)
	req.Header.Set(SignatureHeader, Sign(secret, d.body, time.Now()))
	res, err := f.client.Do(req)
	last := d.attempts >= f.cfg.Attempts
	attempt := slog.Int("attempt", d.attempts)
	if err != nil {
		f.failures.Failure(f.ctx, slog.LevelWarn, "forward: delivery failed", "network", withoutAddress(err), tenant, event, attempt, slog.Bool("given_up", last))
		return again(last)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 4<<10))
	res.Body.Close()
	switch code := res.StatusCode; {
	case code >= 200 && code < 300:
		return delivered
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		f.failures.Failure(f.ctx, slog.LevelWarn, "forward: delivery failed", "status_"+strconv.Itoa(code), errors.New(res.Status), tenant, event, attempt, slog.Bool("given_up", last))
		return again(last)
	default:
		f.failures.Failure(f.ctx, slog.LevelWarn, "forward: delivery refused", "status_"+strconv.Itoa(code), errors.New(res.Status), tenant, event, attempt)
		return failed
	}
}

// withoutAddress is err without the tenant's URL or address, which
// net/http's errors carry.
func withoutAddress(err error) error {
	var op *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return errors.New("timed out")
	case errors.As(err, &op):
		return fmt.Errorf("%s: %w", op.Op, op.Err)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}
