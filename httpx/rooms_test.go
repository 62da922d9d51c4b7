package httpx_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/lkgatetest"
)

// seed creates room for acme over HTTP and puts alice (mic + camera) in it.
func (e *env) seed(t *testing.T, room string) *livekit.ParticipantInfo {
	t.Helper()
	if res := e.do(t, "POST", "/livekit/token", keyAcme, `{"room_name":"`+room+`","participant_identity":"alice"}`); res.status != 200 {
		t.Fatalf("token: %d %s", res.status, res.body)
	}
	return e.fake.AddParticipant(e.lkRoom(t, "acme", room), lkgatetest.Participant{
		Identity: "alice", Name: "Alice",
		Attributes: map[string]string{lkgate.TenantAttribute: "acme", "role": "host"},
		Tracks: []lkgatetest.Track{
			{Source: livekit.TrackSource_MICROPHONE, Type: livekit.TrackType_AUDIO},
			{Source: livekit.TrackSource_CAMERA, Type: livekit.TrackType_VIDEO},
		},
	})
}

func TestRoomRoutes(t *testing.T) {
	e := newEnv(t, lkgate.Config{}, httpx.StaticKeysConfig{})
	seeded := e.seed(t, "standup")
	e.join(t, keyGlobex, "theirs", "g")

	res := e.do(t, "GET", "/livekit/rooms", keyAcme, "")
	var list httpx.ListRoomsResponse
	if err := json.Unmarshal(res.body, &list); err != nil || res.status != 200 {
		t.Fatalf("%d %s", res.status, res.body)
	}
	if len(list.Rooms) != 1 || list.Rooms[0].Name != "standup" || list.Rooms[0].SID == "" || list.Rooms[0].CreationTime == 0 || list.Rooms[0].Metadata != "" {
		t.Errorf("rooms %+v", list.Rooms)
	}

	res = e.do(t, "GET", "/livekit/rooms/standup", keyAcme, "")
	var d httpx.RoomDetails
	if err := json.Unmarshal(res.body, &d); err != nil || res.status != 200 {
		t.Fatalf("%d %s", res.status, res.body)
	}
	if d.Name != "standup" || len(d.Participants) != 1 {
		t.Fatalf("details %s", res.body)
	}
	p := d.Participants[0]
	if p.Identity != "alice" || p.Kind != "standard" || p.State != "active" || len(p.Attributes) != 1 || p.Attributes["role"] != "host" ||
		len(p.Tracks) != 2 || p.Tracks[0].Source != "microphone" || p.Tracks[0].Type != "audio" || p.Tracks[0].SID != seeded.Tracks[0].Sid {
		t.Errorf("participant %s", res.body)
	}
	for _, field := range []string{`"num_participants":1`, `"max_participants"`, `"active_recording":false`, `"joined_at"`, `"is_publisher":true`, `"muted":false`} {
		if !bytes.Contains(res.body, []byte(field)) {
			t.Errorf("details lack %s: %s", field, res.body)
		}
	}

	res = e.do(t, "POST", "/livekit/participant/mute", keyAcme, `{"room_name":"standup","participant_identity":"alice","source":"camera","muted":true}`)
	var mute httpx.MuteResponse
	if err := json.Unmarshal(res.body, &mute); err != nil || res.status != 200 {
		t.Fatalf("%d %s", res.status, res.body)
	}
	if !mute.Muted || mute.TrackSID != seeded.Tracks[1].Sid || mute.Source != "camera" {
		t.Errorf("mute %+v", mute)
	}
	res = e.do(t, "POST", "/livekit/participant/mute", keyAcme, `{"room_name":"standup","participant_identity":"alice","track_sid":"`+seeded.Tracks[0].Sid+`","muted":true}`)
	if res.status != 200 || !bytes.Contains(res.body, []byte(`"muted":true`)) {
		t.Errorf("mute by sid: %d %s", res.status, res.body)
	}

	res = e.do(t, "DELETE", "/livekit/participant", keyAcme, `{"room_name":"standup","participant_identity":"alice"}`)
	if res.status != 200 || string(res.body) != `{"status":"removed","room_name":"standup","participant_identity":"alice"}`+"\n" {
		t.Errorf("remove: %d %s", res.status, res.body)
	}
	if res := e.do(t, "DELETE", "/livekit/participant", keyAcme, `{"room_name":"standup","participant_identity":"alice"}`); res.status != 404 {
		t.Errorf("second remove: %d %s", res.status, res.body)
	}
}

