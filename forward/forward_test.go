package forward_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/forward"
)

// receiver is a tenant's receiving server: it verifies every delivery with
// its secret and answers with status (200 unless set).
type receiver struct {
	*httptest.Server
	secret []byte
	status atomic.Int32
	hang   chan struct{} // when non-nil, requests wait for it to close
	mu     sync.Mutex
	got    []*livekit.WebhookEvent
	at     []time.Time // when each attempt arrived
	bad    []error
	events chan *livekit.WebhookEvent
}

func newReceiver(t *testing.T, secret string) *receiver {
	r := &receiver{secret: []byte(secret), events: make(chan *livekit.WebhookEvent, 1024)}
	r.status.Store(http.StatusOK)
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.at = append(r.at, time.Now())
	r.mu.Unlock()
	if r.hang != nil {
		select {
		case <-r.hang:
		case <-req.Context().Done():
		}
	}
	body, err := forward.Verify(req, r.secret, 0)
	ev := &livekit.WebhookEvent{}
	if err == nil {
		err = protojson.Unmarshal(body, ev)
	}
	if err == nil && req.Header.Get(forward.EventIDHeader) != ev.GetId() {
		err = fmt.Errorf("%s %q for event %q", forward.EventIDHeader, req.Header.Get(forward.EventIDHeader), ev.GetId())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.bad = append(r.bad, err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	status := int(r.status.Load())
	w.WriteHeader(status)
	if status/100 == 2 {
		r.got = append(r.got, ev)
		r.events <- ev
	}
}

// wait returns the next event the receiver accepted.
func (r *receiver) wait(t *testing.T, within time.Duration) *livekit.WebhookEvent {
	t.Helper()
	select {
	case ev := <-r.events:
		return ev
	case <-time.After(within):
		t.Fatalf("no event reached %s within %s", r.URL, within)
		return nil
	}
}

func (r *receiver) attempts() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.at...)
}

func (r *receiver) check(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, err := range r.bad {
		t.Errorf("receiver refused a delivery: %v", err)
	}
}

// endpoints routes each tenant to its receiver.
func endpoints(rs map[string]*receiver) func(string) (string, []byte, bool) {
	return func(tenant string) (string, []byte, bool) {
		r, ok := rs[tenant]
		if !ok {
			return "", nil, false
		}
		return r.URL, r.secret, true
	}
}

var eventSeq atomic.Int64

// joined is a participant_joined event of tenant's room as OnWebhook gets it.
func joined(t testing.TB, tenant, room, identity string) lkgate.WebhookEvent {
	return resolved(&livekit.WebhookEvent{
		Event: "participant_joined", Id: fmt.Sprintf("EV_%d", eventSeq.Add(1)), CreatedAt: time.Now().Unix(),
		Room:        &livekit.Room{Name: scoped(t, tenant, room), Metadata: `{"auth_id":"` + tenant + `"}`},
		Participant: &livekit.ParticipantInfo{Identity: identity, Attributes: map[string]string{lkgate.TenantAttribute: tenant}},
	})
}

func newForwarder(t *testing.T, cfg forward.Config) *forward.Forwarder {
	t.Helper()
	f, err := forward.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = f.Close(ctx)
	})
	return f
}

// Each tenant's receiver gets its own events, clean and verifiable, and
// nothing of another tenant's.
func TestDeliveriesAreSignedCleanAndPerTenant(t *testing.T) {
	acme, globex := newReceiver(t, "acme-secret"), newReceiver(t, "globex-secret")
	f := newForwarder(t, forward.Config{Endpoint: endpoints(map[string]*receiver{"acme": acme, "globex": globex})})
	start := time.Now()
	f.Forward(context.Background(), joined(t, "acme", "standup", "alice"))
	f.Forward(context.Background(), joined(t, "globex", "standup", "gina"))
	f.Forward(context.Background(), resolved(&livekit.WebhookEvent{Event: "room_started", Id: "EV_x", Room: &livekit.Room{Name: "unscoped"}}))
	f.Forward(context.Background(), joined(t, "initech", "standup", "ian")) // no endpoint
	for _, c := range []struct {
		r        *receiver
		identity string
	}{{acme, "alice"}, {globex, "gina"}} {
		ev := c.r.wait(t, 5*time.Second)
		if ev.GetRoom().GetName() != "standup" || ev.GetRoom().GetMetadata() != "" || ev.GetParticipant().GetIdentity() != c.identity || len(ev.GetParticipant().GetAttributes()) != 0 {
			t.Errorf("receiver got %v, want %s joining standup with no lkgate data", ev, c.identity)
		}
		c.r.check(t)
	}
	t.Logf("delivery latency (two tenants, loopback): %s", time.Since(start))
	if err := f.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := f.Stats(); s.Delivered != 2 || s.Unrouted != 1 || s.Failed != 0 || s.Dropped != 0 || s.Held != 0 {
		t.Errorf("Stats = %+v, want 2 delivered, 1 unrouted", s)
	}
	if n := len(acme.attempts()) + len(globex.attempts()); n != 2 {
		t.Errorf("%d requests reached the receivers, want 2 (the unscoped room's and initech's events go nowhere)", n)
	}
}

