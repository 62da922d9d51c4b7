// Command bench measures lkgate's HTTP handlers against a real livekit-server
// and, in the same run, the naive flow a typical wrapper uses for the token
// route (list the room, create it, list again, write the owner, then mint).
// For each operation it reports requests per second, p50 and p99 latency,
// LiveKit round trips per request, allocations per request and CPU per
// request, then the ratio lkgate / naive, the handler's own share of a token
// request's CPU, and how listing scales with the number of rooms.
//
//	go run ./bench                      # starts .bin/livekit-server itself
//	go run ./bench -livekit http://127.0.0.1:7880 -key devkey -secret ...
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/twitchtv/twirp"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/internal/lkserver"
)

const apiKey = "bench-api-key-0123456789"

func main() {
	lkURL := flag.String("livekit", "", "LiveKit API URL; empty starts .bin/livekit-server on free loopback ports")
	key := flag.String("key", lkserver.APIKey, "LiveKit API key")
	secret := flag.String("secret", lkserver.APISecret, "LiveKit API secret")
	duration := flag.Duration("duration", 3*time.Second, "how long each operation is driven")
	workers := flag.Int("c", 16, "concurrent clients")
	scale := flag.String("scale", "10,1000,10000", "room counts for the listing scale test (empty to skip)")
	flag.Parse()

	if *lkURL == "" {
		srv, err := lkserver.Launch()
		if err != nil {
			log.Fatalf("bench: starting livekit-server: %v", err)
		}
		defer srv.Stop()
		*lkURL = srv.URL
	}
	b := newBench(*lkURL, *key, *secret, *duration, *workers)
	defer b.close()

	fmt.Printf("lkgate bench: %s, %d cores, %d concurrent clients, %s per operation, LiveKit at %s\n\n",
		runtime.Version(), runtime.NumCPU(), *workers, *duration, *lkURL)
	b.run()
	if *scale != "" {
		b.listingScale(*scale)
	}
}

// bench holds one lkgate handler and one naive handler on the same LiveKit,
// each with its own SDK client whose round trips are counted.
type bench struct {
	lkURL, key, secret string
	duration           time.Duration
	workers            int

	lkCalls, naiveCalls atomic.Int64
	api                 *httptest.Server
	admin               *lksdk.RoomServiceClient
	m                   *lkgate.Manager
}

func counting(n *atomic.Int64) twirp.ClientOption {
	return twirp.WithClientHooks(&twirp.ClientHooks{RequestPrepared: func(ctx context.Context, _ *http.Request) (context.Context, error) {
		n.Add(1)
		return ctx, nil
	}})
}

func newBench(lkURL, key, secret string, d time.Duration, workers int) *bench {
	b := &bench{lkURL: lkURL, key: key, secret: secret, duration: d, workers: workers}
	m, err := lkgate.New(lkgate.Config{URL: lkURL, APIKey: key, APISecret: secret,
		RoomService: countingRooms{RoomService: lkgate.NewRoomService(lkURL, key, secret), n: &b.lkCalls}})
	if err != nil {
		log.Fatal(err)
	}
	b.m = m
	keys, err := httpx.NewStaticKeys(httpx.StaticKeysConfig{Keys: map[string]httpx.Principal{apiKey: {Tenant: "acme"}}})
	if err != nil {
		log.Fatal(err)
	}
	h, err := httpx.New(m, httpx.Config{Authenticator: keys})
	if err != nil {
		log.Fatal(err)
	}
	governed, err := newGoverned(lkURL, key, secret, &b.lkCalls, keys)
	if err != nil {
		log.Fatal(err)
	}
	naive := &naiveHandler{rooms: lksdk.NewRoomServiceClient(lkURL, key, secret, counting(&b.naiveCalls)), key: key, secret: secret, url: lkURL}
	mux := http.NewServeMux()
	mux.Handle("/lkgate/", http.StripPrefix("/lkgate", h))
	mux.Handle("POST /naive/token", naive)
	mux.Handle("/governed/", http.StripPrefix("/governed", governed))
	b.api = httptest.NewServer(mux)
	b.admin = lksdk.NewRoomServiceClient(lkURL, key, secret)
	return b
}

func (b *bench) close() { b.api.Close() }

// result is one operation's figures.
type result struct {
	name          string
	requests      int
	rps           float64
	p50, p99      time.Duration
	callsPerReq   float64
	allocsPerReq  float64
	cpuPerReq     time.Duration
	failedRequest error
}

func (r result) String() string {
	if r.failedRequest != nil {
		return fmt.Sprintf("| %-32s | failed: %v |", r.name, r.failedRequest)
	}
	return fmt.Sprintf("| %-32s | %8.0f | %8s | %8s | %6.2f | %7.0f | %8s |", r.name, r.rps,
		r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), r.callsPerReq, r.allocsPerReq, r.cpuPerReq.Round(time.Microsecond))
}

