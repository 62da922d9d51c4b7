// Package contract is the one test suite that both lkgatetest's fake and a
// real livekit-server must pass, so the fake cannot drift from the server on
// any behaviour lkgate relies on.
package contract

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/twitchtv/twirp"

	"github.com/lkgate/lkgate"
)

// Target is a LiveKit to run the suite against.
type Target struct {
	URL, APIKey, APISecret string
	// Join puts a participant with identity and attributes into room, as a
	// client holding a join token would (creating the room if needed), and
	// returns once the server lists it.
	Join func(t *testing.T, room, identity string, attributes map[string]string)
	// Publish is Join, then publishes a microphone audio track; it returns
	// once the server lists the track, with the track's SID.
	Publish func(t *testing.T, room, identity string) string
	// JoinToken joins as a client holding token would, the token naming
	// room and identity, and returns once the server lists the participant.
	JoinToken func(t *testing.T, room, identity, token string)
}

// Run runs every contract test against target.
func Run(t *testing.T, target Target) {
	c := &suite{
		Target:   target,
		rooms:    lksdk.NewRoomServiceClient(target.URL, target.APIKey, target.APISecret),
		raw:      livekit.NewRoomServiceProtobufClient(target.URL, http.DefaultClient),
		dispatch: lksdk.NewAgentDispatchServiceClient(target.URL, target.APIKey, target.APISecret),
	}
	t.Run("CreateRoomOnExistingNameIsAGet", c.createRoomIsGet)
	t.Run("ListRoomsFiltersByName", c.listRoomsByName)
	t.Run("RoomNameLimit", c.roomNameLimit)
	t.Run("UpdateRoomMetadataLimit", c.metadataLimit)
	t.Run("UnknownRoomAndParticipant", c.unknowns)
	t.Run("JoinedParticipantIsListed", c.joinedParticipant)
	t.Run("ClientTokensCannotManageRooms", c.clientTokensRefused)
	t.Run("JoinAppliesTokenRoomConfig", c.joinRoomConfig)
	t.Run("CreateRoomDispatchesAgentsOnce", c.createRoomAgents)
	t.Run("ListDispatchUnknownRoom", c.listDispatchUnknownRoom)
	t.Run("ManagerClaimsNewRoom", c.managerClaims)
	t.Run("ManagerRespectsJoinedForeigner", c.managerForeigner)
	t.Run("ManagerScopedNamesSeparateTenants", c.scopedSeparateTenants)
	t.Run("ManagerScopedNamesIgnorePlainRoom", c.scopedIgnorePlainRoom)
	t.Run("PublishedTrackIsListed", c.publishedTrack)
	t.Run("MuteQuirks", c.muteQuirks)
	t.Run("RemoveParticipant", c.removeParticipant)
	t.Run("UpdateParticipantReplacesPermissions", c.replacePermissions)
	t.Run("GuestLobby", func(t *testing.T) {
		t.Run("shared", func(t *testing.T) { c.guestLobby(t, lkgate.SharedNames) })
		t.Run("scoped", func(t *testing.T) { c.guestLobby(t, lkgate.ScopedNames) })
	})
}

type suite struct {
	Target
	rooms    *lksdk.RoomServiceClient // signs admin tokens
	raw      livekit.RoomService      // sends whatever token the context carries
	dispatch *lksdk.AgentDispatchClient
}

// unique returns a room name no other test (or earlier run on a shared
// server) uses.
func unique(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

func codeOf(err error) twirp.ErrorCode {
	var terr twirp.Error
	if errors.As(err, &terr) {
		return terr.Code()
	}
	return ""
}

func wantCode(t *testing.T, what string, err error, want twirp.ErrorCode) {
	t.Helper()
	if got := codeOf(err); got != want {
		t.Errorf("%s: error %v (code %q), want code %q", what, lkgate.Redact(fmt.Sprint(err)), got, want)
	}
}

func (c *suite) createRoomIsGet(t *testing.T) {
	ctx := context.Background()
	name := unique("get")
	first, err := c.rooms.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: name, Metadata: `{"v":1}`, MaxParticipants: 3})
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.rooms.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: name, Metadata: `{"v":2}`, MaxParticipants: 9})
	if err != nil {
		t.Fatal(err)
	}
	if again.Sid != first.Sid || again.Metadata != `{"v":1}` || again.MaxParticipants != 3 {
		t.Errorf("second CreateRoom changed the room: sid %s→%s metadata %q max %d", first.Sid, again.Sid, again.Metadata, again.MaxParticipants)
	}
	if first.EmptyTimeout != 300 || first.DepartureTimeout != 20 {
		t.Errorf("defaults: empty_timeout %d departure_timeout %d, want 300 and 20", first.EmptyTimeout, first.DepartureTimeout)
	}
}