// join has a client join room with a token of key's tenant, so that the
// room exists in LiveKit.
func (e *env) join(t *testing.T, key, room, identity string) *livekit.ParticipantInfo {
	t.Helper()
	res := e.do(t, "POST", "/livekit/token", key, `{"room_name":"`+room+`","participant_identity":"`+identity+`"}`)
	if res.status != 200 {
		t.Fatalf("token: %d %s", res.status, res.body)
	}
	p, err := e.fake.Join(decodeBody[httpx.TokenResponse](t, res).Token)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Under ScopedNames two tenants both have a room "standup": each lists and
// reads its own, under the name it uses, never LiveKit's.
func TestRoomRoutesScopedNames(t *testing.T) {
	e := newEnv(t, lkgate.Config{}, httpx.StaticKeysConfig{})
	e.join(t, keyAcme, "standup", "alice")
	e.join(t, keyGlobex, "standup", "gina")
	e.join(t, keyGlobex, "retro", "gina")
	sids := map[string]string{}
	for _, tc := range []struct {
		key, tenant, member string
		rooms               []string
	}{
		{keyAcme, "acme", "alice", []string{"standup"}},
		{keyGlobex, "globex", "gina", []string{"retro", "standup"}},
	} {
		list := decodeBody[httpx.ListRoomsResponse](t, e.do(t, "GET", "/livekit/rooms", tc.key, ""))
		var names []string
		for _, r := range list.Rooms {
			names = append(names, r.Name)
		}
		slices.Sort(names)
		if !slices.Equal(names, tc.rooms) {
			t.Errorf("%s lists %q, want %q", tc.tenant, names, tc.rooms)
		}
		res := e.do(t, "GET", "/livekit/rooms/standup", tc.key, "")
		d := decodeBody[httpx.RoomDetails](t, res)
		if res.status != 200 || d.Name != "standup" || len(d.Participants) != 1 || d.Participants[0].Identity != tc.member {
			t.Errorf("%s reads standup: %d %s", tc.tenant, res.status, res.body)
		}
		if lk, ok := e.fake.Room(e.lkRoom(t, tc.tenant, "standup")); !ok || lk.Sid != d.SID {
			t.Errorf("%s's standup is not LiveKit's %s", tc.tenant, e.lkRoom(t, tc.tenant, "standup"))
		}
		sids[tc.tenant] = d.SID
	}
	if sids["acme"] == sids["globex"] {
		t.Error("both tenants read the same LiveKit room")
	}
}

func TestParticipantRoutesBadInput(t *testing.T) {
	e := newEnv(t, lkgate.Config{}, httpx.StaticKeysConfig{})
	e.seed(t, "standup")
	tests := []struct {
		name, method, path, body string
		status                   int
		code, field              string
	}{
		{"unknown track", "POST", "/livekit/participant/mute", `{"room_name":"standup","participant_identity":"alice","track_sid":"TR_x","muted":true}`, 404, httpx.CodeNotFound, ""},
		{"unknown participant", "POST", "/livekit/participant/mute", `{"room_name":"standup","participant_identity":"bob","source":"camera","muted":true}`, 404, httpx.CodeNotFound, ""},
		{"remote unmute", "POST", "/livekit/participant/mute", `{"room_name":"standup","participant_identity":"alice","source":"camera","muted":false}`, 409, httpx.CodeConflict, ""},
		{"muted missing", "POST", "/livekit/participant/mute", `{"room_name":"standup","participant_identity":"alice","source":"camera"}`, 400, httpx.CodeInvalidArgument, "muted"},
		{"muted not bool", "POST", "/livekit/participant/mute", `{"room_name":"standup","participant_identity":"alice","source":"camera","muted":"yes"}`, 400, httpx.CodeInvalidArgument, "muted"},
		{"sid and source", "POST", "/livekit/participant/mute", `{"room_name":"standup","participant_identity":"alice","source":"camera","track_sid":"x","muted":true}`, 400, httpx.CodeInvalidArgument, "track_sid"},
		{"no track", "POST", "/livekit/participant/mute", `{"room_name":"standup","participant_identity":"alice","muted":true}`, 400, httpx.CodeInvalidArgument, "track_sid"},
		{"bad source", "POST", "/livekit/participant/mute", `{"room_name":"standup","participant_identity":"alice","source":"webcam","muted":true}`, 400, httpx.CodeInvalidArgument, "source"},
		{"unknown field", "POST", "/livekit/participant/mute", `{"room_name":"standup","participant_identity":"alice","source":"camera","muted":true,"force":1}`, 400, httpx.CodeInvalidArgument, "force"},
		{"empty room", "DELETE", "/livekit/participant", `{"room_name":"","participant_identity":"alice"}`, 400, httpx.CodeInvalidArgument, "room_name"},
		{"long identity", "DELETE", "/livekit/participant", `{"room_name":"standup","participant_identity":"` + strings.Repeat("i", 300) + `"}`, 400, httpx.CodeInvalidArgument, "participant_identity"},
		{"no body", "DELETE", "/livekit/participant", ``, 415, httpx.CodeUnsupportedMediaType, ""},
		{"long room in path", "GET", "/livekit/rooms/" + strings.Repeat("r", 300), ``, 400, httpx.CodeInvalidArgument, "room_name"},
		{"control char in path", "GET", "/livekit/rooms/a%07b", ``, 400, httpx.CodeInvalidArgument, "room_name"},
		{"wrong method", "POST", "/livekit/rooms/standup", ``, 405, httpx.CodeMethodNotAllowed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.do(t, tt.method, tt.path, keyAcme, tt.body)
			if res.status != tt.status || res.problem.Code != tt.code || res.problem.Field != tt.field {
				t.Fatalf("got %d %s field %q, want %d %s field %q: %s", res.status, res.problem.Code, res.problem.Field, tt.status, tt.code, tt.field, res.body)
			}
		})
	}
	if res := e.do(t, "POST", "/livekit/rooms/standup", keyAcme, ""); res.header.Get("Allow") != "GET, HEAD" {
		t.Errorf("405 Allow = %q", res.header.Get("Allow"))
	}
}

