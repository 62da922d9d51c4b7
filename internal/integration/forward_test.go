package integration

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/forward"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/internal/lkserver"
)

// tenantReceiver is a tenant's own webhook receiver on loopback: it
// verifies each delivery with the tenant's secret, as a tenant would, and
// keeps what it accepted. It is down (connections refused) until up.
type tenantReceiver struct {
	addr   string
	secret []byte
	srv    *http.Server

	mu     sync.Mutex
	events []receivedEvent
	bad    []string
	seen   chan struct{}
}

type receivedEvent struct {
	ev   *livekit.WebhookEvent
	body string
	at   time.Time
}

// newTenantReceiver reserves a loopback address for a receiver that is
// down until up is called.
func newTenantReceiver(t *testing.T, secret string) *tenantReceiver {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &tenantReceiver{addr: l.Addr().String(), secret: []byte(secret), seen: make(chan struct{}, 1)}
	l.Close()
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve)}
	t.Cleanup(func() { r.srv.Close() })
	return r
}

func (r *tenantReceiver) url() string { return "http://" + r.addr + "/hooks/livekit" }

func (r *tenantReceiver) up(t *testing.T) {
	t.Helper()
	l, err := net.Listen("tcp", r.addr)
	if err != nil {
		t.Fatalf("receiver's address taken meanwhile: %v", err)
	}
	go func() { _ = r.srv.Serve(l) }()
}

func (r *tenantReceiver) serve(w http.ResponseWriter, req *http.Request) {
	at := time.Now()
	body, err := forward.Verify(req, r.secret, 0)
	ev := &livekit.WebhookEvent{}
	if err == nil {
		err = protojson.Unmarshal(body, ev)
	}
	if err == nil && req.Header.Get(forward.EventIDHeader) != ev.GetId() {
		err = errors.New("event id header differs from the event's id")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.bad = append(r.bad, err.Error())
		http.Error(w, "refused", http.StatusUnauthorized)
		return
	}
	r.events = append(r.events, receivedEvent{ev, string(body), at})
	select {
	case r.seen <- struct{}{}:
	default:
	}
}

// await waits until the receiver has accepted an event matching match.
func (r *tenantReceiver) await(t *testing.T, what string, within time.Duration, match func(*livekit.WebhookEvent) bool) receivedEvent {
	t.Helper()
	deadline := time.After(within)
	for {
		r.mu.Lock()
		for _, e := range r.events {
			if match(e.ev) {
				r.mu.Unlock()
				return e
			}
		}
		r.mu.Unlock()
		select {
		case <-r.seen:
		case <-deadline:
			t.Fatalf("the receiver never got %s within %s", what, within)
		}
	}
}

func (r *tenantReceiver) received() ([]receivedEvent, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]receivedEvent(nil), r.events...), append([]string(nil), r.bad...)
}

func joinedBy(identity string) func(*livekit.WebhookEvent) bool {
	return func(ev *livekit.WebhookEvent) bool {
		return ev.GetEvent() == "participant_joined" && ev.GetParticipant().GetIdentity() == identity
	}
}

