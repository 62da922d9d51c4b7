package httpx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

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

// A removal with ban_seconds bans the identity: it is removed, its token
// request is a 403 on participant_identity with no LiveKit call, and a
// ban of an identity not in the room is a 200 too; an unban lets it have
// tokens again. DELETE of the room ends it for everyone; a second DELETE
// is a 404.
func TestBanAndDeleteRoomRoutes(t *testing.T) {
	forEachNaming(t, func(t *testing.T, naming lkgate.RoomNaming) {
		e := newEnv(t, lkgate.Config{RoomNames: naming}, httpx.StaticKeysConfig{})
		e.seed(t, "standup")
		e.fake.AddParticipant(e.lkRoom(t, "acme", "standup"), lkgatetest.Participant{Identity: "bob", Attributes: map[string]string{lkgate.TenantAttribute: "acme"}})
		res := e.do(t, "DELETE", "/livekit/participant", keyAcme, `{"room_name":"standup","participant_identity":"alice","ban_seconds":3600}`)
		got := decodeBody[httpx.RemoveParticipantResponse](t, res)
		if res.status != 200 || got.Status != "banned" || got.ParticipantIdentity != "alice" || got.BannedUntil < time.Now().Add(59*time.Minute).Unix() {
			t.Fatalf("ban: %d %s", res.status, res.body)
		}
		if _, ok := e.fake.Participant(e.lkRoom(t, "acme", "standup"), "alice"); ok {
			t.Error("the banned alice is still in the room")
		}
		e.fake.ResetCalls()
		res = e.do(t, "POST", "/livekit/token", keyAcme, `{"room_name":"standup","participant_identity":"alice"}`)
		if res.status != 403 || res.problem.Field != "participant_identity" {
			t.Errorf("token for the banned alice: %d %s", res.status, res.body)
		}
		if n := e.fake.TotalCalls(); n != 0 {
			t.Errorf("the refusal made %d LiveKit calls", n)
		}
		if res := e.do(t, "DELETE", "/livekit/participant", keyAcme, `{"room_name":"standup","participant_identity":"alice","ban_seconds":60}`); res.status != 200 {
			t.Errorf("ban of an identity not in the room: %d %s", res.status, res.body)
		}
		if res := e.do(t, "POST", "/livekit/token", keyAcme, `{"room_name":"standup","participant_identity":"bob"}`); res.status != 200 {
			t.Errorf("token for bob: %d %s", res.status, res.body)
		}

		res = e.do(t, "POST", "/livekit/participant/unban", keyAcme, `{"room_name":"standup","participant_identity":"alice"}`)
		if res.status != 200 || string(res.body) != `{"status":"unbanned","room_name":"standup","participant_identity":"alice"}`+"\n" {
			t.Fatalf("unban: %d %s", res.status, res.body)
		}
		if res := e.do(t, "POST", "/livekit/token", keyAcme, `{"room_name":"standup","participant_identity":"alice"}`); res.status != 200 {
			t.Errorf("token for the unbanned alice: %d %s", res.status, res.body)
		}
		if res := e.do(t, "POST", "/livekit/participant/unban", keyAcme, `{"room_name":"standup","participant_identity":"carol"}`); res.status != 200 {
			t.Errorf("unban of an identity never banned: %d %s", res.status, res.body)
		}

		res = e.do(t, "DELETE", "/livekit/rooms/standup", keyAcme, "")
		if res.status != 200 || string(res.body) != `{"status":"deleted","room_name":"standup"}`+"\n" {
			t.Fatalf("delete: %d %s", res.status, res.body)
		}
		if _, ok := e.fake.Room(e.lkRoom(t, "acme", "standup")); ok {
			t.Error("the room is still open")
		}
		if res := e.do(t, "DELETE", "/livekit/rooms/standup", keyAcme, ""); res.status != 404 {
			t.Errorf("second delete: %d %s", res.status, res.body)
		}
	})
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

// Every refusal of bad input on the room and participant routes names its
// field and comes before any LiveKit call, under both namings (under
// SharedNames the ownership check is a call, so a field validated after
// it shows); only the answers that need LiveKit (an unknown participant or
// track, a remote unmute) reach it.
func TestParticipantRoutesBadInput(t *testing.T) { forEachNaming(t, testParticipantRoutesBadInput) }

func testParticipantRoutesBadInput(t *testing.T, naming lkgate.RoomNaming) {
	e := newEnv(t, lkgate.Config{RoomNames: naming}, httpx.StaticKeysConfig{})
	e.seed(t, "standup")
	long := strings.Repeat("i", 300)
	tests := []struct {
		name, method, path, body string
		status                   int
		code, field              string
	}{
		{"unknown track", "POST", "/livekit/participant/mute", `{"room_name":"standup","participant_identity":"alice","track_sid":"TR_x","muted":true}`, 404, httpx.CodeNotFound, ""},
		{"unknown participant", "POST", "/livekit/participant/mute", `{"room_name":"standup","participant_identity":"bob","source":"camera","muted":true}`, 404, httpx.CodeNotFound, ""},
		{"remote unmute", "POST", "/livekit/participant/mute", `{"room_name":"standup","participant_identity":"alice","source":"camera","muted":false}`, 409, httpx.CodeConflict, ""},
		{"mute long identity", "POST", "/livekit/participant/mute", `{"room_name":"standup","participant_identity":"` + long + `","source":"camera","muted":true}`, 400, httpx.CodeInvalidArgument, "participant_identity"},
		{"mute control char identity", "POST", "/livekit/participant/mute", `{"room_name":"standup","participant_identity":"a\u0007b","source":"camera","muted":true}`, 400, httpx.CodeInvalidArgument, "participant_identity"},
		{"mute empty identity", "POST", "/livekit/participant/mute", `{"room_name":"standup","participant_identity":"","source":"camera","muted":true}`, 400, httpx.CodeInvalidArgument, "participant_identity"},
		{"mute long track sid", "POST", "/livekit/participant/mute", `{"room_name":"standup","participant_identity":"alice","track_sid":"` + long + `","muted":true}`, 400, httpx.CodeInvalidArgument, "track_sid"},
		{"mute lobby room", "POST", "/livekit/participant/mute", `{"room_name":"` + lkgate.LobbyPrefix + `x","participant_identity":"alice","source":"camera","muted":true}`, 400, httpx.CodeInvalidArgument, "room_name"},
		{"remove control char identity", "DELETE", "/livekit/participant", `{"room_name":"standup","participant_identity":"a\u0007b"}`, 400, httpx.CodeInvalidArgument, "participant_identity"},
		{"remove bidi identity", "DELETE", "/livekit/participant", `{"room_name":"standup","participant_identity":"a\u202eb"}`, 400, httpx.CodeInvalidArgument, "participant_identity"},
		{"remove long room", "DELETE", "/livekit/participant", `{"room_name":"` + long + `","participant_identity":"alice"}`, 400, httpx.CodeInvalidArgument, "room_name"},
		{"muted missing", "POST", "/livekit/participant/mute", `{"room_name":"standup","participant_identity":"alice","source":"camera"}`, 400, httpx.CodeInvalidArgument, "muted"},
		{"muted not bool", "POST", "/livekit/participant/mute", `{"room_name":"standup","participant_identity":"alice","source":"camera","muted":"yes"}`, 400, httpx.CodeInvalidArgument, "muted"},
		{"sid and source", "POST", "/livekit/participant/mute", `{"room_name":"standup","participant_identity":"alice","source":"camera","track_sid":"x","muted":true}`, 400, httpx.CodeInvalidArgument, "track_sid"},
		{"no track", "POST", "/livekit/participant/mute", `{"room_name":"standup","participant_identity":"alice","muted":true}`, 400, httpx.CodeInvalidArgument, "track_sid"},
		{"bad source", "POST", "/livekit/participant/mute", `{"room_name":"standup","participant_identity":"alice","source":"webcam","muted":true}`, 400, httpx.CodeInvalidArgument, "source"},
		{"unknown field", "POST", "/livekit/participant/mute", `{"room_name":"standup","participant_identity":"alice","source":"camera","muted":true,"force":1}`, 400, httpx.CodeInvalidArgument, "force"},
		{"empty room", "DELETE", "/livekit/participant", `{"room_name":"","participant_identity":"alice"}`, 400, httpx.CodeInvalidArgument, "room_name"},
		{"long identity", "DELETE", "/livekit/participant", `{"room_name":"standup","participant_identity":"` + strings.Repeat("i", 300) + `"}`, 400, httpx.CodeInvalidArgument, "participant_identity"},
		{"no body", "DELETE", "/livekit/participant", ``, 415, httpx.CodeUnsupportedMediaType, ""},
		{"negative ban", "DELETE", "/livekit/participant", `{"room_name":"standup","participant_identity":"alice","ban_seconds":-1}`, 400, httpx.CodeInvalidArgument, "ban_seconds"},
		{"ban too long", "DELETE", "/livekit/participant", `{"room_name":"standup","participant_identity":"alice","ban_seconds":604801}`, 400, httpx.CodeInvalidArgument, "ban_seconds"},
		{"ban overflowing a duration", "DELETE", "/livekit/participant", `{"room_name":"standup","participant_identity":"alice","ban_seconds":9223372036854775807}`, 400, httpx.CodeInvalidArgument, "ban_seconds"},
		{"ban not a number", "DELETE", "/livekit/participant", `{"room_name":"standup","participant_identity":"alice","ban_seconds":"60"}`, 400, httpx.CodeInvalidArgument, "ban_seconds"},
		{"ban of an empty identity", "DELETE", "/livekit/participant", `{"room_name":"standup","participant_identity":"","ban_seconds":60}`, 400, httpx.CodeInvalidArgument, "participant_identity"},
		{"unban empty identity", "POST", "/livekit/participant/unban", `{"room_name":"standup","participant_identity":""}`, 400, httpx.CodeInvalidArgument, "participant_identity"},
		{"unban bidi identity", "POST", "/livekit/participant/unban", `{"room_name":"standup","participant_identity":"a\u202eb"}`, 400, httpx.CodeInvalidArgument, "participant_identity"},
		{"unban long room", "POST", "/livekit/participant/unban", `{"room_name":"` + long + `","participant_identity":"alice"}`, 400, httpx.CodeInvalidArgument, "room_name"},
		{"unban lobby room", "POST", "/livekit/participant/unban", `{"room_name":"` + lkgate.LobbyPrefix + `x","participant_identity":"alice"}`, 400, httpx.CodeInvalidArgument, "room_name"},
		{"unban with ban_seconds", "POST", "/livekit/participant/unban", `{"room_name":"standup","participant_identity":"alice","ban_seconds":60}`, 400, httpx.CodeInvalidArgument, "ban_seconds"},
		{"unban no body", "POST", "/livekit/participant/unban", ``, 415, httpx.CodeUnsupportedMediaType, ""},
		{"delete long room", "DELETE", "/livekit/rooms/" + strings.Repeat("r", 300), ``, 400, httpx.CodeInvalidArgument, "room_name"},
		{"delete control char room", "DELETE", "/livekit/rooms/a%07b", ``, 400, httpx.CodeInvalidArgument, "room_name"},
		{"delete lobby", "DELETE", "/livekit/rooms/" + lkgate.LobbyPrefix + "x", ``, 400, httpx.CodeInvalidArgument, "room_name"},
		{"long room in path", "GET", "/livekit/rooms/" + strings.Repeat("r", 300), ``, 400, httpx.CodeInvalidArgument, "room_name"},
		{"control char in path", "GET", "/livekit/rooms/a%07b", ``, 400, httpx.CodeInvalidArgument, "room_name"},
		{"wrong method", "POST", "/livekit/rooms/standup", ``, 405, httpx.CodeMethodNotAllowed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.fake.ResetCalls()
			res := e.do(t, tt.method, tt.path, keyAcme, tt.body)
			if res.status != tt.status || res.problem.Code != tt.code || res.problem.Field != tt.field {
				t.Fatalf("got %d %s field %q, want %d %s field %q: %s", res.status, res.problem.Code, res.problem.Field, tt.status, tt.code, tt.field, res.body)
			}
			if n := e.fake.TotalCalls(); tt.status != 404 && tt.status != 409 && n != 0 {
				t.Errorf("bad input made %d LiveKit calls before its %d", n, tt.status)
			}
		})
	}
	if res := e.do(t, "POST", "/livekit/rooms/standup", keyAcme, ""); res.header.Get("Allow") != "GET, HEAD, DELETE" && res.header.Get("Allow") != "DELETE, GET, HEAD" {
		t.Errorf("405 Allow = %q", res.header.Get("Allow"))
	}
}