func requests(room, sid string) map[string][3]string {
	return map[string][3]string{
		"details": {"GET", "/livekit/rooms/" + room, ""},
		"remove":  {"DELETE", "/livekit/participant", `{"room_name":"` + room + `","participant_identity":"alice"}`},
		"mute":    {"POST", "/livekit/participant/mute", `{"room_name":"` + room + `","participant_identity":"alice","track_sid":"` + sid + `","muted":true}`},
	}
}

// Every room-scoped route answers another tenant's room with the very bytes
// it answers a missing room with (the names have equal length on purpose):
// under ScopedNames the other tenant's room is a missing one, under
// SharedNames it is masked as one.
func TestForeignRoomBodyIsByteIdentical(t *testing.T) {
	forEachNaming(t, testForeignRoomBodyIsByteIdentical)
}

func testForeignRoomBodyIsByteIdentical(t *testing.T, naming lkgate.RoomNaming) {
	e := newEnv(t, lkgate.Config{RoomNames: naming}, httpx.StaticKeysConfig{})
	seeded := e.seed(t, "room-a")
	for name, foreign := range requests("room-a", seeded.Tracks[0].Sid) {
		missing := requests("room-b", seeded.Tracks[0].Sid)[name]
		f := e.do(t, foreign[0], foreign[1], keyGlobex, foreign[2])
		m := e.do(t, missing[0], missing[1], keyGlobex, missing[2])
		if f.status != 404 || !bytes.Equal(f.body, m.body) {
			t.Errorf("%s: foreign room %d %s, missing room %d %s", name, f.status, f.body, m.status, m.body)
		}
	}
	if ps := e.fake.Participants(e.lkRoom(t, "acme", "room-a")); len(ps) != 1 || ps[0].Tracks[0].Muted {
		t.Errorf("globex changed acme's room: %v", ps)
	}
	res := e.do(t, "GET", "/livekit/rooms", keyGlobex, "")
	if res.status != 200 || string(res.body) != `{"rooms":[]}`+"\n" {
		t.Errorf("globex lists %s", res.body)
	}
}