func (c *suite) listRoomsByName(t *testing.T) {
	ctx := context.Background()
	a, b := unique("list-a"), unique("list-b")
	for _, n := range []string{a, b} {
		if _, err := c.rooms.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := c.rooms.ListRooms(ctx, &livekit.ListRoomsRequest{Names: []string{a, unique("missing")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rooms) != 1 || res.Rooms[0].Name != a {
		t.Errorf("ListRooms([a, missing]) = %v, want only %s", names(res.Rooms), a)
	}
	res, err = c.rooms.ListRooms(ctx, &livekit.ListRoomsRequest{Names: []string{unique("missing")}})
	if err != nil || len(res.Rooms) != 0 {
		t.Errorf("ListRooms([missing]) = %v, %v; want empty, no error", names(res.GetRooms()), err)
	}
}

func names(rooms []*livekit.Room) []string {
	var out []string
	for _, r := range rooms {
		out = append(out, r.Name)
	}
	return out
}

func (c *suite) roomNameLimit(t *testing.T) {
	ctx := context.Background()
	base := unique("n")
	ok := base + strings.Repeat("x", 256-len(base))
	if _, err := c.rooms.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: ok}); err != nil {
		t.Errorf("256-byte name refused: %v", err)
	}
	_, err := c.rooms.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: ok + "x"})
	wantCode(t, "257-byte name", err, twirp.InvalidArgument)
}

func (c *suite) metadataLimit(t *testing.T) {
	ctx := context.Background()
	name := unique("md")
	if _, err := c.rooms.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: name}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.rooms.UpdateRoomMetadata(ctx, &livekit.UpdateRoomMetadataRequest{Room: name, Metadata: strings.Repeat("m", 64000)}); err != nil {
		t.Errorf("64000 bytes refused: %v", err)
	}
	_, err := c.rooms.UpdateRoomMetadata(ctx, &livekit.UpdateRoomMetadataRequest{Room: name, Metadata: strings.Repeat("m", 64001)})
	wantCode(t, "64001 bytes", err, twirp.InvalidArgument)
}

func (c *suite) unknowns(t *testing.T) {
	ctx := context.Background()
	missing := unique("missing")
	res, err := c.rooms.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: missing})
	if err != nil || len(res.Participants) != 0 {
		t.Errorf("ListParticipants(missing room) = %v, %v; want empty, no error", res, err)
	}
	_, err = c.rooms.GetParticipant(ctx, &livekit.RoomParticipantIdentity{Room: missing, Identity: "nobody"})
	wantCode(t, "GetParticipant(missing)", err, twirp.NotFound)
	_, err = c.rooms.RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: missing, Identity: "nobody"})
	wantCode(t, "RemoveParticipant(missing)", err, twirp.NotFound)
}

func (c *suite) joinedParticipant(t *testing.T) {
	ctx := context.Background()
	room := unique("join")
	c.Join(t, room, "alice", map[string]string{lkgate.TenantAttribute: "acme"})
	res, err := c.rooms.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: room})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Participants) != 1 || res.Participants[0].Identity != "alice" || res.Participants[0].Attributes[lkgate.TenantAttribute] != "acme" {
		t.Fatalf("participants %v", res.Participants)
	}
	r, err := c.rooms.ListRooms(ctx, &livekit.ListRoomsRequest{Names: []string{room}})
	if err != nil || len(r.Rooms) != 1 || r.Rooms[0].Metadata != "" {
		t.Errorf("a join-created room: %v %v, want one room with empty metadata", r.GetRooms(), err)
	}
}