// requests are the room-scoped requests besides the token route, each
// naming room: every route that masks another tenant's room (see
// docs/threat-model.md).
func requests(room, sid string) map[string][3]string {
	return map[string][3]string{
		"details":  {"GET", "/livekit/rooms/" + room, ""},
		"remove":   {"DELETE", "/livekit/participant", `{"room_name":"` + room + `","participant_identity":"alice"}`},
		"ban":      {"DELETE", "/livekit/participant", `{"room_name":"` + room + `","participant_identity":"alice","ban_seconds":60}`},
		"unban":    {"POST", "/livekit/participant/unban", `{"room_name":"` + room + `","participant_identity":"alice"}`},
		"delete":   {"DELETE", "/livekit/rooms/" + room, ""},
		"mute":     {"POST", "/livekit/participant/mute", `{"room_name":"` + room + `","participant_identity":"alice","track_sid":"` + sid + `","muted":true}`},
		"invite":   {"POST", "/livekit/guest/invite", `{"roomId":"` + room + `","allowAll":true}`},
		"admit":    {"POST", "/livekit/guest/admit", `{"roomId":"` + room + `","guestIdentity":"` + lkgate.GuestIdentityPrefix + `x","action":"admit"}`},
		"waiting":  {"GET", "/livekit/guest/waiting?roomId=" + room, ""},
		"call":     {"POST", "/sip/call", `{"room_name":"` + room + `","participant_identity":"alice","to_phone_number":"+15550100"}`},
		"transfer": {"POST", "/sip/transfer", `{"room_name":"` + room + `","participant_identity":"alice","transfer_to":"+15550199"}`},
	}
}

