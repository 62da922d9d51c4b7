package main

import (
	"fmt"
	"net/http"
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
	leasesPerReq  float64
	countsLeases  bool
	allocsPerReq  float64
	cpuPerReq     time.Duration
	failedRequest error
}

func (r result) String() string {
	if r.failedRequest != nil {
		return fmt.Sprintf("| %s | failed: %v |", r.name, r.failedRequest)
	}
	leases := ""
	if r.countsLeases {
		leases = fmt.Sprintf("%.2f", r.leasesPerReq)
	}
	return fmt.Sprintf("| %s | %.0f | %s | %s | %.2f | %s | %.0f | %s |", r.name, r.rps,
		ms(r.p50), ms(r.p99), r.callsPerReq, leases, r.allocsPerReq, r.cpuPerReq.Round(time.Microsecond))
}

// ms prints a latency in milliseconds with three significant digits.
func ms(d time.Duration) string {
	f := float64(d) / float64(time.Millisecond)
	switch {
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
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: b.workers * 2}}
	defer client.CloseIdleConnections()
	var seq atomic.Int64
	var mu sync.Mutex
	var latencies []time.Duration
	var firstErr error
	v.calls.Store(0)
	if v.leases != nil {
		v.leases.calls.Store(0)
	}
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	cpu0 := cpuTime()
	start := time.Now()
	var wg sync.WaitGroup
	for range b.workers {
		wg.Go(func() {
			var mine []time.Duration
			for time.Since(start) < b.duration {
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
	if v.leases != nil {
		r.countsLeases = true
		r.leasesPerReq = float64(v.leases.calls.Load()) / float64(n)
	}
	return r
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
