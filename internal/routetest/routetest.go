// Package routetest holds the Manager configuration under which httpx's
// own tests and the OpenAPI conformance test (a module of its own) drive
// every route, so that a case moves between the two unchanged.
package routetest

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

// Full is a configuration with guests and SIP on: every route works.
// Acme may hold one SIP call and one ban, issue one invite and let one
// guest wait a minute; globex may mint one token a minute and let one
// guest wait per room.
type Full struct {
	Manager lkgate.Config
	Guests  lkgate.GuestConfig
	SIP     lkgate.SIPConfig
	// attach adds acme's trunk to the fake, which exists only once the
	// Manager does.
	attach func(*lkgatetest.Server)
}

// FullConfig returns the Full configuration under naming.
func FullConfig(naming lkgate.RoomNaming) Full {
	var mu sync.Mutex
	trunks := map[string]string{}
	return Full{
		Manager: lkgate.Config{
			RoomNames: naming,
			Limits: lkgate.LimitConfig{Tenant: func(tenant string) (lkgate.Limits, bool) {
				switch tenant {
				case "acme":
					return lkgate.Limits{MaxConcurrentSIPCalls: 1, MaxBans: 1, InviteRate: lkgate.PerMinute(1, 1), GuestWaitRate: lkgate.PerMinute(1, 1)}, true
				case "globex":
					return lkgate.Limits{TokenRate: lkgate.PerMinute(1, 1), MaxWaitingGuestsPerRoom: 1}, true
				}
				return lkgate.Limits{}, false
			}},
			AllowAgent: lkgate.AllowAgents(map[string][]string{"acme": {"helper"}}),
		},
		Guests: lkgate.GuestConfig{
			Keys:          []lkgate.InviteKey{{ID: "k1", Key: bytes.Repeat([]byte{7}, 32)}},
			InviteBaseURL: "https://app.example.com",
		},
		SIP: lkgate.SIPConfig{Trunks: lkgate.TrunkPolicyFunc(func(ctx context.Context, tenant string) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			return lkgate.TenantTrunks(trunks).OutboundTrunk(ctx, tenant)
		})},
		attach: func(fake *lkgatetest.Server) {
			mu.Lock()
			defer mu.Unlock()
			trunks["acme"] = fake.AddOutboundTrunk("acme.example", "+15550000001")
		},
	}
}

// Features builds the Guests and SIP of m, a Manager of f.Manager on fake,
// and adds acme's trunk to fake.
func (f Full) Features(t testing.TB, fake *lkgatetest.Server, m *lkgate.Manager) (*lkgate.Guests, *lkgate.SIP) {
	t.Helper()
	guests, err := lkgate.NewGuests(m, f.Guests)
	if err != nil {
		t.Fatal(err)
	}
	sip, err := lkgate.NewSIP(m, f.SIP)
	if err != nil {
		t.Fatal(err)
	}
	f.attach(fake)
	return guests, sip
}
