package httpx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/lkgatetest"
)

const keyAcmeBob = "acme-bob-key-0123456789"

func newGuestEnv(t *testing.T, naming lkgate.RoomNaming) *env {
	t.Helper()
	return newEnv(t, lkgate.Config{RoomNames: naming}, httpx.StaticKeysConfig{Keys: map[string]httpx.Principal{
		keyAcme:    {Tenant: "acme", Subject: "alice", Permissions: httpx.AllPermissions},
		keyAcmeBob: {Tenant: "acme", Subject: "bob", Permissions: httpx.AllPermissions},
		keyGlobex:  {Tenant: "globex", Subject: "alice", Permissions: httpx.AllPermissions},
	}}).withGuests(t, testGuests)
}

func decodeBody[T any](t *testing.T, res response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(res.body, &v); err != nil {
		t.Fatalf("%s: %v", res.body, err)
	}
	return v
}

// inviteToken creates an invite through the route and returns its token.
func (e *env) inviteToken(t *testing.T, body string) string {
	t.Helper()
	res := e.do(t, "POST", "/livekit/guest/invite", keyAcme, body)
	if res.status != http.StatusCreated {
		t.Fatalf("invite: %d %s", res.status, res.body)
	}
	inv := decodeBody[httpx.InviteResponse](t, res)
	u, err := url.Parse(inv.InviteURL)
	if err != nil || u.Scheme+"://"+u.Host+u.Path != "https://app.example.com/join" {
		t.Fatalf("invite URL %q", inv.InviteURL)
	}
	return u.Query().Get("invite_token")
}

func TestGuestRoutes(t *testing.T) { forEachNaming(t, testGuestRoutes) }

func testGuestRoutes(t *testing.T, naming lkgate.RoomNaming) {
	e := newGuestEnv(t, naming)
	tok := e.inviteToken(t, `{"orgId":"acme","roomId":"standup","durationSeconds":600,"allowAll":false,"allowedAdmins":["alice"]}`)

	// No API key: the invite is the credential.
	res := e.do(t, "POST", "/livekit/guest/room-auth", "", `{"inviteToken":"`+tok+`","guestName":"Grace"}`)
	if res.status != http.StatusOK {
		t.Fatalf("room-auth: %d %s", res.status, res.body)
	}
	ra := decodeBody[httpx.RoomAuthResponse](t, res)
	if ra.LiveKitToken == "" || ra.LobbyRoom == "" || ra.GuestName != "Grace" || ra.AdmissionAttribute != lkgate.AdmissionAttribute ||
		!strings.HasPrefix(ra.GuestIdentity, "guest-") || ra.LiveKitURL != "ws"+strings.TrimPrefix(e.fake.URL(), "http") {
		t.Errorf("room-auth response %+v", ra)
	}
	if naming == lkgate.ScopedNames && !strings.HasPrefix(ra.LobbyRoom, "t4_acme_"+lkgate.LobbyPrefix) {
		t.Errorf("lobby %q is not in acme's namespace", ra.LobbyRoom)
	}
	for _, k := range []string{`"livekitToken"`, `"livekitUrl"`, `"lobbyRoom"`, `"guestIdentity"`} {
		if !bytes.Contains(res.body, []byte(k)) {
			t.Errorf("room-auth response lacks %s: %s", k, res.body)
		}
	}
	if _, err := e.fake.Join(ra.LiveKitToken); err != nil {
		t.Fatal(err)
	}

	res = e.do(t, "GET", "/livekit/guest/waiting?roomId=standup", keyAcme, "")
	w := decodeBody[httpx.WaitingResponse](t, res)
	if res.status != 200 || len(w.Guests) != 1 || w.Guests[0].Identity != ra.GuestIdentity || w.Guests[0].Name != "Grace" || w.Guests[0].Since.IsZero() {
		t.Fatalf("waiting: %d %s", res.status, res.body)
	}
	// globex never sees acme's guest: under ScopedNames its own standup
	// has nobody waiting, under SharedNames standup is acme's.
	res = e.do(t, "GET", "/livekit/guest/waiting?roomId=standup", keyGlobex, "")
	if naming == lkgate.ScopedNames && (res.status != 200 || string(res.body) != `{"guests":[]}`+"\n") ||
		naming == lkgate.SharedNames && res.status != 404 {
		t.Errorf("globex waiting list: %d %s", res.status, res.body)
	}

	admit := `{"roomId":"standup","guestIdentity":"` + ra.GuestIdentity + `","action":"admit"}`
	if res := e.do(t, "POST", "/livekit/guest/admit", keyAcmeBob, admit); res.status != 403 || res.problem.Code != httpx.CodeForbidden {
		t.Errorf("bob admits: %d %s", res.status, res.body)
	}
	if res := e.do(t, "POST", "/livekit/guest/admit", keyGlobex, admit); res.status != 404 {
		t.Errorf("globex's alice admits: %d %s", res.status, res.body)
	}
	if res := e.do(t, "POST", "/livekit/guest/admit", "", admit); res.status != 401 {
		t.Errorf("admit without a key: %d", res.status)
	}
	res = e.do(t, "POST", "/livekit/guest/admit", keyAcme, admit)
	if res.status != 200 || strings.TrimSpace(string(res.body)) != `{"code":200}` {
		t.Fatalf("admit: %d %s", res.status, res.body)
	}
	attr := e.fake.Participants(ra.LobbyRoom)[0].Attributes[lkgate.AdmissionAttribute]
	var msg lkgate.AdmissionMessage
	if err := json.Unmarshal([]byte(attr), &msg); err != nil || msg.Type != "admit" || msg.Token == "" {
		t.Fatalf("admission %q", attr)
	}
	if bytes.Contains(res.body, []byte(msg.Token)) {
		t.Error("the admin's response carries the guest's token")
	}
	if c := claimsOf(t, msg.Token); c.Video == nil || c.Video.Room != e.lkRoom(t, "acme", "standup") || c.Attributes[lkgate.TenantAttribute] != "acme" {
		t.Errorf("the admitted guest's token names %+v", c.Video)
	}

	// Deny the second guest.
	res = e.do(t, "POST", "/livekit/guest/room-auth", "", `{"inviteToken":"`+tok+`","guestName":"Eve"}`)
	eve := decodeBody[httpx.RoomAuthResponse](t, res)
	if _, err := e.fake.Join(eve.LiveKitToken); err != nil {
		t.Fatal(err)
	}
	if res := e.do(t, "POST", "/livekit/guest/admit", keyAcme, `{"roomId":"standup","guestIdentity":"`+eve.GuestIdentity+`","action":"deny"}`); res.status != 200 {
		t.Fatalf("deny: %d %s", res.status, res.body)
	}
	if len(e.fake.Participants(eve.LobbyRoom)) != 0 {
		t.Error("denied guest is still in its lobby")
	}

	logs := e.logs.String()
	assertNoSecrets(t, logs)
	for _, s := range []string{tok, ra.LiveKitToken, msg.Token} {
		if strings.Contains(logs, s) {
			t.Error("a token reached the logs")
		}
	}
}

