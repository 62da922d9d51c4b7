package main

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// result is one operation's figures.
type result struct {
	name          string
	requests      int
	rps           float64
	p50, p99      time.Duration
	callsPerReq   float64
	storePerReq   float64 // lease-store calls (shared names) or ban-store calls (the Redis bans row)
	countsStore   bool
	allocsPerReq  float64
	cpuPerReq     time.Duration
	failedRequest error
}

func (r result) String() string {
	if r.failedRequest != nil {
		return fmt.Sprintf("| %s | failed: %v |", r.name, r.failedRequest)
	}
	store := ""
	if r.countsStore {
		store = fmt.Sprintf("%.2f", r.storePerReq)
	}
	return fmt.Sprintf("| %s | %.0f | %s | %s | %.2f | %s | %.0f | %s |", r.name, r.rps,
		ms(r.p50), ms(r.p99), r.callsPerReq, store, r.allocsPerReq, r.cpuPerReq.Round(time.Microsecond))
}

// ms prints a latency in milliseconds with three significant digits.
func ms(d time.Duration) string {
	f := float64(d) / float64(time.Millisecond)
	switch {
	case f < 0.1:
		return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
	case f < 10:
		return fmt.Sprintf("%.2f ms", f)
	case f < 100:
		return fmt.Sprintf("%.1f ms", f)
	}
	return fmt.Sprintf("%.0f ms", f)
}

// drive runs do from b.workers goroutines for b.duration, counting v's
// LiveKit and lease-store calls. do gets a per-request sequence number and
// returns the HTTP request to send.
func (b *bench) drive(name string, v *variant, do func(i int) *http.Request) result {
	return b.driveFor(b.duration, name, v, do)
}

// driveFor is drive for d.
func (b *bench) driveFor(d time.Duration, name string, v *variant, do func(i int) *http.Request) result {
	log.Printf("bench: driving %s", name)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: b.workers * 2}}
	if b.inProcess {
		client = &http.Client{Transport: handlerTransport{b.mux}}
	}
	defer client.CloseIdleConnections()
	var seq atomic.Int64
	var mu sync.Mutex
	var latencies []time.Duration
	var firstErr error
	v.calls.Store(0)
	v.resetStore()
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	cpu0 := cpuTime()
	start := time.Now()
	var wg sync.WaitGroup
	for range b.workers {
		wg.Go(func() {
			var mine []time.Duration
			for time.Since(start) < d {
				req := do(int(seq.Add(1)))
				t0 := time.Now()
				res, err := client.Do(req)
				if err == nil {
					if res.StatusCode != http.StatusOK {
						err = fmt.Errorf("%s %s: status %d", req.Method, req.URL.Path, res.StatusCode)
					}
					res.Body.Close()
				}
				mine = append(mine, time.Since(t0))
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&ms1)
	if firstErr != nil {
		return result{name: name, failedRequest: firstErr}
	}
	n := len(latencies)
	slices.Sort(latencies)
	r := result{
		name: name, requests: n, rps: float64(n) / elapsed.Seconds(),
		p50: latencies[n/2], p99: latencies[n*99/100],
		callsPerReq:  float64(v.calls.Load()) / float64(n),
		allocsPerReq: float64(ms1.Mallocs-ms0.Mallocs) / float64(n),
		cpuPerReq:    cpu / time.Duration(n),
	}
	if calls, ok := v.storeCalls(); ok {
		r.countsStore = true
		r.storePerReq = float64(calls) / float64(n)
	}
	return r
}

// resetStore zeroes v's count of lease-store or ban-store calls.
func (v *variant) resetStore() {
	if v.leases != nil {
		v.leases.calls.Store(0)
	}
	if v.bans != nil {
		v.bans.calls.Store(0)
	}
}

// storeCalls returns v's lease-store or ban-store calls since resetStore,
// and whether v counts them.
func (v *variant) storeCalls() (int64, bool) {
	switch {
	case v.leases != nil:
		return v.leases.calls.Load(), true
	case v.bans != nil:
		return v.bans.calls.Load(), true
	}
	return 0, false
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// handlerTransport answers a request by calling the handler in process:
// the same request through the same mux and handlers, without a socket,
// the HTTP server or the client's connection handling.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	return rec.Result(), nil
}