// Every room-scoped route answers another tenant's room as it answers a
// missing room. Under SharedNames that is the very bytes of a missing
// room's 404 (the names have equal length on purpose), also where a
// missing name would be claimed (invite, call), and nothing of acme's room
// changes or is dialed or listed. Under ScopedNames the other tenant's name
// is one of globex's own, answered as its missing room-b is. Each route
// runs on a Manager of its own, so that no route's claim changes another's
// answer.
func TestForeignRoomBodyIsByteIdentical(t *testing.T) {
	forEachNaming(t, testForeignRoomBodyIsByteIdentical)
}

func testForeignRoomBodyIsByteIdentical(t *testing.T, naming lkgate.RoomNaming) {
	names := slices.Sorted(maps.Keys(requests("", "")))
	if len(names) != 11 {
		t.Fatalf("%d room-scoped requests, want 11: %v", len(names), names)
	}
	for _, name := range names {
		e := newMaskEnv(t, naming)
		seeded := e.seed(t, "room-a")
		sid := seeded.Tracks[0].Sid
		notFound := e.do(t, "GET", "/livekit/rooms/room-c", keyGlobex, "")
		if notFound.status != 404 {
			t.Fatalf("a missing room: %d %s", notFound.status, notFound.body)
		}
		foreign, missing := requests("room-a", sid)[name], requests("room-b", sid)[name]
		f := e.do(t, foreign[0], foreign[1], keyGlobex, foreign[2])
		m := e.do(t, missing[0], missing[1], keyGlobex, missing[2])
		if naming == lkgate.SharedNames && m.status == 404 && !bytes.Equal(m.body, notFound.body) {
			t.Errorf("%s: a missing room answers %s, the details route %s", name, m.body, notFound.body)
		}
		switch {
		case naming == lkgate.SharedNames && (f.status != 404 || !bytes.Equal(f.body, notFound.body)):
			t.Errorf("%s: acme's room %d %s, a missing room %s", name, f.status, f.body, notFound.body)
		case naming == lkgate.ScopedNames && (f.status != m.status || f.status == 404 && !bytes.Equal(f.body, m.body)):
			t.Errorf("%s: globex's room-a %d %s, its missing room-b %d %s", name, f.status, f.body, m.status, m.body)
		}
		if ps := e.fake.Participants(e.lkRoom(t, "acme", "room-a")); len(ps) != 1 || ps[0].Tracks[0].Muted {
			t.Errorf("%s: globex changed acme's room: %v", name, ps)
		}
		if res := e.do(t, "POST", "/livekit/token", keyAcme, `{"room_name":"room-a","participant_identity":"alice"}`); res.status != 200 {
			t.Errorf("%s: acme's alice is refused a token afterwards: %d %s", name, res.status, res.body)
		}
		if naming == lkgate.SharedNames {
			for _, d := range e.fake.Dialed() {
				if d.GetRoomName() == e.lkRoom(t, "acme", "room-a") {
					t.Errorf("%s: globex dialed into acme's room: %+v", name, d)
				}
			}
			if res := e.do(t, "GET", "/livekit/rooms", keyGlobex, ""); res.status != 200 || bytes.Contains(res.body, []byte(`"room-a"`)) {
				t.Errorf("%s: globex lists %s", name, res.body)
			}
		}
	}
}

// newMaskEnv is an env with guests and SIP (a trunk for globex).
func newMaskEnv(t *testing.T, naming lkgate.RoomNaming) *env {
	t.Helper()
	var mu sync.Mutex
	trunks := map[string]string{}
	e := newEnv(t, lkgate.Config{RoomNames: naming}, httpx.StaticKeysConfig{}).
		withGuests(t, testGuests).
		withSIP(t, lkgate.SIPConfig{Trunks: lkgate.TrunkPolicyFunc(func(ctx context.Context, tenant string) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			return lkgate.TenantTrunks(trunks).OutboundTrunk(ctx, tenant)
		})})
	mu.Lock()
	defer mu.Unlock()
	trunks["globex"] = e.fake.AddOutboundTrunk("globex.example", "+15550000002")
	return e
}