func TestGuestRoutesBadInput(t *testing.T) { forEachNaming(t, testGuestRoutesBadInput) }

func testGuestRoutesBadInput(t *testing.T, naming lkgate.RoomNaming) {
	e := newGuestEnv(t, naming)
	tok := e.inviteToken(t, `{"orgId":"acme","roomId":"standup","allowAll":true}`)
	if res := e.do(t, "POST", "/livekit/token", keyGlobex, `{"room_name":"theirs","participant_identity":"g"}`); res.status != 200 {
		t.Fatalf("globex token: %d %s", res.status, res.body)
	}
	// Under ScopedNames "theirs" is globex's room only for globex, and a
	// room nobody used has nobody waiting; under SharedNames both are
	// rooms acme cannot see.
	foreignInvite, missingWaiting := 404, 404
	if naming == lkgate.ScopedNames {
		foreignInvite, missingWaiting = 201, 200
	}
	tests := []struct {
		name, method, target, key, body string
		status                          int
		field                           string
	}{
		{"invite: other org", "POST", "/livekit/guest/invite", keyAcme, `{"orgId":"globex","roomId":"r","allowAll":true}`, 403, "orgId"},
		{"invite: room missing", "POST", "/livekit/guest/invite", keyAcme, `{"orgId":"acme","allowAll":true}`, 400, "roomId"},
		{"invite: another tenant's room", "POST", "/livekit/guest/invite", keyAcme, `{"orgId":"acme","roomId":"theirs","allowAll":true}`, foreignInvite, ""},
		{"invite: admins not a list", "POST", "/livekit/guest/invite", keyAcme, `{"orgId":"acme","roomId":"r","allowedAdmins":"alice"}`, 400, "allowedAdmins"},
		{"invite: duration a string", "POST", "/livekit/guest/invite", keyAcme, `{"orgId":"acme","roomId":"r","allowAll":true,"durationSeconds":"60"}`, 400, "durationSeconds"},
		{"invite: duration fractional", "POST", "/livekit/guest/invite", keyAcme, `{"orgId":"acme","roomId":"r","allowAll":true,"durationSeconds":1.5}`, 400, "durationSeconds"},
		{"invite: negative duration", "POST", "/livekit/guest/invite", keyAcme, `{"orgId":"acme","roomId":"r","allowAll":true,"durationSeconds":-1}`, 400, "durationSeconds"},
		{"invite: duration beyond int64 seconds", "POST", "/livekit/guest/invite", keyAcme, `{"orgId":"acme","roomId":"r","allowAll":true,"durationSeconds":9223372036854775807}`, 400, "durationSeconds"},
		{"invite: unknown field", "POST", "/livekit/guest/invite", keyAcme, `{"orgId":"acme","roomId":"r","allowAll":true,"role":"admin"}`, 400, "role"},
		{"invite: snake case", "POST", "/livekit/guest/invite", keyAcme, `{"org_id":"acme"}`, 400, "org_id"},
		{"invite: no key", "POST", "/livekit/guest/invite", "", `{"orgId":"acme","roomId":"r","allowAll":true}`, 401, ""},
		{"room-auth: token missing", "POST", "/livekit/guest/room-auth", "", `{"guestName":"G"}`, 400, "inviteToken"},
		{"room-auth: garbage token", "POST", "/livekit/guest/room-auth", "", `{"inviteToken":"x.y.z.w.v","guestName":"G"}`, 400, "inviteToken"},
		{"room-auth: tampered token", "POST", "/livekit/guest/room-auth", "", `{"inviteToken":"` + tampered(tok) + `","guestName":"G"}`, 400, "inviteToken"},
		{"room-auth: oversized token", "POST", "/livekit/guest/room-auth", "", `{"inviteToken":"` + strings.Repeat("a", 5000) + `","guestName":"G"}`, 400, "inviteToken"},
		{"room-auth: name missing", "POST", "/livekit/guest/room-auth", "", `{"inviteToken":"` + tok + `"}`, 400, "guestName"},
		{"room-auth: name invisible", "POST", "/livekit/guest/room-auth", "", `{"inviteToken":"` + tok + `","guestName":"\u202e\u200b"}`, 400, "guestName"},
		{"room-auth: name not a string", "POST", "/livekit/guest/room-auth", "", `{"inviteToken":"` + tok + `","guestName":7}`, 400, "guestName"},
		{"room-auth: unknown field", "POST", "/livekit/guest/room-auth", "", `{"inviteToken":"` + tok + `","guestName":"G","identity":"admin"}`, 400, "identity"},
		{"room-auth: not JSON", "POST", "/livekit/guest/room-auth", "", `inviteToken=x`, 400, ""},
		{"admit: bad action", "POST", "/livekit/guest/admit", keyAcme, `{"roomId":"standup","guestIdentity":"guest-x","action":"kick"}`, 400, "action"},
		{"admit: no action", "POST", "/livekit/guest/admit", keyAcme, `{"roomId":"standup","guestIdentity":"guest-x"}`, 400, "action"},
		{"admit: no room", "POST", "/livekit/guest/admit", keyAcme, `{"guestIdentity":"guest-x","action":"admit"}`, 400, "roomId"},
		{"admit: no guest", "POST", "/livekit/guest/admit", keyAcme, `{"roomId":"standup","action":"admit"}`, 400, "guestIdentity"},
		{"admit: not a guest", "POST", "/livekit/guest/admit", keyAcme, `{"roomId":"standup","guestIdentity":"alice","action":"admit"}`, 400, "guestIdentity"},
		{"admit: unknown guest", "POST", "/livekit/guest/admit", keyAcme, `{"roomId":"standup","guestIdentity":"guest-x","action":"admit"}`, 404, ""},
		{"admit: missing room", "POST", "/livekit/guest/admit", keyAcme, `{"roomId":"nope","guestIdentity":"guest-x","action":"deny"}`, 404, ""},
		{"waiting: no room", "GET", "/livekit/guest/waiting", keyAcme, "", 400, "roomId"},
		{"waiting: two rooms", "GET", "/livekit/guest/waiting?roomId=a&roomId=b", keyAcme, "", 400, "roomId"},
		{"waiting: missing room", "GET", "/livekit/guest/waiting?roomId=nope", keyAcme, "", missingWaiting, ""},
		{"waiting: no key", "GET", "/livekit/guest/waiting?roomId=standup", "", "", 401, ""},
		{"waiting: wrong method", "POST", "/livekit/guest/waiting?roomId=standup", keyAcme, "{}", 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.fake.ResetCalls()
			res := e.do(t, tt.method, tt.target, tt.key, tt.body)
			if res.status != tt.status || res.problem.Field != tt.field {
				t.Fatalf("status %d field %q, want %d %q: %s", res.status, res.problem.Field, tt.status, tt.field, res.body)
			}
			// Every refusal of the request itself comes before LiveKit.
			if n := e.fake.TotalCalls(); res.status >= 400 && res.status != 404 && n != 0 {
				t.Errorf("a %d made %d LiveKit calls", res.status, n)
			}
		})
	}
	assertNoSecrets(t, e.logs.String())
}

