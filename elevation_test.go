package lkgate_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
)

// A client token may carry these claims, and these video grants; anything
// else (roomAdmin, roomCreate, roomList, roomRecord, ingressAdmin, hidden,
// recorder, agent, destinationRoom, a sip, agent, inference or
// observability grant, a room preset, a kind other than standard) is an
// elevation. Allowlists, so that a grant LiveKit adds later counts too.
var (
	clientClaims = []string{"exp", "nbf", "iat", "iss", "sub", "jti", "name", "identity", "video", "metadata", "attributes", "roomConfig", "kind"}
	clientVideo  = []string{"roomJoin", "room", "canPublish", "canSubscribe", "canPublishData", "canPublishSources", "canUpdateOwnMetadata"}
	// The room configuration: the agents the host allows and the room
	// settings of Config.Room (never egress, for one).
	clientRoomConfig = []string{"agents", "emptyTimeout", "departureTimeout", "maxParticipants"}
)

// wantClientToken fails unless token verifies and lets its holder join
// the LiveKit room room and do nothing beyond it: no grant outside the
// allowlists, no metadata of its own to update, a room configuration of
// agents and room settings only, and of lkgate's reserved attributes only
// TenantAttribute, equal to tenant (absent for ""), and those in also. It
// returns the video grant.
func wantClientToken(t *testing.T, what, token, room, tenant string, also ...string) map[string]any {
	t.Helper()
	decode(t, token) // the signature
	parts := strings.Split(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	for k := range claims {
		if !slices.Contains(clientClaims, k) {
			t.Errorf("%s: the token carries the claim %s: %s", what, k, payload)
		}
	}
	var kind string
	_ = json.Unmarshal(claims["kind"], &kind)
	if kind != "" && kind != "standard" {
		t.Errorf("%s: kind %q", what, kind)
	}
	var video map[string]any
	if err := json.Unmarshal(claims["video"], &video); err != nil {
		t.Fatalf("%s: video grant: %v in %s", what, err, payload)
	}
	for k, v := range video {
		if !slices.Contains(clientVideo, k) {
			t.Errorf("%s: the video grant carries %s=%v", what, k, v)
		}
	}
	if video["roomJoin"] != true || video["room"] != room {
		t.Errorf("%s: joins %v room %q, want %q", what, video["roomJoin"], video["room"], room)
	}
	if video["canUpdateOwnMetadata"] == true {
		t.Errorf("%s: the holder may rewrite its own metadata and attributes", what)
	}
	if rc, ok := claims["roomConfig"]; ok {
		var cfg map[string]json.RawMessage
		if err := json.Unmarshal(rc, &cfg); err != nil {
			t.Fatalf("%s: room config: %v", what, err)
		}
		for k := range cfg {
			if !slices.Contains(clientRoomConfig, k) {
				t.Errorf("%s: the room configuration sets %s: %s", what, k, rc)
			}
		}
	}
	var attrs map[string]string
	_ = json.Unmarshal(claims["attributes"], &attrs)
	for k, v := range attrs {
		if strings.HasPrefix(k, "lkgate.") && k != lkgate.TenantAttribute && !slices.Contains(also, k) {
			t.Errorf("%s: the token carries lkgate's attribute %s=%q", what, k, v)
		}
	}
	if got, ok := attrs[lkgate.TenantAttribute]; got != tenant || ok != (tenant != "") {
		t.Errorf("%s: %s = %q (set %v), want %q", what, lkgate.TenantAttribute, got, ok, tenant)
	}
	return video
}

// guestPass is the attribute of a lobby token carrying the guest's sealed
// invite.
const guestPass = "lkgate.guest"

// Whatever a client asks for through the ordinary fields, in every mode
// (unauthenticated, scoped and shared names, precreated rooms), through
// the Manager and through httpx's token route, and whatever a guest is
// handed (its lobby token and, once admitted, its main-room token), the
// token carries no power beyond its room.
func TestClientTokenNeverElevated(t *testing.T) {
	ctx := context.Background()
	sources := []lkgate.TrackSource{lkgate.SourceCamera, lkgate.SourceMicrophone, lkgate.SourceScreenShare, lkgate.SourceScreenShareAudio}
	modes := []struct {
		name   string
		cfg    lkgate.Config
		tenant string
	}{
		{"unauthenticated", lkgate.Config{AllowUnauthenticated: true}, ""},
		{"scoped", lkgate.Config{}, "acme"},
		{"scoped, precreated", lkgate.Config{PrecreateRooms: true}, "acme"},
		{"shared", lkgate.Config{RoomNames: lkgate.SharedNames}, "acme"},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			cfg := mode.cfg
			cfg.AllowAgent = acmeNotetaker
			m, _ := newManager(t, cfg)
			r := rand.New(rand.NewPCG(1, 2))
			for i := range 100 {
				g := &lkgate.Grant{CanPublish: r.IntN(2) == 0, CanSubscribe: r.IntN(2) == 0, CanPublishData: r.IntN(2) == 0}
				if g.CanPublish {
					for _, s := range sources {
						if r.IntN(2) == 0 {
							g.CanPublishSources = append(g.CanPublishSources, s)
						}
					}
				}
				if r.IntN(4) == 0 {
					g = nil
				}
				room := fmt.Sprint("room", r.IntN(3))
				req := lkgate.TokenRequest{Room: room, Identity: fmt.Sprint("id", i), Name: "Name", Grant: g,
					Metadata: strings.Repeat("m", r.IntN(100)), Attributes: map[string]string{"a": "b"}}
				if mode.tenant != "" && r.IntN(3) == 0 {
					req.Agents = []lkgate.AgentDispatch{{AgentName: "notetaker", Metadata: "{}"}}
				}
				tok, err := m.Token(ctx, mode.tenant, req)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				lk, err := m.LiveKitRoom(mode.tenant, room)
				if err != nil {
					t.Fatal(err)
				}
				wantClientToken(t, fmt.Sprint("request ", i), tok.JWT, lk, mode.tenant)
			}
		})
	}

	for _, naming := range namings {
		t.Run("httpx/"+naming.String(), func(t *testing.T) {
			m, _ := newManager(t, lkgate.Config{RoomNames: naming, AllowAgent: acmeNotetaker})
			keys, err := httpx.NewStaticKeys(httpx.StaticKeysConfig{Keys: map[string]httpx.Principal{
				"acme-key-0123456789abcdef": {Tenant: "acme", Subject: "alice", Permissions: httpx.AllPermissions},
			}})
			if err != nil {
				t.Fatal(err)
			}
			h, err := httpx.New(m, httpx.Config{Authenticator: keys, Guests: newGuests(t, m)})
			if err != nil {
				t.Fatal(err)
			}
			post := func(path, body string, out any) {
				t.Helper()
				req := httptest.NewRequest("POST", path, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer acme-key-0123456789abcdef")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code/100 != 2 || json.Unmarshal(rec.Body.Bytes(), out) != nil {
					t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
				}
			}
			var res httpx.TokenResponse
			post("/livekit/token", `{"room_name":"standup","participant_identity":"bob","participant_name":"Bob",`+
				`"participant_metadata":"{\"role\":\"admin\"}","participant_attributes":{"role":"admin"},`+
				`"room_config":{"agents":[{"agent_name":"notetaker","metadata":"{}"}]}}`, &res)
			lk, _ := m.LiveKitRoom("acme", "standup")
			wantClientToken(t, "POST /livekit/token", res.Token, lk, "acme")

			var inv httpx.InviteResponse
			post("/livekit/guest/invite", `{"roomId":"standup","allowAll":true}`, &inv)
			invite := inv.InviteURL[strings.Index(inv.InviteURL, "invite_token=")+len("invite_token="):]
			var guest httpx.RoomAuthResponse
			post("/livekit/guest/room-auth", `{"inviteToken":"`+invite+`","guestName":"Guest"}`, &guest)
			video := wantClientToken(t, "POST /livekit/guest/room-auth", guest.LiveKitToken, guest.LobbyRoom, "acme", guestPass)
			for _, grant := range []string{"canPublish", "canSubscribe", "canPublishData"} {
				if video[grant] != false {
					t.Errorf("the lobby token grants %s: %v", grant, video)
				}
			}
		})
	}

	for _, naming := range namings {
		t.Run("guest/"+naming.String(), func(t *testing.T) {
			e := newGuestEnv(t, lkgate.Config{RoomNames: naming})
			if err := tokenFor(e.m, "acme", "standup"); err != nil {
				t.Fatal(err)
			}
			s := e.waiting(t, e.invite(t, lkgate.InviteRequest{Org: "acme", Room: "standup", AllowAll: true}), "Guest")
			video := wantClientToken(t, "lobby token", s.Token.JWT, s.LobbyRoom, "acme", guestPass)
			for _, grant := range []string{"canPublish", "canSubscribe", "canPublishData"} {
				if video[grant] != false {
					t.Errorf("the lobby token grants %s: %v", grant, video)
				}
			}
			if err := e.guests.Admit(lkgate.WithSubject(ctx, "alice"), "acme", "standup", s.Identity); err != nil {
				t.Fatal(err)
			}
			msg := e.admission(t, s)
			if msg == nil || msg.Token == "" {
				t.Fatalf("no admission: %+v", msg)
			}
			lk, _ := e.m.LiveKitRoom("acme", "standup")
			wantClientToken(t, "admitted guest's token", msg.Token, lk, "acme", lkgate.AdmittedAttribute)
		})
	}
}
