package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"
	"github.com/twitchtv/twirp"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/internal/lkserver"
	"github.com/lkgate/lkgate/internal/redisserver"
	"github.com/lkgate/lkgate/internal/sipstack"
)

// Racing requests for new rooms never take a tenant past its room quota on
// a real LiveKit, whose room list trails creations and claims: two
// Managers share a Locker (and, under SharedNames, a lease store), as
// replicas share redislock and redislimit, and each new room is counted by
// the next. In both namings.
func TestRoomQuotaRealServer(t *testing.T) {
	for _, naming := range namings {
		t.Run(naming.String(), func(t *testing.T) { roomQuotaRealServer(t, naming) })
	}
}

func roomQuotaRealServer(t *testing.T, naming lkgate.RoomNaming) {
	srv := lkserver.Shared(t)
	cfg := lkgate.Config{RoomNames: naming, Locker: lkgate.NewLocalLocker(), Limits: lkgate.LimitConfig{Default: lkgate.Limits{MaxRooms: 3}}}
	if naming == lkgate.SharedNames {
		cfg.Leases = lkgate.NewMemoryLeaseStore(nil)
	}
	managers := []*lkgate.Manager{newManager(t, srv, cfg), newManager(t, srv, cfg)}
	for trial := range 3 {
		tenant := fmt.Sprintf("quota-%d-%d", trial, time.Now().UnixNano())
		mine := map[string]bool{}
		for i := range 12 {
			mine[lkRoom(t, managers[0], tenant, fmt.Sprintf("%s-r%d", tenant, i))] = true
		}
		var ok, refused atomic.Int32
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Go(func() {
				_, err := managers[i%2].Token(context.Background(), tenant, lkgate.TokenRequest{Room: fmt.Sprintf("%s-r%d", tenant, i), Identity: "u"})
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, lkgate.ErrLimited):
					refused.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		res, err := adminClient(srv).ListRooms(context.Background(), &livekit.ListRoomsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		rooms := 0
		for _, r := range res.Rooms {
			if mine[r.Name] {
				rooms++
			}
		}
		if ok.Load() != 3 || refused.Load() != 9 || rooms != 3 {
			t.Errorf("trial %d: %d granted, %d refused, %d rooms on LiveKit; want 3, 9, 3", trial, ok.Load(), refused.Load(), rooms)
		}
	}
}

// A real call holds its tenant's only concurrent-call slot until LiveKit's
// participant_left webhook, delivered to httpx and resolved to the
// tenant's room, frees it. In both namings, on one SIP stack.
func TestConcurrentCallSlotFreedByWebhook(t *testing.T) {
	var handler atomic.Pointer[http.Handler]
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*handler.Load()).ServeHTTP(w, r) }))
	t.Cleanup(hooks.Close)
	stack := sipstack.Start(t, lkserver.WithWebhook(hooks.URL+"/livekit/webhook"))
	for _, naming := range namings {
		t.Run(naming.String(), func(t *testing.T) { callSlotFreedByWebhook(t, stack, &handler, naming) })
	}
}

func callSlotFreedByWebhook(t *testing.T, stack *sipstack.Stack, handler *atomic.Pointer[http.Handler], naming lkgate.RoomNaming) {
	a, phone, left := hookedSIPAPI(t, stack, handler, lkgate.Config{
		RoomNames: naming,
		Limits:    lkgate.LimitConfig{Default: lkgate.Limits{MaxConcurrentSIPCalls: 1}},
	})
	first, second, third := "slot-1-"+naming.String(), "slot-2-"+naming.String(), "slot-3-"+naming.String()

	peer := phone()
	if status, body, _ := a.post(t, "acme", "/sip/call", callJSON(first, "+15550100")); status != 200 {
		t.Fatalf("first call: %d %s", status, body)
	}
	status, body, p := a.post(t, "acme", "/sip/call", callJSON(second, "+15550100"))
	if status != 429 || p.Code != httpx.CodeMaxConcurrentSIPCallsExceeded {
		t.Fatalf("second call: %d %s; want 429 %s", status, body, httpx.CodeMaxConcurrentSIPCallsExceeded)
	}
	a.hangUp(t, "acme", first)
	if code := peer.Wait(t, 10*time.Second); code != 0 {
		t.Errorf("sipp exit code %d, want 0", code)
	}
	ev := waitLeft(t, left, first)
	if p := ev.Event.GetParticipant(); ev.Tenant != "acme" || p.Kind != livekit.ParticipantInfo_SIP || p.Attributes[lkgate.TenantAttribute] != "acme" {
		t.Errorf("participant_left resolves to tenant %q, carries kind %v, attributes %v", ev.Tenant, p.Kind, p.Attributes)
	}
	phone()
	if status, body, _ := a.post(t, "acme", "/sip/call", callJSON(third, "+15550100")); status != 200 {
		t.Fatalf("call after the first ended: %d %s", status, body)
	}
	a.hangUp(t, "acme", third)
}