// Under SharedNames an invite into another tenant's room answers the 404
// of a missing room, byte for byte; the token route keeps its 403.
func TestGuestInviteForeignRoom(t *testing.T) {
	e := newGuestEnv(t, lkgate.SharedNames)
	e.inviteToken(t, `{"orgId":"acme","roomId":"standup","allowAll":true}`)
	missingRoom := e.do(t, "GET", "/livekit/guest/waiting?roomId=nowhere", keyGlobex, "")
	res := e.do(t, "POST", "/livekit/guest/invite", keyGlobex, `{"orgId":"globex","roomId":"standup","allowAll":true}`)
	if res.status != 404 || missingRoom.status != 404 || !bytes.Equal(res.body, missingRoom.body) {
		t.Errorf("invite into another tenant's room: %d %s (missing room: %d %s)", res.status, res.body, missingRoom.status, missingRoom.body)
	}
	// The token route keeps its 403 for the same name.
	res = e.do(t, "POST", "/livekit/token", keyGlobex, `{"room_name":"standup","participant_identity":"g"}`)
	if res.status != 403 || res.problem.Code != httpx.CodeForbidden {
		t.Errorf("token for another tenant's room: %d %s", res.status, res.body)
	}
}

// Under SharedNames a guest whose invite names a room that has since
// passed to another tenant is answered the 404 of a missing room, and gets
// no lobby token.
func TestGuestRoomAuthForeignRoom(t *testing.T) {
	e := newGuestEnv(t, lkgate.SharedNames)
	tok := e.inviteToken(t, `{"orgId":"acme","roomId":"standup","allowAll":true}`)
	// As LiveKit would show it once acme's lease ended and globex claimed
	// the name.
	rooms := lkgate.NewRoomService(e.fake.URL(), lkgatetest.APIKey, lkgatetest.APISecret)
	if _, err := rooms.UpdateRoomMetadata(context.Background(), &livekit.UpdateRoomMetadataRequest{Room: "standup", Metadata: `{"auth_id":"globex"}`}); err != nil {
		t.Fatal(err)
	}
	missingRoom := e.do(t, "GET", "/livekit/guest/waiting?roomId=nowhere", keyAcme, "")
	res := e.do(t, "POST", "/livekit/guest/room-auth", "", `{"inviteToken":"`+tok+`","guestName":"Grace"}`)
	if res.status != 404 || missingRoom.status != 404 || !bytes.Equal(res.body, missingRoom.body) {
		t.Errorf("room-auth for a room now another tenant's: %d %s (missing room: %d %s)", res.status, res.body, missingRoom.status, missingRoom.body)
	}
}

