package integration

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/internal/lkserver"
	"github.com/lkgate/lkgate/internal/sipstack"
)

// Racing requests for new rooms never take a tenant past its room quota on
// a real LiveKit, whose room list trails claims: two Managers share a
// Locker, as replicas share redislock, and each claim is counted by the
// next.
func TestRoomQuotaRealServer(t *testing.T) {
	srv := lkserver.Shared(t)
	lock := lkgate.NewLocalLocker()
	limits := lkgate.LimitConfig{Default: lkgate.Limits{MaxRooms: 3}}
	managers := []*lkgate.Manager{newManager(t, srv, lkgate.Config{Locker: lock, Limits: limits}), newManager(t, srv, lkgate.Config{Locker: lock, Limits: limits})}
	for trial := range 3 {
		tenant := fmt.Sprintf("quota-%d-%d", trial, time.Now().UnixNano())
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
			if strings.HasPrefix(r.Name, tenant+"-") {
				rooms++
			}
		}
		if ok.Load() != 3 || refused.Load() != 9 || rooms != 3 {
			t.Errorf("trial %d: %d granted, %d refused, %d rooms on LiveKit; want 3, 9, 3", trial, ok.Load(), refused.Load(), rooms)
		}
	}
}

// A real call holds its tenant's only concurrent-call slot until LiveKit's
// participant_left webhook, delivered to httpx, frees it.
func TestConcurrentCallSlotFreedByWebhook(t *testing.T) {
	var handler atomic.Pointer[http.Handler]
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*handler.Load()).ServeHTTP(w, r) }))
	t.Cleanup(hooks.Close)
	stack := sipstack.Start(t, lkserver.WithWebhook(hooks.URL+"/livekit/webhook"))
	var trunk atomic.Value
	m := newManager(t, stack.LiveKit, lkgate.Config{
		SIP:    lkgate.SIPConfig{Trunks: lkgate.TrunkPolicyFunc(func(context.Context, string) (string, error) { return trunk.Load().(string), nil })},
		Limits: lkgate.LimitConfig{Default: lkgate.Limits{MaxConcurrentSIPCalls: 1}},
	})
	left := make(chan *livekit.ParticipantInfo, 16)
	keys, err := httpx.NewStaticKeys(httpx.StaticKeysConfig{Keys: map[string]httpx.Principal{"acme-key-0123456789": {Tenant: "acme"}}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpx.New(m, httpx.Config{Authenticator: keys, OnWebhook: func(_ context.Context, ev *livekit.WebhookEvent) {
		if ev.GetEvent() == webhook.EventParticipantLeft {
			left <- ev.GetParticipant()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	var hh http.Handler = h
	handler.Store(&hh)
	a := &sipAPI{stack: stack, h: h, trunk: map[string]string{}}
	phone := func() *sipstack.Peer {
		p := sipstack.StartPeer(t, sipstack.AnswerAndRefer, sipstack.PeerOptions{})
		trunk.Store(stack.Trunk(t, p.Addr))
		return p
	}

	peer := phone()
	if status, body, _ := a.post(t, "acme", "/sip/call", callJSON("slot-1", "+15550100")); status != 200 {
		t.Fatalf("first call: %d %s", status, body)
	}
	status, body, p := a.post(t, "acme", "/sip/call", callJSON("slot-2", "+15550100"))
	if status != 429 || p.Code != httpx.CodeMaxConcurrentSIPCallsExceeded {
		t.Fatalf("second call: %d %s; want 429 %s", status, body, httpx.CodeMaxConcurrentSIPCallsExceeded)
	}
	a.hangUp(t, "slot-1")
	if code := peer.Wait(t, 10*time.Second); code != 0 {
		t.Errorf("sipp exit code %d, want 0", code)
	}
	select {
	case p := <-left:
		if p.Kind != livekit.ParticipantInfo_SIP || p.Attributes[lkgate.TenantAttribute] != "acme" {
			t.Errorf("participant_left carries kind %v, attributes %v", p.Kind, p.Attributes)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no participant_left webhook")
	}
	phone()
	if status, body, _ := a.post(t, "acme", "/sip/call", callJSON("slot-3", "+15550100")); status != 200 {
		t.Fatalf("call after the first ended: %d %s", status, body)
	}
}