// drive runs do from b.workers goroutines for b.duration. do gets a
// per-request sequence number and returns the HTTP request to send.
func (b *bench) drive(name string, calls *atomic.Int64, do func(i int) *http.Request) result {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: b.workers * 2}}
	var seq atomic.Int64
	var mu sync.Mutex
	var latencies []time.Duration
	var firstErr error
	calls.Store(0)
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
	return result{
		name: name, requests: n, rps: float64(n) / elapsed.Seconds(),
		p50: latencies[n/2], p99: latencies[n*99/100],
		callsPerReq:  float64(calls.Load()) / float64(n),
		allocsPerReq: float64(ms1.Mallocs-ms0.Mallocs) / float64(n),
		cpuPerReq:    cpu / time.Duration(n),
	}
}

func (b *bench) post(path, body string) *http.Request {
	req, _ := http.NewRequest("POST", b.api.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+apiKey)
	return req
}

func (b *bench) get(path string) *http.Request {
	req, _ := http.NewRequest("GET", b.api.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	return req
}

func tokenBody(room string, i int) string {
	return fmt.Sprintf(`{"room_name":%q,"participant_identity":"user-%d"}`, room, i)
}

func (b *bench) run() {
	const spread = 64
	ctx := context.Background()
	for i := range spread {
		if _, err := b.m.Token(ctx, "acme", lkgate.TokenRequest{Room: fmt.Sprintf("bench-room-%02d", i), Identity: "setup"}); err != nil {
			log.Fatalf("bench: claiming rooms: %v", err)
		}
	}
	results := []result{
		b.drive("token, lkgate, one owned room", &b.lkCalls, func(i int) *http.Request {
			return b.post("/lkgate/livekit/token", tokenBody("bench-room-00", i))
		}),
		b.drive("token, naive, one room", &b.naiveCalls, func(i int) *http.Request {
			return b.post("/naive/token", tokenBody("bench-room-00", i))
		}),
		b.drive("token, lkgate, 64 owned rooms", &b.lkCalls, func(i int) *http.Request {
			return b.post("/lkgate/livekit/token", tokenBody(fmt.Sprintf("bench-room-%02d", i%spread), i))
		}),
		b.drive("token, naive, 64 rooms", &b.naiveCalls, func(i int) *http.Request {
			return b.post("/naive/token", tokenBody(fmt.Sprintf("bench-room-%02d", i%spread), i))
		}),
		b.drive("token, governed, 64 owned rooms", &b.lkCalls, func(i int) *http.Request {
			return b.post("/governed/livekit/token", tokenBody(fmt.Sprintf("bench-room-%02d", i%spread), i))
		}),
		b.drive("list rooms", &b.lkCalls, func(int) *http.Request { return b.get("/lkgate/livekit/rooms") }),
		b.drive("room details", &b.lkCalls, func(i int) *http.Request {
			return b.get(fmt.Sprintf("/lkgate/livekit/rooms/bench-room-%02d", i%spread))
		}),
	}
	fmt.Println("| operation                        |    req/s |      p50 |      p99 | calls/req | allocs/req | CPU/req |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, r := range results {
		fmt.Println(r)
	}
	fmt.Println()
	ratio := func(a, n result) string {
		if a.failedRequest != nil || n.failedRequest != nil {
			return "n/a"
		}
		return fmt.Sprintf("%.2fx", a.rps/n.rps)
	}
	fmt.Printf("token throughput lkgate / naive: %s on one room (concurrent requests coalesce), %s over 64 rooms (no coalescing)\n",
		ratio(results[0], results[1]), ratio(results[2], results[3]))
	fmt.Printf("governance (room quota, token rate, JSON audit records, OpenTelemetry metrics) on the token path: %s CPU per request against %s without\n",
		results[4].cpuPerReq.Round(time.Microsecond), results[2].cpuPerReq.Round(time.Microsecond))
	b.burst()
	b.handlerShare()
}

// burst sends 100 concurrent token requests for one new room, 20 times, and
// reports LiveKit calls per burst: one ensure serves the whole burst.
func (b *bench) burst() {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
	var total int64
	var worst time.Duration
	const bursts = 20
	for n := range bursts {
		room := fmt.Sprintf("burst-%d-%d", time.Now().UnixNano(), n)
		b.lkCalls.Store(0)
		var wg sync.WaitGroup
		start := time.Now()
		for i := range 100 {
			wg.Go(func() {
				res, err := client.Do(b.post("/lkgate/livekit/token", tokenBody(room, i)))
				if err != nil || res.StatusCode != 200 {
					log.Fatalf("bench: burst request failed: %v %v", err, res)
				}
				res.Body.Close()
			})
		}
		wg.Wait()
		worst = max(worst, time.Since(start))
		total += b.lkCalls.Load()
	}
	fmt.Printf("burst of 100 concurrent token requests for a new room: %.1f LiveKit calls per burst (mean of %d), slowest burst %s\n",
		float64(total)/bursts, bursts, worst.Round(time.Microsecond))
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func init() {
	log.SetFlags(0)
	log.SetOutput(os.Stderr)
}