// clientTokensRefused: what lkgate relies on when it says client tokens
// cannot manage rooms.
func (c *suite) clientTokensRefused(t *testing.T) {
	ctx := context.Background()
	room := unique("guard")
	if _, err := c.rooms.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: room}); err != nil {
		t.Fatal(err)
	}
	bool_ := func(v bool) *bool { return &v }
	grants := map[string]*auth.VideoGrant{
		"join only":                 {RoomJoin: true, Room: room},
		"join + updateOwnMetadata":  {RoomJoin: true, Room: room, CanUpdateOwnMetadata: bool_(true)},
		"roomCreate only":           {RoomCreate: true},
		"roomList only":             {RoomList: true},
		"roomAdmin of another room": {RoomAdmin: true, RoomJoin: true, Room: room + "-other"},
	}
	for name, g := range grants {
		_, err := c.raw.UpdateRoomMetadata(c.bearer(ctx, t, g), &livekit.UpdateRoomMetadataRequest{Room: room, Metadata: `{"auth_id":"mallory"}`})
		wantCode(t, name+": UpdateRoomMetadata", err, twirp.Unauthenticated)
	}
	join := &auth.VideoGrant{RoomJoin: true, Room: room, CanPublish: bool_(true), CanSubscribe: bool_(true)}
	jctx := c.bearer(ctx, t, join)
	_, err := c.raw.ListRooms(jctx, &livekit.ListRoomsRequest{})
	wantCode(t, "join token: ListRooms", err, twirp.Unauthenticated)
	_, err = c.raw.CreateRoom(jctx, &livekit.CreateRoomRequest{Name: unique("evil")})
	wantCode(t, "join token: CreateRoom", err, twirp.Unauthenticated)
	_, err = c.raw.DeleteRoom(jctx, &livekit.DeleteRoomRequest{Room: room})
	wantCode(t, "join token: DeleteRoom", err, twirp.Unauthenticated)

	r, err := c.rooms.ListRooms(ctx, &livekit.ListRoomsRequest{Names: []string{room}})
	if err != nil || len(r.Rooms) != 1 || r.Rooms[0].Metadata != "" {
		t.Errorf("room after refused writes: %v %v", r.GetRooms(), err)
	}
}

// bearer puts a token with grant g on the context, for the raw client, as a
// client holding that token would send it.
func (c *suite) bearer(ctx context.Context, t *testing.T, g *auth.VideoGrant) context.Context {
	t.Helper()
	tok, err := auth.NewAccessToken(c.APIKey, c.APISecret).SetIdentity("client").SetVideoGrant(g).SetValidFor(time.Minute).ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+tok)
	ctx, err = twirp.WithHTTPRequestHeaders(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	return ctx
}

// manager returns a Manager on the target with cfg's optional fields,
// closed when t ends.
func (c *suite) manager(t *testing.T, cfg lkgate.Config) *lkgate.Manager {
	t.Helper()
	cfg.URL, cfg.APIKey, cfg.APISecret = c.URL, c.APIKey, c.APISecret
	m, err := lkgate.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// managerClaims: under SharedNames, what lkgate's claims rely on.
func (c *suite) managerClaims(t *testing.T) {
	ctx := context.Background()
	m := c.manager(t, lkgate.Config{RoomNames: lkgate.SharedNames})
	room := unique("claim")
	if _, err := c.rooms.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: room, Metadata: `{"topic":"retro"}`}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: room, Identity: "a"}); err != nil {
		t.Fatal(err)
	}
	fresh := unique("claim-new")
	if _, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: fresh, Identity: "a"}); err != nil {
		t.Fatal(err)
	}
	res, err := c.rooms.ListRooms(ctx, &livekit.ListRoomsRequest{Names: []string{room, fresh}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{room: `{"auth_id":"acme","topic":"retro"}`, fresh: `{"auth_id":"acme"}`}
	for _, r := range res.Rooms {
		if r.Metadata != want[r.Name] {
			t.Errorf("room %s metadata %q, want %q", r.Name, r.Metadata, want[r.Name])
		}
		delete(want, r.Name)
	}
	if len(want) != 0 {
		t.Errorf("rooms missing: %v", want)
	}
	if _, err := m.Token(ctx, "globex", lkgate.TokenRequest{Room: room, Identity: "g"}); !errors.Is(err, lkgate.ErrForbidden) {
		t.Errorf("other tenant: %v, want ErrForbidden", err)
	}
}

// managerForeigner: under SharedNames, a room with another tenant's
// participant in it cannot be claimed.
func (c *suite) managerForeigner(t *testing.T) {
	ctx := context.Background()
	m := c.manager(t, lkgate.Config{RoomNames: lkgate.SharedNames})
	room := unique("foreign")
	c.Join(t, room, "g1", map[string]string{lkgate.TenantAttribute: "globex"})
	if _, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: room, Identity: "a"}); !errors.Is(err, lkgate.ErrForbidden) {
		t.Errorf("claiming a room with another tenant's participant: %v, want ErrForbidden", err)
	}
	if _, err := m.Token(ctx, "globex", lkgate.TokenRequest{Room: room, Identity: "g2"}); err != nil {
		t.Errorf("the participant's own tenant: %v", err)
	}
}

