package httpx_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
)

// A room-auth over a guest cap is a 429 naming the limit, with
// Retry-After, and the route needs no key to get there.
func TestRoomAuthOverTheWaitingCaps(t *testing.T) {
	forEachNaming(t, func(t *testing.T, naming lkgate.RoomNaming) {
		e := newEnv(t, lkgate.Config{RoomNames: naming,
			Limits: lkgate.LimitConfig{Default: lkgate.Limits{MaxWaitingGuestsPerRoom: 2, MaxWaitingGuests: 3}},
		}, httpx.StaticKeysConfig{}).withGuests(t, testGuests)
		redeem := func(room string) func() response {
			inv, err := e.hcfg.Guests.Invite(context.Background(), "acme", lkgate.InviteRequest{Org: "acme", Room: room, AllowAll: true})
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(inv.URL)
			body := `{"inviteToken":"` + u.Query().Get("invite_token") + `","guestName":"G"}`
			return func() response { return e.do(t, "POST", "/livekit/guest/room-auth", "", body) }
		}
		one, two := redeem("one"), redeem("two")
		for _, try := range []struct {
			redeem func() response
			code   string
		}{{one, ""}, {one, ""}, {one, httpx.CodeMaxWaitingGuestsPerRoomExceeded}, {two, ""}, {two, httpx.CodeMaxWaitingGuestsExceeded}} {
			res := try.redeem()
			if try.code == "" {
				if res.status != http.StatusOK {
					t.Fatalf("%d %s", res.status, res.body)
				}
				continue
			}
			if res.status != http.StatusTooManyRequests || res.problem.Code != try.code || res.header.Get("Retry-After") != "30" ||
				res.problem.RetryAfter != 30 || res.problem.Limit+"_exceeded" != try.code {
				t.Errorf("%d %v %s, want 429 %s with Retry-After 30", res.status, res.header, res.body, try.code)
			}
		}
	})
}

// A token request for an agent the host does not let the tenant dispatch
// is a 403 naming the agent's entry in room_config, before any LiveKit
// call; none is allowed without Config.AllowAgent.
func TestTokenRouteRefusesAgents(t *testing.T) {
	for name, allow := range map[string]func(string, string) bool{
		"no policy":     nil,
		"acme's agents": lkgate.AllowAgents(map[string][]string{"acme": {"helper"}, "globex": {"spy"}}),
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, lkgate.Config{PrecreateRooms: true, AllowAgent: allow}, httpx.StaticKeysConfig{})
			res := e.do(t, "POST", "/livekit/token", keyAcme, `{"room_name":"standup","room_config":{"agents":[{"agent_name":"helper"},{"agent_name":"spy"}]}}`)
			want := "room_config.agents[1].agent_name"
			if allow == nil {
				want = "room_config.agents[0].agent_name"
			}
			if res.status != http.StatusForbidden || res.problem.Code != httpx.CodeForbidden || res.problem.Field != want {
				t.Errorf("%d %s, want 403 on %s", res.status, res.body, want)
			}
			if n := e.fake.TotalCalls(); n != 0 {
				t.Errorf("%d LiveKit calls", n)
			}
			if allow != nil {
				if res := e.do(t, "POST", "/livekit/token", keyAcme, `{"room_name":"standup","room_config":{"agents":[{"agent_name":"helper"}]}}`); res.status != http.StatusOK {
					t.Errorf("an allowed agent: %d %s", res.status, res.body)
				}
			}
		})
	}
}