// A receiver that is down gets the event once it is back, after retries
// spaced by the backoff.
func TestReceiverDownThenUpGetsTheEvent(t *testing.T) {
	acme := newReceiver(t, "acme-secret")
	acme.status.Store(http.StatusServiceUnavailable)
	backoff := 20 * time.Millisecond
	f := newForwarder(t, forward.Config{Endpoint: endpoints(map[string]*receiver{"acme": acme}), Backoff: backoff, Attempts: 10})
	f.Forward(context.Background(), joined(t, "acme", "standup", "alice"))
	for len(acme.attempts()) < 3 {
		time.Sleep(time.Millisecond)
	}
	acme.status.Store(http.StatusOK)
	if ev := acme.wait(t, 5*time.Second); ev.GetParticipant().GetIdentity() != "alice" {
		t.Errorf("got %v", ev)
	}
	at := acme.attempts()
	for i := 1; i < len(at); i++ {
		// Attempt i waits Backoff·2^(i-1), drawn in [half, all].
		want := backoff << (i - 1)
		if gap := at[i].Sub(at[i-1]); gap < want/2 || gap > want+250*time.Millisecond {
			t.Errorf("retry %d came %s after the attempt before it, want %s to %s", i, gap, want/2, want)
		}
		t.Logf("retry %d after %s (backoff %s, jitter [%s, %s])", i, at[i].Sub(at[i-1]), backoff, want/2, want)
	}
	if err := f.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := f.Stats(); s.Delivered != 1 || s.Retries != uint64(len(at)-1) {
		t.Errorf("Stats = %+v, want 1 delivered after %d retries", s, len(at)-1)
	}
}

func TestStatusesThatAreNotRetried(t *testing.T) {
	for _, c := range []struct {
		status, attempts int
	}{{http.StatusBadRequest, 1}, {http.StatusGone, 1}, {http.StatusFound, 1}, {http.StatusRequestTimeout, 3}, {http.StatusTooManyRequests, 3}, {http.StatusBadGateway, 3}} {
		r := newReceiver(t, "s")
		r.status.Store(int32(c.status))
		f := newForwarder(t, forward.Config{Endpoint: endpoints(map[string]*receiver{"acme": r}), Backoff: time.Millisecond, Attempts: 3})
		f.Forward(context.Background(), joined(t, "acme", "standup", "alice"))
		if err := f.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := len(r.attempts()); n != c.attempts {
			t.Errorf("status %d: %d attempts, want %d", c.status, n, c.attempts)
		}
		if s := f.Stats(); s.Failed != 1 || s.Delivered != 0 {
			t.Errorf("status %d: Stats = %+v, want 1 failed", c.status, s)
		}
	}
}

// A receiver that hangs holds only its own tenant's workers: the other
// tenant's events arrive meanwhile, and Forward never waits.
func TestReceiverDownDoesNotBlockOthers(t *testing.T) {
	slow, fast := newReceiver(t, "s"), newReceiver(t, "f")
	slow.hang = make(chan struct{})
	defer close(slow.hang)
	f := newForwarder(t, forward.Config{Endpoint: endpoints(map[string]*receiver{"slow": slow, "fast": fast}),
		Workers: 2, TenantWorkers: 1, Timeout: 10 * time.Second})
	var longest time.Duration
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i := range 50 {
			start := time.Now()
			f.Forward(context.Background(), joined(t, "slow", "standup", fmt.Sprint("s", i)))
			longest = max(longest, time.Since(start))
		}
	}()
	select {
	case <-sent:
	case <-time.After(2 * time.Second):
		t.Fatal("Forward waits for a hanging receiver")
	}
	for i := range 20 {
		f.Forward(context.Background(), joined(t, "fast", "standup", fmt.Sprint("f", i)))
	}
	for range 20 {
		fast.wait(t, 2*time.Second)
	}
	if longest > 50*time.Millisecond {
		t.Errorf("Forward took %s with a hanging receiver; it must not wait", longest)
	}
	t.Logf("longest Forward with a hanging receiver: %s", longest)
}

// Tenants take turns: one tenant's backlog does not delay another's event.
func TestTenantsTakeTurns(t *testing.T) {
	busy, quiet := newReceiver(t, "b"), newReceiver(t, "q")
	busy.hang = make(chan struct{}) // until the quiet tenant's event is queued
	f := newForwarder(t, forward.Config{Endpoint: endpoints(map[string]*receiver{"busy": busy, "quiet": quiet}), Workers: 1})
	for i := range 100 {
		f.Forward(context.Background(), joined(t, "busy", "standup", fmt.Sprint("b", i)))
	}
	f.Forward(context.Background(), joined(t, "quiet", "standup", "q"))
	close(busy.hang)
	quiet.wait(t, 5*time.Second)
	arrived := quiet.attempts()[0]
	n := 0
	for _, at := range busy.attempts() {
		if at.Before(arrived) {
			n++
		}
	}
	if n > 2 {
		t.Errorf("the quiet tenant's one event waited for %d of the busy tenant's", n)
	}
}

