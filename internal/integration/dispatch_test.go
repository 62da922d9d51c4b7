package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/internal/lkserver"
)

// Agents a client asks for through the token route (room_config.agents)
// are dispatched by the real server into the tenant's room, exactly once,
// whoever creates it: the first join of the minted token (ScopedNames),
// lkgate before answering (ScopedNames with PrecreateRooms), or lkgate's
// claim (SharedNames). A later token asking for other agents changes
// nothing in the room that exists. ListDispatch proves it; no agent
// worker needs to run for a dispatch to be listed.
func TestTokenRouteDispatchesAgents(t *testing.T) {
	for _, tc := range []struct {
		name         string
		cfg          lkgate.Config
		byTokenRoute bool // the room exists once the route has answered
	}{
		{"scoped", lkgate.Config{}, false},
		{"scoped-precreate", lkgate.Config{PrecreateRooms: true}, true},
		{"shared", lkgate.Config{RoomNames: lkgate.SharedNames}, true},
	} {
		t.Run(tc.name, func(t *testing.T) { tokenRouteDispatchesAgents(t, tc.cfg, tc.byTokenRoute) })
	}
}

func tokenRouteDispatchesAgents(t *testing.T, cfg lkgate.Config, byTokenRoute bool) {
	srv := lkserver.Shared(t)
	cfg.AllowAgent = lkgate.AllowAgents(map[string][]string{"acme": {"notetaker", "translator", "intruder"}})
	m := newManager(t, srv, cfg)
	keys, err := httpx.NewStaticKeys(httpx.StaticKeysConfig{Keys: map[string]httpx.Principal{"acme-key-0123456789": {Tenant: "acme", Permissions: httpx.AllPermissions}}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpx.New(m, httpx.Config{Authenticator: keys})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	room := fmt.Sprintf("dispatch-%d", time.Now().UnixNano())
	lk := lkRoom(t, m, "acme", room)
	token := func(identity, agents string) httpx.TokenResponse {
		t.Helper()
		body := `{"room_name":"` + room + `","participant_identity":"` + identity + `","room_config":{"agents":` + agents + `}}`
		req := httptest.NewRequest("POST", "/livekit/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer acme-key-0123456789")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var tok httpx.TokenResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil || rec.Code != http.StatusOK || tok.RoomName != room {
			t.Fatalf("token route: %d %s", rec.Code, rec.Body)
		}
		return tok
	}
	dispatch := lksdk.NewAgentDispatchServiceClient(srv.URL, srv.APIKey, srv.APISecret)
	dispatched := func() (agents, ids []string) {
		t.Helper()
		res, err := dispatch.ListDispatch(ctx, &livekit.ListAgentDispatchRequest{Room: lk})
		if err != nil {
			t.Fatalf("ListDispatch(%s): %s", lk, lkgate.Redact(err.Error()))
		}
		for _, d := range res.AgentDispatches {
			if d.Room != lk {
				t.Errorf("dispatch %v listed for %s", d, lk)
			}
			agents = append(agents, d.AgentName+"/"+d.Metadata)
			ids = append(ids, d.Id)
		}
		slices.Sort(agents)
		slices.Sort(ids)
		return agents, ids
	}
	want := []string{`notetaker/{"lang":"en"}`, "translator/"}

	first := token("alice", `[{"agent_name":"notetaker","metadata":"{\"lang\":\"en\"}"},{"agent_name":"translator"}]`)
	if byTokenRoute {
		if got, _ := dispatched(); !slices.Equal(got, want) {
			t.Errorf("dispatches once the route answered: %v, want %v", got, want)
		}
	} else if res, err := adminClient(srv).ListRooms(ctx, &livekit.ListRoomsRequest{Names: []string{lk}}); err != nil || len(res.Rooms) != 0 {
		t.Fatalf("rooms once the route answered: %v %v; want none until the first join", res.GetRooms(), err)
	}
	srv.Join(t, first.Token)
	waitForParticipant(t, srv, lk, "alice")
	got, ids := dispatched()
	if !slices.Equal(got, want) {
		t.Errorf("dispatches once alice joined: %v, want %v", got, want)
	}

	second := token("bob", `[{"agent_name":"intruder"}]`)
	srv.Join(t, second.Token)
	waitForParticipant(t, srv, lk, "bob")
	if got, again := dispatched(); !slices.Equal(again, ids) {
		t.Errorf("a token for the existing room changed its dispatches: %v, want %v", got, want)
	}
}