// LiveKit's webhooks reach lkgate's route, whose OnWebhook is a Forwarder:
// each tenant's receiver gets its own tenant's events only, signed with
// its secret, its room under the name it knows and nothing of lkgate's;
// a receiver that is down at first gets its events once it comes up.
func TestForwardEachTenantsEventsToItsReceiver(t *testing.T) {
	srv := lkserver.Shared(t)
	m := newManager(t, srv, lkgate.Config{PrecreateRooms: true})
	// Tenants of this run only: the shared server still sends the events
	// of earlier runs' rooms as they close.
	run := time.Now().UnixNano()
	tenantA, tenantB := fmt.Sprintf("acme%d", run), fmt.Sprintf("globex%d", run)
	acme, globex := newTenantReceiver(t, "acme's secret"), newTenantReceiver(t, "globex's secret")
	acme.up(t) // globex's receiver is down until later
	downSince := time.Now()
	fw, err := forward.New(forward.Config{
		Endpoint: func(tenant string) (string, []byte, bool) {
			switch tenant {
			case tenantA:
				return acme.url(), acme.secret, true
			case tenantB:
				return globex.url(), globex.secret, true
			}
			return "", nil, false
		},
		Backoff: 100 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, Attempts: 60,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // after a failure; Close again is harmless
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = fw.Close(ctx)
	})
	var mu sync.Mutex
	forwarded := map[string]time.Time{} // event id: when OnWebhook had it
	h, err := httpx.New(m, httpx.Config{
		Authenticator: httpx.AuthenticatorFunc(func(*http.Request) (httpx.Principal, error) { return httpx.Principal{}, errors.New("unused") }),
		OnWebhook: func(ctx context.Context, ev lkgate.WebhookEvent) {
			mu.Lock()
			forwarded[ev.Event.GetId()] = time.Now()
			mu.Unlock()
			fw.Forward(ctx, ev)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.HandleWebhooks(t, h)

	room := "standup"                         // both tenants' rooms have this name
	plain := fmt.Sprintf("fwd-%d-plain", run) // a room of no tenant
	alice := mintAndJoin(t, srv, m, tenantA, room, "alice", nil)
	mintAndJoin(t, srv, m, tenantB, room, "gina", nil)
	joinAs(t, srv, plain, "outsider", nil)

	acme.await(t, "alice's participant_joined", 20*time.Second, joinedBy("alice"))
	alice.Disconnect()
	acme.await(t, "alice's participant_left", 20*time.Second, func(ev *livekit.WebhookEvent) bool {
		return ev.GetEvent() == "participant_left" && ev.GetParticipant().GetIdentity() == "alice"
	})
	for deadline := time.Now().Add(20 * time.Second); fw.Stats().Retries < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no retry for globex's receiver, which is down: %+v", fw.Stats())
		}
	}
	upAt := time.Now()
	globex.up(t)
	got := globex.await(t, "gina's participant_joined", 20*time.Second, joinedBy("gina"))
	t.Logf("globex's receiver, down for %s, got gina's join %s after coming up", upAt.Sub(downSince).Round(time.Millisecond), got.at.Sub(upAt).Round(time.Millisecond))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := fw.Close(ctx); err != nil {
		t.Fatalf("Close: %v (stats %+v)", err, fw.Stats())
	}
	lkNames := []string{lkRoom(t, m, tenantA, room), lkRoom(t, m, tenantB, room)}
	var latencies []time.Duration
	for _, c := range []struct {
		tenant, identity, otherTenant, other string
		r                                    *tenantReceiver
	}{{tenantA, "alice", tenantB, "gina", acme}, {tenantB, "gina", tenantA, "alice", globex}} {
		events, bad := c.r.received()
		for _, b := range bad {
			t.Errorf("%s's receiver refused a delivery: %s", c.tenant, b)
		}
		kinds := map[string]bool{}
		for _, e := range events {
			kinds[e.ev.GetEvent()] = true
			if name := e.ev.GetRoom().GetName(); name != room {
				t.Errorf("%s got %s of room %q, want %q", c.tenant, e.ev.GetEvent(), name, room)
			}
			for _, leak := range []string{lkNames[0], lkNames[1], c.tenant, c.otherTenant, c.other, lkgate.OwnerKey, "lkgate.", "turnPassword", "outsider", plain} {
				if strings.Contains(e.body, leak) {
					t.Errorf("%s's %s event contains %q: %s", c.tenant, e.ev.GetEvent(), leak, e.body)
				}
			}
			mu.Lock()
			if id := e.ev.GetId(); !forwarded[id].IsZero() && c.r == acme {
				latencies = append(latencies, e.at.Sub(forwarded[id]))
			}
			mu.Unlock()
		}
		if !kinds["room_started"] || !kinds["participant_joined"] {
			t.Errorf("%s's receiver got %v, want room_started and participant_joined among them", c.tenant, kinds)
		}
	}
	t.Logf("OnWebhook to acme's receiver (up throughout): %v; forwarder stats %+v", latencies, fw.Stats())
	if s := fw.Stats(); s.Failed != 0 || s.Dropped != 0 {
		t.Errorf("forwarder stats %+v, want nothing failed or dropped", s)
	}
}