// hookedSIPAPI is lkgate's HTTP API for acme on stack with cfg's fields,
// dialing through the trunk of the last phone started, and the webhook
// endpoint handler serves. left receives the participant_left events
// httpx has handled.
func hookedSIPAPI(t *testing.T, stack *sipstack.Stack, handler *atomic.Pointer[http.Handler], cfg lkgate.Config) (a *sipAPI, phone func() *sipstack.Peer, left <-chan lkgate.WebhookEvent) {
	t.Helper()
	var trunk atomic.Value
	m := newManager(t, stack.LiveKit, cfg)
	sip, err := lkgate.NewSIP(m, lkgate.SIPConfig{
		Trunks: lkgate.TrunkPolicyFunc(func(context.Context, string) (string, error) { return trunk.Load().(string), nil }),
	})
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan lkgate.WebhookEvent, 16)
	keys, err := httpx.NewStaticKeys(httpx.StaticKeysConfig{Keys: map[string]httpx.Principal{"acme-key-0123456789": {Tenant: "acme", Permissions: httpx.AllPermissions}}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpx.New(m, httpx.Config{Authenticator: keys, SIP: sip, OnWebhook: func(_ context.Context, ev lkgate.WebhookEvent) {
		if ev.Event.GetEvent() == webhook.EventParticipantLeft {
			events <- ev
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	var hh http.Handler = h
	handler.Store(&hh)
	phone = func() *sipstack.Peer {
		p := sipstack.StartPeer(t, sipstack.AnswerAndRefer, sipstack.PeerOptions{})
		trunk.Store(stack.Trunk(t, p.Addr))
		return p
	}
	return &sipAPI{stack: stack, h: h, m: m, sip: sip, trunk: map[string]string{}}, phone, events
}

// The attack of issue 14 on the real SIP stack, under a limit of one call:
// a second call to the room and identity of a call in progress is refused
// (409) rather than dialed, so it can neither replace the first call's
// participant nor have that participant's participant_left free the slot
// it would hold; a call elsewhere is refused by the limit. Only the first
// call's end, through LiveKit's webhook, frees the slot, and that event
// handled again later frees nothing. With the in-process store and with
// redislimit.
func TestOneCallPerSlotRealStack(t *testing.T) {
	var handler atomic.Pointer[http.Handler]
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*handler.Load()).ServeHTTP(w, r) }))
	t.Cleanup(hooks.Close)
	stack := sipstack.Start(t, lkserver.WithWebhook(hooks.URL+"/livekit/webhook"))
	cfg := lkgate.Config{Limits: lkgate.LimitConfig{Default: lkgate.Limits{MaxConcurrentSIPCalls: 1}}}
	t.Run("memory", func(t *testing.T) { oneCallPerSlot(t, stack, &handler, "memory", cfg) })
	t.Run("redislimit", func(t *testing.T) {
		oneCallPerSlot(t, stack, &handler, "redis", withRedis(t, redisserver.Start(t).Addr, cfg))
	})
}

func oneCallPerSlot(t *testing.T, stack *sipstack.Stack, handler *atomic.Pointer[http.Handler], store string, cfg lkgate.Config) {
	a, phone, left := hookedSIPAPI(t, stack, handler, cfg)
	room, other := "attack-"+store, "attack-elsewhere-"+store
	lk := a.lk(t, "acme", room)
	firstPhone := phone()
	status, body, _ := a.post(t, "acme", "/sip/call", callJSON(room, "+15550100"))
	if status != 200 {
		t.Fatalf("first call: %d %s", status, body)
	}
	var first httpx.CallResponse
	if err := json.Unmarshal(body, &first); err != nil {
		t.Fatal(err)
	}

	// Again, to the same room and identity, and now towards a second phone.
	secondPhone := phone()
	status, body, p := a.post(t, "acme", "/sip/call", callJSON(room, "+15550100"))
	if status != 409 || p.Code != httpx.CodeSIPCallInProgress || p.Field != "participant_identity" {
		t.Errorf("second call to the same participant: %d %s; want 409 %s", status, body, httpx.CodeSIPCallInProgress)
	}
	status, body, p = a.post(t, "acme", "/sip/call", callJSON(other, "+15550100"))
	if status != 429 || p.Code != httpx.CodeMaxConcurrentSIPCallsExceeded {
		t.Errorf("call elsewhere: %d %s; want 429 %s", status, body, httpx.CodeMaxConcurrentSIPCallsExceeded)
	}
	// One call is up: the first, whose participant was not replaced.
	if got := waitForParticipant(t, stack.LiveKit, lk, "phone"); got.Sid != first.ParticipantID {
		t.Errorf("the first call's participant %s was replaced by %s", first.ParticipantID, got.Sid)
	}
	if n := sipParticipants(t, stack, lk, a.lk(t, "acme", other)); n != 1 || !firstPhone.Running() {
		t.Errorf("%d SIP participants (want 1); the first phone is still in its call: %v", n, firstPhone.Running())
	}

	// The first call ends: livekit-sip sends BYE and LiveKit's
	// participant_left, carrying the call's id, frees its slot.
	a.hangUp(t, "acme", room)
	if code := firstPhone.Wait(t, 10*time.Second); code != 0 {
		t.Errorf("sipp exit code %d, want 0", code)
	}
	ev := waitLeft(t, left, room)
	if ev.Event.GetParticipant().GetAttributes()[lkgate.CallAttribute] == "" {
		t.Errorf("participant_left carries no %s: %v", lkgate.CallAttribute, ev.Event.GetParticipant().GetAttributes())
	}
	if status, body, _ := a.post(t, "acme", "/sip/call", callJSON(room, "+15550100")); status != 200 {
		t.Fatalf("calling the participant again after the first call ended: %d %s", status, body)
	}
	// The first call's event once more (a late or repeated delivery)
	// frees nothing: the new call keeps the only slot.
	if err := a.sip.ReleaseCall(context.Background(), ev.Event); err != nil {
		t.Fatal(err)
	}
	if status, body, p := a.post(t, "acme", "/sip/call", callJSON(other, "+15550100")); status != 429 || p.Code != httpx.CodeMaxConcurrentSIPCallsExceeded {
		t.Errorf("call elsewhere after the first call's event again: %d %s; want 429", status, body)
	}
	a.hangUp(t, "acme", room)
	if code := secondPhone.Wait(t, 10*time.Second); code != 0 {
		t.Errorf("sipp exit code %d, want 0", code)
	}
}

// sipParticipants counts the SIP participants in LiveKit's rooms.
func sipParticipants(t *testing.T, stack *sipstack.Stack, rooms ...string) int {
	t.Helper()
	n := 0
	for _, room := range rooms {
		res, err := adminClient(stack.LiveKit).ListParticipants(context.Background(), &livekit.ListParticipantsRequest{Room: room})
		var terr twirp.Error
		if err != nil && !(errors.As(err, &terr) && terr.Code() == twirp.NotFound) {
			t.Fatal(err)
		}
		for _, p := range res.GetParticipants() {
			if p.Kind == livekit.ParticipantInfo_SIP {
				n++
			}
		}
	}
	return n
}

// waitLeft waits for the participant_left event of the tenant's room room
// (as the tenant names it), skipping other rooms' events.
func waitLeft(t *testing.T, left <-chan lkgate.WebhookEvent, room string) lkgate.WebhookEvent {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev := <-left:
			if ev.Room == room {
				return ev
			}
		case <-deadline:
			t.Fatalf("no participant_left webhook for %s", room)
		}
	}
}