// Events beyond the queue's room, or the tenant's share, are dropped and
// counted; the other tenant still has room.
func TestQueueOverflowDropsAndCounts(t *testing.T) {
	slow, other := newReceiver(t, "s"), newReceiver(t, "o")
	slow.hang = make(chan struct{})
	f := newForwarder(t, forward.Config{Endpoint: endpoints(map[string]*receiver{"slow": slow, "other": other}),
		Workers: 1, QueueSize: 6, TenantQueueSize: 4})
	for i := range 10 {
		f.Forward(context.Background(), joined(t, "slow", "standup", fmt.Sprint("s", i)))
	}
	if s := f.Stats(); s.Dropped != 6 || s.Held != 4 {
		t.Errorf("after 10 events for a tenant's share of 4: Stats = %+v, want 6 dropped, 4 held", s)
	}
	for i := range 3 {
		f.Forward(context.Background(), joined(t, "other", "standup", fmt.Sprint("o", i)))
	}
	if s := f.Stats(); s.Dropped != 7 || s.Held != 6 {
		t.Errorf("after 3 events of another tenant with 2 places left: Stats = %+v, want 7 dropped, 6 held", s)
	}
	close(slow.hang)
	for range 2 {
		other.wait(t, 5*time.Second)
	}
	if err := f.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := f.Stats(); s.Delivered != 6 || s.Dropped != 7 {
		t.Errorf("after Close: Stats = %+v, want 6 delivered, 7 dropped", s)
	}
}

// Close waits for the held events, retries included; a Close that runs
// out of time gives them up, counted, and stops.
func TestCloseDrainsOrGivesUp(t *testing.T) {
	r := newReceiver(t, "s")
	r.status.Store(http.StatusInternalServerError)
	f := newForwarder(t, forward.Config{Endpoint: endpoints(map[string]*receiver{"acme": r}), Backoff: 5 * time.Millisecond, Attempts: 100})
	for i := range 10 {
		f.Forward(context.Background(), joined(t, "acme", "standup", fmt.Sprint("a", i)))
	}
	time.AfterFunc(50*time.Millisecond, func() { r.status.Store(http.StatusOK) })
	if err := f.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := f.Stats(); s.Delivered != 10 || s.Held != 0 {
		t.Errorf("after Close: Stats = %+v, want 10 delivered", s)
	}
	f.Forward(context.Background(), joined(t, "acme", "standup", "late"))
	if s := f.Stats(); s.Dropped != 1 {
		t.Errorf("Forward after Close: Stats = %+v, want 1 dropped", s)
	}

	down := newReceiver(t, "s")
	down.status.Store(http.StatusInternalServerError)
	f = newForwarder(t, forward.Config{Endpoint: endpoints(map[string]*receiver{"acme": down}), Backoff: time.Hour})
	for i := range 5 {
		f.Forward(context.Background(), joined(t, "acme", "standup", fmt.Sprint("a", i)))
	}
	for len(down.attempts()) < 2 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := f.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close with retries an hour away = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %s past its deadline", d)
	}
	if s := f.Stats(); s.Dropped != 5 || s.Held != 0 {
		t.Errorf("after a Close that gave up: Stats = %+v, want 5 dropped, none held", s)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for name, cfg := range map[string]forward.Config{
		"no endpoint":    {},
		"negative queue": {Endpoint: endpoints(nil), QueueSize: -1},
	} {
		if _, err := forward.New(cfg); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}

// Failures are logged without the tenant's URL, its address or secret.
func TestFailuresLogNoURLOrSecret(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	addr := down.Listener.Addr().String()
	down.Close()
	var logs strings.Builder
	var mu sync.Mutex
	f := newForwarder(t, forward.Config{
		Endpoint: func(string) (string, []byte, bool) {
			return "http://" + addr + "/hooks/p4th?token=t0ken", []byte("s3cret"), true
		},
		Attempts: 2, Backoff: time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			return logs.Write(p)
		}), nil)),
	})
	f.Forward(context.Background(), joined(t, "acme", "standup", "alice"))
	if err := f.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "forward: delivery failed") {
		t.Errorf("no failure logged: %s", logs.String())
	}
	for _, secret := range []string{addr, "p4th", "t0ken", "s3cret"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log names %q: %s", secret, logs.String())
		}
	}
}

type writerFunc func([]byte) (int, error)

func (w writerFunc) Write(p []byte) (int, error) { return w(p) }

// An attempt that times out is retried.
func TestTimeoutIsRetried(t *testing.T) {
	r := newReceiver(t, "s")
	r.hang = make(chan struct{})
	defer close(r.hang)
	f := newForwarder(t, forward.Config{Endpoint: endpoints(map[string]*receiver{"acme": r}), Timeout: 20 * time.Millisecond, Backoff: time.Millisecond, Attempts: 3})
	f.Forward(context.Background(), joined(t, "acme", "standup", "alice"))
	if err := f.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, s := len(r.attempts()), f.Stats(); n != 3 || s.Failed != 1 {
		t.Errorf("%d attempts, Stats %+v; want 3 attempts, 1 failed", n, s)
	}
}
