package lkgate_test

import (
	"context"
	"testing"

	"github.com/lkgate/lkgate"
)

// acmeNotetaker lets acme, and only acme, dispatch the agent "notetaker".
var acmeNotetaker = lkgate.AllowAgents(map[string][]string{"acme": {"notetaker"}})

// A tenant dispatches only the agents the host approves for it; without
// Config.AllowAgent, none. A refused agent is ErrForbidden naming its
// entry, before any LiveKit call, even where the token would create the
// room.
func TestAgentPolicy(t *testing.T) {
	notetaker := lkgate.AgentDispatch{AgentName: "notetaker"}
	translator := lkgate.AgentDispatch{AgentName: "translator"}
	tests := []struct {
		name   string
		allow  func(tenant, agentName string) bool
		tenant string
		agents []lkgate.AgentDispatch
		field  string // "" when allowed
	}{
		{"no policy refuses every named agent", nil, "acme", []lkgate.AgentDispatch{notetaker}, "Agents[0].AgentName"},
		{"no policy, no agent", nil, "acme", nil, ""},
		{"approved for the tenant", acmeNotetaker, "acme", []lkgate.AgentDispatch{notetaker}, ""},
		{"approved for another tenant only", acmeNotetaker, "globex", []lkgate.AgentDispatch{notetaker}, "Agents[0].AgentName"},
		{"the second agent is refused", acmeNotetaker, "acme", []lkgate.AgentDispatch{notetaker, translator}, "Agents[1].AgentName"},
		{"a host's own rule", func(_, name string) bool { return name == "translator" }, "globex", []lkgate.AgentDispatch{translator}, ""},
	}
	for _, naming := range namings {
		for _, precreate := range []bool{false, true} {
			if precreate && naming == lkgate.SharedNames {
				continue
			}
			for _, tt := range tests {
				t.Run(naming.String()+"/"+map[bool]string{false: "join creates", true: "precreated"}[precreate]+"/"+tt.name, func(t *testing.T) {
					m, fake := newManager(t, lkgate.Config{RoomNames: naming, PrecreateRooms: precreate, AllowAgent: tt.allow})
					_, err := m.Token(context.Background(), tt.tenant, lkgate.TokenRequest{Room: "standup", Identity: "alice", Agents: tt.agents})
					if tt.field == "" {
						if err != nil {
							t.Fatal(err)
						}
						return
					}
					wantErr(t, err, lkgate.ErrForbidden, tt.field)
					if n := fake.TotalCalls(); n != 0 {
						t.Errorf("a refused agent cost %d LiveKit calls", n)
					}
				})
			}
		}
	}
}

// AllowAgents copies its map: a later change does not widen the policy.
func TestAllowAgentsCopiesItsMap(t *testing.T) {
	agents := map[string][]string{"acme": {"notetaker"}}
	allow := lkgate.AllowAgents(agents)
	agents["acme"][0] = "translator"
	agents["globex"] = []string{"notetaker"}
	if !allow("acme", "notetaker") || allow("acme", "translator") || allow("globex", "notetaker") {
		t.Error("AllowAgents follows changes to its map")
	}
}