func (c *suite) publishedTrack(t *testing.T) {
	room := unique("track")
	sid := c.Publish(t, room, "speaker")
	p, err := c.rooms.GetParticipant(context.Background(), &livekit.RoomParticipantIdentity{Room: room, Identity: "speaker"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Tracks) != 1 || p.Tracks[0].Sid != sid || p.Tracks[0].Source != livekit.TrackSource_MICROPHONE ||
		p.Tracks[0].Type != livekit.TrackType_AUDIO || p.Tracks[0].Muted || !p.IsPublisher {
		t.Errorf("participant %v", p)
	}
}

// muteQuirks: an unknown track SID is no error and a nil track; remote
// unmute is refused; an unknown participant is "unavailable" (the real
// server takes about 3 s to say so), not "not found".
func (c *suite) muteQuirks(t *testing.T) {
	ctx := context.Background()
	room := unique("mute")
	sid := c.Publish(t, room, "speaker")
	res, err := c.rooms.MutePublishedTrack(ctx, &livekit.MuteRoomTrackRequest{Room: room, Identity: "speaker", TrackSid: "TR_unknown", Muted: true})
	if err != nil || res.Track != nil {
		t.Errorf("unknown track sid: %v, %v; want a nil track and no error", res, err)
	}
	res, err = c.rooms.MutePublishedTrack(ctx, &livekit.MuteRoomTrackRequest{Room: room, Identity: "speaker", TrackSid: sid, Muted: true})
	if err != nil || res.Track == nil || !res.Track.Muted {
		t.Fatalf("mute: %v, %v", res, err)
	}
	_, err = c.rooms.MutePublishedTrack(ctx, &livekit.MuteRoomTrackRequest{Room: room, Identity: "speaker", TrackSid: sid, Muted: false})
	wantCode(t, "remote unmute", err, twirp.FailedPrecondition)
	_, err = c.rooms.MutePublishedTrack(ctx, &livekit.MuteRoomTrackRequest{Room: room, Identity: "nobody", TrackSid: sid, Muted: true})
	wantCode(t, "unknown participant", err, twirp.Unavailable)
}

func (c *suite) removeParticipant(t *testing.T) {
	ctx := context.Background()
	room := unique("remove")
	c.Join(t, room, "leaver", nil)
	if _, err := c.rooms.RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: room, Identity: "leaver"}); err != nil {
		t.Fatal(err)
	}
	// The server drops the participant after answering; on two busy cores
	// that has taken seconds.
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := c.rooms.GetParticipant(ctx, &livekit.RoomParticipantIdentity{Room: room, Identity: "leaver"})
		if codeOf(err) == twirp.NotFound {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("participant still there after removal: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *suite) replacePermissions(t *testing.T) {
	ctx := context.Background()
	room := unique("perm")
	c.Join(t, room, "p", nil)
	updated, err := c.rooms.UpdateParticipant(ctx, &livekit.UpdateParticipantRequest{Room: room, Identity: "p", Permission: &livekit.ParticipantPermission{CanSubscribe: true}})
	if err != nil {
		t.Fatal(err)
	}
	if perm := updated.Permission; perm.CanPublish || perm.CanPublishData || !perm.CanSubscribe {
		t.Errorf("permission after replace: %v", perm)
	}
	kept, err := c.rooms.UpdateParticipant(ctx, &livekit.UpdateParticipantRequest{Room: room, Identity: "p", Metadata: "only metadata"})
	if err != nil {
		t.Fatal(err)
	}
	if perm := kept.Permission; perm.CanPublish || !perm.CanSubscribe || kept.Metadata != "only metadata" {
		t.Errorf("a metadata-only update changed permissions: %v", kept)
	}
}
