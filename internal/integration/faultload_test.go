package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// faultProxy is a TCP proxy on loopback between lkgate and LiveKit that
// plays a LiveKit in trouble: it delays every chunk of LiveKit's answers,
// or turns silent (takes connections, forwards nothing, as a host dropping
// packets). While LiveKit is down, it closes each connection it cannot
// forward.
type faultProxy struct {
	l      net.Listener
	target string
	delay  atomic.Int64 // time.Duration
	silent atomic.Bool
	mu     sync.Mutex
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
}

func startFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{l: l, target: strings.TrimPrefix(target, "http://"), conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.track(c, true)
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.serve(c)
			}()
		}
	}()
	return p
}

// URL is the proxy's address, for lkgate.Config.URL.
func (p *faultProxy) URL() string { return "http://" + p.l.Addr().String() }

// setDelay delays every chunk of LiveKit's answers by d (zero: none).
func (p *faultProxy) setDelay(d time.Duration) { p.delay.Store(int64(d)) }

// setSilent turns the proxy silent or back, dropping the connections it
// holds, so that the next calls see the new behaviour.
func (p *faultProxy) setSilent(silent bool) {
	p.silent.Store(silent)
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

func (p *faultProxy) track(c net.Conn, add bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
}

func (p *faultProxy) serve(c net.Conn) {
	defer p.track(c, false)
	defer c.Close()
	if p.silent.Load() {
		_, _ = io.Copy(io.Discard, c) // until the client gives up
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil || p.silent.Load() {
		return // LiveKit is down: the client sees the connection closed
	}
	p.track(up, true)
	defer p.track(up, false)
	defer up.Close()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		_, _ = io.Copy(up, c)
		up.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := up.Read(buf)
		if n > 0 {
			time.Sleep(time.Duration(p.delay.Load()))
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// close stops the proxy and waits for its goroutines.
func (p *faultProxy) close() {
	p.l.Close()
	p.setSilent(false)
	p.wg.Wait()
}

// answer is one request of the load: when it started, how long it took,
// its status (0: no answer) and its Retry-After.
type answer struct {
	at         time.Time
	took       time.Duration
	status     int
	retryAfter string
}

// load runs clients in a loop against an httpx server until stop: each
// asks for a token for its room (creating it: PrecreateRooms), the room's
// details (two LiveKit calls) and the tenant's room list, as the tenant of
// keys[i%len(keys)].
type load struct {
	mu       sync.Mutex
	answers  []answer
	inFlight map[int]time.Time // by client, when its request started
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	client   *http.Client
}

func startLoad(base string, keys []string, clients int) *load {
	ctx, cancel := context.WithCancel(context.Background())
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = clients
	l := &load{cancel: cancel, client: &http.Client{Transport: tr, Timeout: time.Minute}, inFlight: map[int]time.Time{}}
	for i := range clients {
		key, room := keys[i%len(keys)], fmt.Sprintf("load-%d", i)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				var req *http.Request
				switch n % 3 {
				case 0:
					body := fmt.Sprintf(`{"room_name":%q,"participant_identity":"u%d"}`, room, i)
					req, _ = http.NewRequestWithContext(ctx, "POST", base+"/livekit/token", bytes.NewBufferString(body))
					req.Header.Set("Content-Type", "application/json")
				case 1:
					req, _ = http.NewRequestWithContext(ctx, "GET", base+"/livekit/rooms/"+room, nil)
				default:
					req, _ = http.NewRequestWithContext(ctx, "GET", base+"/livekit/rooms", nil)
				}
				req.Header.Set("Authorization", "Bearer "+key)
				start := time.Now()
				l.mu.Lock()
				l.inFlight[i] = start
				l.mu.Unlock()
				res, err := l.client.Do(req)
				a := answer{at: start, took: time.Since(start)}
				if err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					a.status, a.retryAfter = res.StatusCode, res.Header.Get("Retry-After")
				} else if ctx.Err() != nil {
					return
				}
				l.mu.Lock()
				l.answers = append(l.answers, a)
				delete(l.inFlight, i)
				l.mu.Unlock()
			}
		}()
	}
	return l
}

// oldestInFlight returns how long the oldest request still unanswered has
// been waiting.
func (l *load) oldestInFlight() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var oldest time.Duration
	for _, start := range l.inFlight {
		oldest = max(oldest, time.Since(start))
	}
	return oldest
}

// stop ends the load and closes its connections.
func (l *load) stop() {
	l.cancel()
	l.wg.Wait()
	l.client.CloseIdleConnections()
}

// between returns the answers to requests started in [from, to).
func (l *load) between(from, to time.Time) []answer {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []answer
	for _, a := range l.answers {
		if !a.at.Before(from) && a.at.Before(to) {
			out = append(out, a)
		}
	}
	return out
}

// firstAfter returns the first answer with status started at or after
// from, and whether there is one.
func (l *load) firstAfter(from time.Time, status int) (answer, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first answer
	found := false
	for _, a := range l.answers {
		if a.status == status && !a.at.Before(from) && (!found || a.at.Add(a.took).Before(first.at.Add(first.took))) {
			first, found = a, true
		}
	}
	return first, found
}

// summary describes answers: count by status and answer times.
func summary(answers []answer) string {
	byStatus := map[int]int{}
	var took []time.Duration
	for _, a := range answers {
		byStatus[a.status]++
		took = append(took, a.took)
	}
	if len(took) == 0 {
		return "no answers"
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	return fmt.Sprintf("%d answers, by status %v; answer time p50 %s p99 %s max %s", len(answers), byStatus,
		took[len(took)/2].Round(time.Millisecond), took[len(took)*99/100].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
}

// lineCounter is a slog handler that counts lines by level and message.
type lineCounter struct {
	mu     *sync.Mutex
	counts map[string]int
}

func newLineCounter() lineCounter { return lineCounter{mu: &sync.Mutex{}, counts: map[string]int{}} }

func (c lineCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c lineCounter) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts[r.Level.String()+" "+r.Message]++
	return nil
}
func (c lineCounter) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c lineCounter) WithGroup(string) slog.Handler      { return c }

// take returns the counts so far and starts again from zero, leaving out
// the access log's "request" lines.
func (c lineCounter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.counts {
		if !strings.HasSuffix(k, " request") {
			out[k] = v
		}
	}
	clear(c.counts)
	return out
}
