package httpx_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
)

// The rows of the published APIs that clients written against them rely
// on, each as the published API states it. (POST /sip/call into another
// tenant's room under shared names is TestSIPRoutesCrossTenant.)

// An invite with neither allowAll nor allowedAdmins, and without orgId,
// is the caller's tenant's, and lets the inviting principal's Subject, and
// nobody else, admit the guest.
func TestPublishedInviteDefaults(t *testing.T) {
	forEachNaming(t, func(t *testing.T, naming lkgate.RoomNaming) {
		e := newGuestEnv(t, naming)
		tok := e.inviteToken(t, `{"roomId":"standup"}`)
		ra := decodeBody[httpx.RoomAuthResponse](t, e.do(t, "POST", "/livekit/guest/room-auth", "", `{"inviteToken":"`+tok+`","guestName":"Grace"}`))
		if _, err := e.fake.Join(ra.LiveKitToken); err != nil {
			t.Fatal(err)
		}
		admit := `{"roomId":"standup","guestIdentity":"` + ra.GuestIdentity + `","action":"admit"}`
		if res := e.do(t, "POST", "/livekit/guest/admit", keyAcmeBob, admit); res.status != 403 || res.problem.Code != httpx.CodeForbidden {
			t.Errorf("bob, who did not invite: %d %s", res.status, res.body)
		}
		if res := e.do(t, "POST", "/livekit/guest/admit", keyAcme, admit); res.status != 200 {
			t.Fatalf("alice, who invited: %d %s", res.status, res.body)
		}
		var msg lkgate.AdmissionMessage
		if err := json.Unmarshal([]byte(e.fake.Participants(ra.LobbyRoom)[0].Attributes[lkgate.AdmissionAttribute]), &msg); err != nil {
			t.Fatal(err)
		}
		if c := claimsOf(t, msg.Token); c.Video.Room != e.lkRoom(t, "acme", "standup") || c.Attributes[lkgate.TenantAttribute] != "acme" {
			t.Errorf("the guest's token names room %q for tenant %q", c.Video.Room, c.Attributes[lkgate.TenantAttribute])
		}
		// An empty orgId is the caller's tenant too.
		if res := e.do(t, "POST", "/livekit/guest/invite", keyAcme, `{"orgId":"","roomId":"standup"}`); res.status != 201 {
			t.Errorf("empty orgId: %d %s", res.status, res.body)
		}
	})
}

// A principal without a Subject, as in unauthenticated mode, has nobody
// to default to: the invite must name the admins or allow all (400 on
// allowedAdmins), never becoming one every admin may answer.
func TestPublishedInviteWithoutSubject(t *testing.T) {
	const keyNobody = "acme-nobody-key-0123456789"
	keyed := newEnv(t, lkgate.Config{}, httpx.StaticKeysConfig{Keys: map[string]httpx.Principal{
		keyNobody: {Tenant: "acme", Permissions: httpx.PermGuests},
	}}).withGuests(t, testGuests)
	open := newEnv(t, lkgate.Config{AllowUnauthenticated: true}, httpx.StaticKeysConfig{})
	open.hcfg.Authenticator = httpx.Unauthenticated("example.com")
	open.withGuests(t, testGuests)
	for name, e := range map[string]struct {
		env *env
		key string
	}{"no subject": {keyed, keyNobody}, "unauthenticated": {open, ""}} {
		t.Run(name, func(t *testing.T) {
			res := e.env.do(t, "POST", "/livekit/guest/invite", e.key, `{"roomId":"standup"}`)
			if res.status != 400 || res.problem.Field != "allowedAdmins" || !strings.Contains(res.problem.Detail, "no subject") {
				t.Errorf("invite naming nobody: %d %s", res.status, res.body)
			}
			for _, body := range []string{`{"roomId":"standup","allowAll":true}`, `{"roomId":"standup","allowedAdmins":["host"]}`} {
				if res := e.env.do(t, "POST", "/livekit/guest/invite", e.key, body); res.status != 201 {
					t.Errorf("%s: %d %s", body, res.status, res.body)
				}
			}
		})
	}
}