// Without Config.Guests or Config.SIP their routes do not exist: 404,
// through ServeHTTP and from the per-route methods a host mounts itself.
func TestFeatureRoutesOnlyWhenConfigured(t *testing.T) {
	e := newEnv(t, lkgate.Config{}, httpx.StaticKeysConfig{})
	for _, r := range []struct {
		method, target, body string
		mounted              http.HandlerFunc
	}{
		{"POST", "/livekit/guest/invite", `{"orgId":"acme","roomId":"r","allowAll":true}`, e.h.GuestInvite},
		{"POST", "/livekit/guest/room-auth", `{"inviteToken":"x","guestName":"G"}`, e.h.GuestRoomAuth},
		{"POST", "/livekit/guest/room-auth/", `{"inviteToken":"x","guestName":"G"}`, e.h.GuestRoomAuth},
		{"POST", "/livekit/guest/admit", `{"roomId":"r","guestIdentity":"guest-x","action":"admit"}`, e.h.GuestAdmit},
		{"GET", "/livekit/guest/waiting?roomId=r", "", e.h.GuestWaiting},
		{"POST", "/sip/call", callBody, e.h.Call},
		{"POST", "/sip/transfer", `{"room_name":"r","participant_identity":"p","transfer_to":"+15550199"}`, e.h.Transfer},
	} {
		res := e.do(t, r.method, r.target, keyAcme, r.body)
		req := httptest.NewRequest(r.method, "/mine", strings.NewReader(r.body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+keyAcme)
		mounted := serveOn(t, r.mounted, req)
		for _, res := range []response{res, mounted} {
			if res.status != 404 || res.problem.Code != httpx.CodeNotFound {
				t.Errorf("%s %s: %d %s, want 404", r.method, r.target, res.status, res.body)
			}
		}
	}
	if n := e.fake.TotalCalls(); n != 0 {
		t.Errorf("%d LiveKit calls", n)
	}
}

// The guest routes' JSON decoding never answers 5xx, whatever the body.
func FuzzGuestRoutes(f *testing.F) {
	fake := lkgatetest.NewServer(f)
	m := fake.NewManager(f, lkgate.Config{})
	guests, err := lkgate.NewGuests(m, testGuests)
	if err != nil {
		f.Fatal(err)
	}
	keys, _ := httpx.NewStaticKeys(httpx.StaticKeysConfig{Keys: map[string]httpx.Principal{keyAcme: {Tenant: "acme", Subject: "alice", Permissions: httpx.AllPermissions}}})
	h, err := httpx.New(m, httpx.Config{Authenticator: keys, Guests: guests})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []struct {
		route uint8
		body  string
	}{
		{0, `{"orgId":"acme","roomId":"r","durationSeconds":60,"allowAll":false,"allowedAdmins":["alice"]}`},
		{0, `{"orgId":"acme","roomId":"r","durationSeconds":1e30,"allowAll":true}`},
		{1, `{"inviteToken":"a.b.c.d.e","guestName":"G"}`},
		{1, `{"inviteToken":null,"guestName":["x"]}`},
		{2, `{"roomId":"r","guestIdentity":"guest-x","action":"admit"}`},
		{2, `{"roomId":{},"action":"deny"}`},
	} {
		f.Add(seed.route, seed.body)
	}
	routes := []struct {
		path    string
		allowed []int // what the input can produce on the fake
	}{
		{"/livekit/guest/invite", []int{201, 400, 403, 404, 413, 415}},
		{"/livekit/guest/room-auth", []int{200, 400, 404, 413, 415}},
		{"/livekit/guest/admit", []int{200, 400, 403, 404, 413, 415}},
	}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		r := routes[int(route)%len(routes)]
		req, _ := http.NewRequest("POST", r.path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+keyAcme)
		fake.ResetCalls()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if !slices.Contains(r.allowed, rec.Code) {
			t.Fatalf("%s: %d for %q: %s, want one of %v", r.path, rec.Code, body, rec.Body.String(), r.allowed)
		}
		if n := fake.TotalCalls(); slices.Contains(refusals, rec.Code) && n != 0 {
			t.Fatalf("%s: %q refused with %d after %d LiveKit calls, want none", r.path, body, rec.Code, n)
		}
	})
}

