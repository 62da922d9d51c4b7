package httpx_test

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
)

// newFullEnv is an env with guests and SIP configured: every route works.
// Acme may hold one SIP call, issue one invite and let one guest wait a
// minute; globex may mint one token a minute.
func newFullEnv(t *testing.T, naming lkgate.RoomNaming) *env {
	t.Helper()
	var mu sync.Mutex
	trunks := map[string]string{}
	e := newEnv(t, lkgate.Config{
		RoomNames: naming,
		Guests: lkgate.GuestConfig{
			Keys:          []lkgate.InviteKey{{ID: "k1", Key: bytes.Repeat([]byte{7}, 32)}},
			InviteBaseURL: "https://app.example.com",
		},
		SIP: lkgate.SIPConfig{Trunks: lkgate.TrunkPolicyFunc(func(ctx context.Context, tenant string) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			return lkgate.TenantTrunks(trunks).OutboundTrunk(ctx, tenant)
		})},
		Limits: lkgate.LimitConfig{Tenant: func(tenant string) (lkgate.Limits, bool) {
			switch tenant {
			case "acme":
				return lkgate.Limits{MaxConcurrentSIPCalls: 1, InviteRate: lkgate.PerMinute(1, 1), GuestWaitRate: lkgate.PerMinute(1, 1)}, true
			case "globex":
				return lkgate.Limits{TokenRate: lkgate.PerMinute(1, 1), MaxWaitingGuestsPerRoom: 1}, true
			}
			return lkgate.Limits{}, false
		}},
		AllowAgent: lkgate.AllowAgents(map[string][]string{"acme": {"helper"}}),
	}, httpx.StaticKeysConfig{})
	mu.Lock()
	defer mu.Unlock()
	trunks["acme"] = e.fake.AddOutboundTrunk("acme.example", "+15550000001")
	return e
}