// durationSeconds outside the configured range is a 400 naming the limit,
// never shortened or lengthened; the limits themselves are accepted.
func TestPublishedInviteDuration(t *testing.T) {
	e := newGuestEnv(t, lkgate.ScopedNames)
	week := int64(lkgate.DefaultMaxInviteDuration / time.Second)
	for _, tt := range []struct {
		seconds int64
		limit   string
	}{
		{30 * 24 * 3600, "maximum of 168h0m0s (604800 seconds)"},
		{week + 1, "maximum of 168h0m0s (604800 seconds)"},
		{59, "minimum of 1m0s (60 seconds)"},
		{1 << 62, "maximum of 168h0m0s (604800 seconds)"},
	} {
		res := e.do(t, "POST", "/livekit/guest/invite", keyAcme, `{"roomId":"r","allowAll":true,"durationSeconds":`+strconv.FormatInt(tt.seconds, 10)+`}`)
		if res.status != 400 || res.problem.Field != "durationSeconds" || !strings.Contains(res.problem.Detail, tt.limit) {
			t.Errorf("%d seconds: %d %s, want 400 on durationSeconds naming the %s", tt.seconds, res.status, res.body, tt.limit)
		}
	}
	for _, seconds := range []int64{60, week} {
		start := time.Now().Truncate(time.Second)
		res := e.do(t, "POST", "/livekit/guest/invite", keyAcme, `{"roomId":"r","allowAll":true,"durationSeconds":`+strconv.FormatInt(seconds, 10)+`}`)
		inv := decodeBody[httpx.InviteResponse](t, res)
		if got := inv.ExpiresAt.Sub(start); res.status != 201 || got < time.Duration(seconds)*time.Second || got > time.Duration(seconds+1)*time.Second {
			t.Errorf("%d seconds: %d, invite lasts %s", seconds, res.status, got)
		}
	}
}

// POST /livekit/guest/room-auth/, as the published guest API lists it, is
// the same route as without the slash; nothing below it is.
func TestPublishedRoomAuthTrailingSlash(t *testing.T) {
	e := newGuestEnv(t, lkgate.ScopedNames)
	tok := e.inviteToken(t, `{"roomId":"standup","allowAll":true}`)
	for _, path := range []string{"/livekit/guest/room-auth", "/livekit/guest/room-auth/"} {
		res := e.do(t, "POST", path, "", `{"inviteToken":"`+tok+`","guestName":"Grace"}`)
		if ra := decodeBody[httpx.RoomAuthResponse](t, res); res.status != 200 || ra.LiveKitToken == "" || ra.GuestName != "Grace" {
			t.Errorf("%s: %d %s", path, res.status, res.body)
		}
		if res := e.do(t, "POST", path, "", `{"inviteToken":"x.y.z","guestName":"Grace"}`); res.status != 400 || res.problem.Field != "inviteToken" {
			t.Errorf("%s, bad invite: %d %s", path, res.status, res.body)
		}
	}
	if res := e.do(t, "GET", "/livekit/guest/room-auth/", "", ""); res.status != 405 || res.header.Get("Allow") != "POST" {
		t.Errorf("GET with the slash: %d %v %s", res.status, res.header, res.body)
	}
	if res := e.do(t, "POST", "/livekit/guest/room-auth/x", "", `{"inviteToken":"`+tok+`","guestName":"Grace"}`); res.status != 404 {
		t.Errorf("below the slash: %d %s", res.status, res.body)
	}
}

// The token route answers 400 for a missing, empty or blank room_name, and
// for a participant_identity that is present but empty or blank; only an
// absent (or null) identity is generated, as LiveKit's TokenSource clients
// expect.
func TestPublishedTokenRequiredFields(t *testing.T) {
	e := newEnv(t, lkgate.Config{}, httpx.StaticKeysConfig{})
	for _, tt := range []struct{ body, field string }{
		{`{}`, "room_name"},
		{`{"participant_identity":"alice"}`, "room_name"},
		{`{"room_name":""}`, "room_name"},
		{`{"room_name":"  "}`, "room_name"},
		{`{"room_name":"\t"}`, "room_name"},
		{`{"room_name":"standup","participant_identity":""}`, "participant_identity"},
		{`{"room_name":"standup","participant_identity":" "}`, "participant_identity"},
		{`{"room_name":"standup","participant_identity":"\u00a0\n"}`, "participant_identity"},
	} {
		res := e.do(t, "POST", "/livekit/token", keyAcme, tt.body)
		if res.status != 400 || res.problem.Field != tt.field {
			t.Errorf("%s: %d %s, want 400 on %s", tt.body, res.status, res.body, tt.field)
		}
	}
	generated := regexp.MustCompile(`^p-[0-9a-f]{32}$`)
	for _, body := range []string{`{"room_name":"standup"}`, `{"room_name":"standup","participant_identity":null}`} {
		res := e.do(t, "POST", "/livekit/token", keyAcme, body)
		if got := decodeBody[httpx.TokenResponse](t, res); res.status != 200 || !generated.MatchString(got.ParticipantIdentity) {
			t.Errorf("%s: %d %s", body, res.status, res.body)
		}
	}
}

// A Go client that builds its body from httpx.TokenRequest and leaves the
// identity out gets one generated, as a TokenSource client does.
func TestTokenRequestMarshalsWithoutIdentity(t *testing.T) {
	e := newEnv(t, lkgate.Config{}, httpx.StaticKeysConfig{})
	body, err := json.Marshal(httpx.TokenRequest{RoomName: "standup"})
	if err != nil {
		t.Fatal(err)
	}
	if res := e.do(t, "POST", "/livekit/token", keyAcme, string(body)); res.status != http.StatusOK {
		t.Errorf("%s: %d %s", body, res.status, res.body)
	}
}