// Guests or SIP built from another Manager would act with that Manager's
// LiveKit, limits and audit trail: New refuses them.
func TestNewRefusesAnotherManagersFeatures(t *testing.T) {
	fake := lkgatetest.NewServer(t)
	m, other := fake.NewManager(t, lkgate.Config{}), fake.NewManager(t, lkgate.Config{})
	guests, err := lkgate.NewGuests(other, lkgate.GuestConfig{Keys: []lkgate.InviteKey{{ID: "k", Key: make([]byte, lkgate.InviteKeyBytes)}}, InviteBaseURL: "https://app.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	calls := fake.NewSIP(t, other, lkgate.SIPConfig{Trunks: lkgate.StaticTrunk("trunk")})
	for name, cfg := range map[string]httpx.Config{"Guests": {Guests: guests}, "SIP": {SIP: calls}} {
		cfg.Authenticator = httpx.Unauthenticated()
		if _, err := httpx.New(m, cfg); err == nil || !strings.Contains(err.Error(), "Config."+name) {
			t.Errorf("%s of another Manager: %v, want an error naming Config.%s", name, err, name)
		}
		if _, err := httpx.New(other, cfg); err != nil {
			t.Errorf("%s of the same Manager: %v", name, err)
		}
	}
}

// tampered changes one character in the middle of an invite, inside its
// ciphertext: replacing the last characters could leave the tag's bytes
// unchanged, as the final base64url character carries padding bits.
func tampered(tok string) string {
	i := len(tok) / 2
	c := byte('A')
	if tok[i] == c {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}
