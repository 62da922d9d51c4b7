package contract

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"
)

// Room configuration and agent dispatch: what lkgate relies on when its
// tokens carry the room's settings and agents (ScopedNames: the first join
// creates the room) and when it creates rooms with agents itself.

// agent is a dispatch as the contract compares it: LiveKit lists
// dispatches in no fixed order, with fresh IDs.
type agent struct{ name, metadata string }

// dispatches returns room's agent dispatches, sorted. Every dispatch must
// name room.
func (c *suite) dispatches(t *testing.T, room string) []agent {
	t.Helper()
	res, err := c.dispatch.ListDispatch(context.Background(), &livekit.ListAgentDispatchRequest{Room: room})
	if err != nil {
		t.Fatalf("ListDispatch(%s): %v", room, err)
	}
	var out []agent
	for _, d := range res.AgentDispatches {
		if d.Room != room || d.Id == "" {
			t.Errorf("dispatch %v listed for room %s", d, room)
		}
		out = append(out, agent{d.AgentName, d.Metadata})
	}
	slices.SortFunc(out, func(a, b agent) int { return strings.Compare(a.name+"\x00"+a.metadata, b.name+"\x00"+b.metadata) })
	return out
}

// dispatchIDs returns the IDs of room's dispatches, sorted.
func (c *suite) dispatchIDs(t *testing.T, room string) []string {
	t.Helper()
	res, err := c.dispatch.ListDispatch(context.Background(), &livekit.ListAgentDispatchRequest{Room: room})
	if err != nil {
		t.Fatalf("ListDispatch(%s): %v", room, err)
	}
	var ids []string
	for _, d := range res.AgentDispatches {
		ids = append(ids, d.Id)
	}
	slices.Sort(ids)
	return ids
}

func (c *suite) wantDispatches(t *testing.T, what, room string, want ...agent) {
	t.Helper()
	if got := c.dispatches(t, room); !slices.Equal(got, want) {
		t.Errorf("%s: dispatches %v, want %v", what, got, want)
	}
}

// roomInfo returns room as ListRooms lists it.
func (c *suite) roomInfo(t *testing.T, room string) *livekit.Room {
	t.Helper()
	res, err := c.rooms.ListRooms(context.Background(), &livekit.ListRoomsRequest{Names: []string{room}})
	if err != nil || len(res.Rooms) != 1 {
		t.Fatalf("ListRooms(%s) = %v, %v; want the room", room, names(res.GetRooms()), err)
	}
	return res.Rooms[0]
}

func wantSettings(t *testing.T, what string, r *livekit.Room, empty, departure, maxParticipants uint32) {
	t.Helper()
	if r.EmptyTimeout != empty || r.DepartureTimeout != departure || r.MaxParticipants != maxParticipants {
		t.Errorf("%s: empty_timeout %d departure_timeout %d max_participants %d, want %d, %d and %d",
			what, r.EmptyTimeout, r.DepartureTimeout, r.MaxParticipants, empty, departure, maxParticipants)
	}
}

// joinWithConfig mints a join token for room straight from the keys, with cfg
// as its roomConfig unless nil, and joins with it.
func (c *suite) joinWithConfig(t *testing.T, room, identity string, cfg *livekit.RoomConfiguration) {
	t.Helper()
	tok := auth.NewAccessToken(c.APIKey, c.APISecret).SetIdentity(identity).
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: room}).SetValidFor(time.Minute)
	if cfg != nil {
		tok.SetRoomConfig(cfg)
	}
	jwt, err := tok.ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	c.JoinToken(t, room, identity, jwt)
}

// joinRoomConfig: the room a join creates takes the timeouts, participant
// limit and agents of its token's roomConfig; without one, the server's
// defaults and one dispatch of the unnamed agent. No agent worker needs to
// run for a dispatch to be listed.
func (c *suite) joinRoomConfig(t *testing.T) {
	room := unique("join-config")
	c.joinWithConfig(t, room, "alice", &livekit.RoomConfiguration{
		EmptyTimeout: 77, DepartureTimeout: 13, MaxParticipants: 9,
		Agents: []*livekit.RoomAgentDispatch{{AgentName: "helper", Metadata: `{"lang":"fr"}`}},
	})
	wantSettings(t, "room created by a join with a roomConfig", c.roomInfo(t, room), 77, 13, 9)
	c.wantDispatches(t, "room created by a join with a roomConfig", room, agent{"helper", `{"lang":"fr"}`})

	plain := unique("join-plain")
	c.joinWithConfig(t, plain, "bob", nil)
	wantSettings(t, "room created by a join without roomConfig", c.roomInfo(t, plain), 300, 20, 0)
	c.wantDispatches(t, "room created by a join without roomConfig", plain, agent{})
}

// createRoomAgents: CreateRoom dispatches its agents into a new room. A
// room that exists keeps its dispatches and settings: neither a second
// CreateRoom with other agents (a get) nor a join whose token carries a
// roomConfig changes them.
func (c *suite) createRoomAgents(t *testing.T) {
	ctx := context.Background()
	room := unique("agents")
	if _, err := c.rooms.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: room, Agents: []*livekit.RoomAgentDispatch{
		{AgentName: "transcriber", Metadata: "m1"}, {AgentName: "moderator"},
	}}); err != nil {
		t.Fatal(err)
	}
	c.wantDispatches(t, "CreateRoom with agents", room, agent{"moderator", ""}, agent{"transcriber", "m1"})
	ids := c.dispatchIDs(t, room)

	if _, err := c.rooms.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: room, Agents: []*livekit.RoomAgentDispatch{{AgentName: "other"}}}); err != nil {
		t.Fatal(err)
	}
	c.joinWithConfig(t, room, "carol", &livekit.RoomConfiguration{
		EmptyTimeout: 77, DepartureTimeout: 13, MaxParticipants: 9,
		Agents: []*livekit.RoomAgentDispatch{{AgentName: "helper"}},
	})
	if got := c.dispatchIDs(t, room); !slices.Equal(got, ids) {
		t.Errorf("dispatches of an existing room changed: %v, were %v (%v)", got, ids, c.dispatches(t, room))
	}
	wantSettings(t, "a room joined with another roomConfig", c.roomInfo(t, room), 300, 20, 0)
}

// listDispatchUnknownRoom: ListDispatch on a room no node hosts is
// unavailable, "no response from servers" (after about 3 s on the real
// server), as for the other requests that must reach a running room.
func (c *suite) listDispatchUnknownRoom(t *testing.T) {
	_, err := c.dispatch.ListDispatch(context.Background(), &livekit.ListAgentDispatchRequest{Room: unique("missing")})
	wantCode(t, "ListDispatch(missing room)", err, twirp.Unavailable)
	var terr twirp.Error
	if errors.As(err, &terr) && terr.Msg() != "twirp error unknown: no response from servers" {
		t.Errorf("ListDispatch(missing room): message %q", terr.Msg())
	}
}
