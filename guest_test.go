package lkgate_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

var (
	keyA = lkgate.InviteKey{ID: "k1", Key: bytes.Repeat([]byte{0xa1}, 32)}
	keyB = lkgate.InviteKey{ID: "k2", Key: bytes.Repeat([]byte{0xb2}, 32)}
)

func guestConfig(keys ...lkgate.InviteKey) lkgate.GuestConfig {
	if len(keys) == 0 {
		keys = []lkgate.InviteKey{keyA}
	}
	return lkgate.GuestConfig{Keys: keys, InviteBaseURL: "https://app.example.com/meet/"}
}

// newGuests returns the guests of m under gcfg, or guestConfig() if none
// is given.
func newGuests(t testing.TB, m *lkgate.Manager, gcfg ...lkgate.GuestConfig) *lkgate.Guests {
	t.Helper()
	c := guestConfig()
	if len(gcfg) > 0 {
		c = gcfg[0]
	}
	g, err := lkgate.NewGuests(m, c)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// guestEnv is a Manager with guests on a fake, acme owning room "standup".
type guestEnv struct {
	m      *lkgate.Manager
	guests *lkgate.Guests
	fake   *lkgatetest.Server
	clk    *lkgatetest.Clock
}

// newGuestEnv builds the env's guests under gcfg, or guestConfig() if none
// is given.
func newGuestEnv(t *testing.T, cfg lkgate.Config, gcfg ...lkgate.GuestConfig) *guestEnv {
	t.Helper()
	e := &guestEnv{clk: lkgatetest.NewClock(time.Now())}
	cfg.Now = e.clk.Now
	e.m, e.fake = newManager(t, cfg)
	e.guests = newGuests(t, e.m, gcfg...)
	return e
}

func (e *guestEnv) invite(t *testing.T, req lkgate.InviteRequest) *lkgate.Invite {
	t.Helper()
	inv, err := e.guests.Invite(context.Background(), req.Org, req)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// waiting redeems inv as guest name and joins the lobby through the fake,
// as the guest's client would.
func (e *guestEnv) waiting(t *testing.T, inv *lkgate.Invite, name string) *lkgate.GuestSession {
	t.Helper()
	s, err := e.guests.RoomAuth(context.Background(), inv.Token, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.fake.Join(s.Token.JWT); err != nil {
		t.Fatal(err)
	}
	return s
}

// admission returns the message lkgate left in the guest's admission
// attribute, or nil if there is none.
func (e *guestEnv) admission(t *testing.T, s *lkgate.GuestSession) *lkgate.AdmissionMessage {
	t.Helper()
	for _, p := range e.fake.Participants(s.LobbyRoom) {
		if v := p.Attributes[lkgate.AdmissionAttribute]; p.Identity == s.Identity && v != "" {
			var msg lkgate.AdmissionMessage
			if err := json.Unmarshal([]byte(v), &msg); err != nil {
				t.Fatalf("admission attribute %q: %v", v, err)
			}
			return &msg
		}
	}
	return nil
}

func wantErr(t *testing.T, err error, kind error, field string) {
	t.Helper()
	var e *lkgate.Error
	if !errors.Is(err, kind) || !errors.As(err, &e) || e.Field != field {
		t.Fatalf("error %v, want %v on field %q", err, kind, field)
	}
}

func TestNewGuestsNeedsAManager(t *testing.T) {
	_, err := lkgate.NewGuests(nil, guestConfig())
	wantErr(t, err, lkgate.ErrInvalidArgument, "Manager")
}

// The Manager's Redact replaces the invite keys of its guests too.
func TestNewGuestsRedactsItsKeys(t *testing.T) {
	m, _ := newManager(t, lkgate.Config{})
	text := "invite " + base64.StdEncoding.EncodeToString(keyA.Key)
	if got := m.Redact(text); got != text {
		t.Fatalf("before NewGuests: %q", got)
	}
	newGuests(t, m, guestConfig(keyA))
	newGuests(t, m, guestConfig(keyA)) // twice: each key is added once
	if got := m.Redact(text); got != "invite [REDACTED]" {
		t.Errorf("after NewGuests: %q", got)
	}
}

func TestGuestConfigValidation(t *testing.T) {
	short := lkgate.InviteKey{ID: "k", Key: []byte("short")}
	tests := []struct {
		name  string
		cfg   lkgate.GuestConfig
		field string
	}{
		{"zero", lkgate.GuestConfig{}, "GuestConfig.Keys"},
		{"base without keys", lkgate.GuestConfig{InviteBaseURL: "https://x"}, "GuestConfig.Keys"},
		{"short key", lkgate.GuestConfig{Keys: []lkgate.InviteKey{short}, InviteBaseURL: "https://x"}, "GuestConfig.Keys[0].Key"},
		{"empty id", lkgate.GuestConfig{Keys: []lkgate.InviteKey{{Key: keyA.Key}}, InviteBaseURL: "https://x"}, "GuestConfig.Keys[0].ID"},
		{"duplicate id", lkgate.GuestConfig{Keys: []lkgate.InviteKey{keyA, {ID: "k1", Key: keyB.Key}}, InviteBaseURL: "https://x"}, "GuestConfig.Keys[1].ID"},
		{"no base", lkgate.GuestConfig{Keys: []lkgate.InviteKey{keyA}}, "GuestConfig.InviteBaseURL"},
		{"ws base", lkgate.GuestConfig{Keys: []lkgate.InviteKey{keyA}, InviteBaseURL: "wss://x"}, "GuestConfig.InviteBaseURL"},
		{"base with query", lkgate.GuestConfig{Keys: []lkgate.InviteKey{keyA}, InviteBaseURL: "https://x/?a=b"}, "GuestConfig.InviteBaseURL"},
		{"max below min", lkgate.GuestConfig{Keys: []lkgate.InviteKey{keyA}, InviteBaseURL: "https://x", MinInviteDuration: time.Hour, MaxInviteDuration: time.Minute}, "GuestConfig.MaxInviteDuration"},
		{"default outside", lkgate.GuestConfig{Keys: []lkgate.InviteKey{keyA}, InviteBaseURL: "https://x", DefaultInviteDuration: 30 * 24 * time.Hour}, "GuestConfig.DefaultInviteDuration"},
		{"short lobby", lkgate.GuestConfig{Keys: []lkgate.InviteKey{keyA}, InviteBaseURL: "https://x", LobbyTTL: time.Second}, "GuestConfig.LobbyTTL"},
	}
	m, _ := newManager(t, lkgate.Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := lkgate.NewGuests(m, tt.cfg)
			wantErr(t, err, lkgate.ErrInvalidArgument, tt.field)
		})
	}
}

func TestInviteKeyNeverPrinted(t *testing.T) {
	cfg := guestConfig()
	for _, s := range []string{keyA.String(), keyA.GoString(),
		fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg), fmt.Sprint(cfg.Keys)} {
		if strings.Contains(s, string(keyA.Key)) || strings.Contains(s, "161") || strings.Contains(s, "a1a1") {
			t.Errorf("key printed: %s", s)
		}
	}
}

// The whole flow on the fake: invite, room-auth, wait, admit, in both
// namings.
func TestGuestAdmitFlow(t *testing.T) {
	forEachNaming(t, testGuestAdmitFlow)
}

func testGuestAdmitFlow(t *testing.T, naming lkgate.RoomNaming) {
	e := newGuestEnv(t, lkgate.Config{RoomNames: naming})
	ctx := context.Background()
	shared := naming == lkgate.SharedNames
	inv := e.invite(t, lkgate.InviteRequest{Org: "acme", Room: "standup", AllowedAdmins: []string{"alice"}})
	// Under SharedNames the invite claims the new room (read, create,
	// claim); under ScopedNames it needs nothing from LiveKit.
	if n, want := e.fake.TotalCalls(), map[bool]int{false: 0, true: 3}[shared]; n != want {
		t.Errorf("invite cost %d LiveKit calls, want %d", n, want)
	}
	u, err := url.Parse(inv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Scheme + "://" + u.Host + u.Path; got != "https://app.example.com/meet/join" || u.Query().Get("invite_token") != inv.Token {
		t.Errorf("invite URL %s", inv.URL)
	}
	if d := inv.ExpiresAt.Sub(e.clk.Now()); d < lkgate.DefaultInviteDuration-time.Second || d > lkgate.DefaultInviteDuration {
		t.Errorf("invite lasts %s", d)
	}
	if strings.Contains(inv.String(), inv.Token) {
		t.Error("Invite.String prints the token")
	}

	// Room-auth: the guest count (one unfiltered ListRooms), the lobby's
	// creation, and the ListRooms by name that sees it listed; under
	// SharedNames one look-up first proves the name is still acme's, where
	// under ScopedNames the name alone does.
	e.fake.ResetCalls()
	s, err := e.guests.RoomAuth(ctx, inv.Token, "  Grace \u202e Hopper\x00 ")
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]int{"ListRooms": e.fake.Calls("ListRooms"), "CreateRoom": e.fake.Calls("CreateRoom")}
	if diff := cmp.Diff(map[string]int{"ListRooms": map[bool]int{false: 2, true: 3}[shared], "CreateRoom": 1}, calls); diff != "" || e.fake.TotalCalls() != calls["ListRooms"]+1 {
		t.Errorf("room-auth's LiveKit calls, %d in all (-want +got):\n%s", e.fake.TotalCalls(), diff)
	}
	// The lobby exists before the guest joins, with lkgate's settings.
	if r, ok := e.fake.Room(s.LobbyRoom); !ok || r.EmptyTimeout != 240 || r.DepartureTimeout != 5 || r.Metadata != `{"auth_id":"acme"}` || r.NumParticipants != 0 {
		t.Errorf("lobby after room-auth: %v (exists %v)", r, ok)
	}
	if _, err := e.fake.Join(s.Token.JWT); err != nil {
		t.Fatal(err)
	}
	if s.Name != "Grace Hopper" || !strings.HasPrefix(s.Identity, lkgate.GuestIdentityPrefix) || len(s.Identity) != len("guest-")+26 {
		t.Errorf("session %+v", s)
	}
	// The lobby is in acme's namespace under ScopedNames.
	lobbyOwner, lobby, scopedLobby := lkgate.ParseScopedRoomName(s.LobbyRoom)
	if !scopedLobby {
		lobby = s.LobbyRoom
	}
	if scopedLobby == shared || (scopedLobby && lobbyOwner != "acme") || !strings.HasPrefix(lobby, lkgate.LobbyPrefix) ||
		strings.Contains(s.LobbyRoom, "standup") || s.Token.Room != s.LobbyRoom {
		t.Errorf("lobby %q", s.LobbyRoom)
	}
	c := decode(t, s.Token.JWT)
	if exp := c.ExpiresAt.Time; !exp.Equal(e.clk.Now().Add(lkgate.LobbyJoinWindow).Truncate(time.Second)) || !s.Token.ExpiresAt.Equal(exp) {
		t.Errorf("lobby token expires at %s (session says %s), want the join window's end", exp, s.Token.ExpiresAt)
	}
	if rc := c.RoomConfig; rc == nil || rc.EmptyTimeout != 240 || rc.DepartureTimeout != 5 || len(rc.Agents) != 0 {
		t.Errorf("lobby token room configuration %v", rc)
	}
	v := c.Video
	if !v.RoomJoin || v.Room != s.LobbyRoom || v.GetCanPublish() || v.GetCanSubscribe() || v.GetCanPublishData() || v.GetCanUpdateOwnMetadata() ||
		v.RoomAdmin || v.RoomCreate || v.RoomList || v.Hidden || c.Identity != s.Identity || c.Name != "Grace Hopper" {
		t.Errorf("lobby token claims %+v video %+v", c.ClaimGrants, v)
	}
	pass := c.Attributes[lkgate.GuestPassAttribute]
	if c.Attributes[lkgate.TenantAttribute] != "acme" || strings.Count(pass, ".") != 4 || strings.Contains(pass, "alice") || strings.Contains(pass, "standup") {
		t.Errorf("lobby attributes %v", c.Attributes)
	}

	waiting, err := e.guests.Waiting(ctx, "acme", "standup")
	if err != nil {
		t.Fatal(err)
	}
	if len(waiting) != 1 || waiting[0].Identity != s.Identity || waiting[0].Name != "Grace Hopper" || e.clk.Now().Sub(waiting[0].Since) > time.Minute {
		t.Fatalf("waiting %+v", waiting)
	}

	bob, alice := lkgate.WithSubject(ctx, "bob"), lkgate.WithSubject(ctx, "alice")
	wantErr(t, e.guests.Admit(bob, "acme", "standup", s.Identity), lkgate.ErrForbidden, "")
	wantErr(t, e.guests.Deny(bob, "acme", "standup", s.Identity), lkgate.ErrForbidden, "")
	wantErr(t, e.guests.Admit(ctx, "acme", "standup", s.Identity), lkgate.ErrForbidden, "")
	wantErr(t, e.guests.Admit(alice, "globex", "standup", s.Identity), lkgate.ErrNotFound, "")
	if msg := e.admission(t, s); msg != nil {
		t.Fatalf("refused admits reached the guest: %+v", msg)
	}

	// Admit: GetParticipant and UpdateParticipant, after SharedNames'
	// ownership check.
	e.fake.ResetCalls()
	if err := e.guests.Admit(alice, "acme", "standup", s.Identity); err != nil {
		t.Fatal(err)
	}
	if n, want := e.fake.TotalCalls(), map[bool]int{false: 2, true: 3}[shared]; n != want {
		t.Errorf("admit cost %d LiveKit calls, want %d", n, want)
	}
	msg := e.admission(t, s)
	if msg == nil {
		t.Fatal("no admission reached the guest")
	}
	guest := e.fake.Participants(s.LobbyRoom)[0]
	if perm := guest.Permission; perm.CanPublish || perm.CanSubscribe || perm.CanPublishData || perm.CanUpdateMetadata {
		t.Errorf("lobby permission after admission: %v", perm)
	}
	if waiting, err := e.guests.Waiting(ctx, "acme", "standup"); err != nil || len(waiting) != 0 {
		t.Errorf("an admitted guest is still listed as waiting: %+v %v", waiting, err)
	}
	if msg.Type != "admit" || msg.Room != "standup" || msg.URL != e.m.PublicURL() {
		t.Errorf("message %+v", msg)
	}
	mc := decode(t, msg.Token)
	if mc.Video.Room != lkName(t, e.m, "acme", "standup") || mc.Identity != s.Identity || mc.Name != "Grace Hopper" || !mc.Video.GetCanPublish() || !mc.Video.GetCanSubscribe() ||
		mc.Video.GetCanUpdateOwnMetadata() || mc.Attributes[lkgate.TenantAttribute] != "acme" ||
		mc.Attributes[lkgate.AdmittedAttribute] != "true" || len(mc.Attributes) != 2 {
		t.Errorf("main-room token %+v video %+v", mc.ClaimGrants, mc.Video)
	}
	// The admitted guest joins the main room: lkgate's provenance holds.
	if _, err := e.fake.Join(msg.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Token(ctx, "acme", lkgate.TokenRequest{Room: "standup", Identity: "alice"}); err != nil {
		t.Fatal(err)
	}
}

func TestGuestDeny(t *testing.T) {
	forEachNaming(t, func(t *testing.T, naming lkgate.RoomNaming) {
		e := newGuestEnv(t, lkgate.Config{RoomNames: naming})
		inv := e.invite(t, lkgate.InviteRequest{Org: "acme", Room: "standup", AllowAll: true})
		s := e.waiting(t, inv, "Eve")
		e.fake.ResetCalls()
		if err := e.guests.Deny(lkgate.WithSubject(context.Background(), "anyone"), "acme", "standup", s.Identity); err != nil {
			t.Fatal(err)
		}
		// GetParticipant, UpdateParticipant, RemoveParticipant, after
		// SharedNames' ownership check.
		if n, want := e.fake.TotalCalls(), map[lkgate.RoomNaming]int{lkgate.ScopedNames: 3, lkgate.SharedNames: 4}[naming]; n != want {
			t.Errorf("deny cost %d LiveKit calls, want %d", n, want)
		}
		if n := e.fake.Calls("UpdateParticipant"); n != 1 {
			t.Errorf("the deny message was written %d times, want once", n)
		}
		if ps := e.fake.Participants(s.LobbyRoom); len(ps) != 0 {
			t.Errorf("denied guest still in the lobby: %v", ps)
		}
		err := e.guests.Admit(lkgate.WithSubject(context.Background(), "anyone"), "acme", "standup", s.Identity)
		wantErr(t, err, lkgate.ErrNotFound, "")
	})
}

// With PrecreateRooms an admit creates the main room before the guest can
// join it: GetParticipant, CreateRoom, the owner's record, and the
// UpdateParticipant that hands the guest its token.
func TestAdmitWithPrecreateRooms(t *testing.T) {
	e := newGuestEnv(t, lkgate.Config{PrecreateRooms: true})
	s := e.waiting(t, e.invite(t, lkgate.InviteRequest{Org: "acme", Room: "standup", AllowAll: true}), "G")
	lk := scoped(t, "acme", "standup")
	if _, ok := e.fake.Room(lk); ok {
		t.Fatal("the invite or the guest's wait created the main room")
	}
	e.fake.ResetCalls()
	if err := e.guests.Admit(lkgate.WithSubject(context.Background(), "x"), "acme", "standup", s.Identity); err != nil {
		t.Fatal(err)
	}
	calls := map[string]int{}
	for _, method := range []string{"GetParticipant", "CreateRoom", "UpdateRoomMetadata", "UpdateParticipant"} {
		calls[method] = e.fake.Calls(method)
	}
	if diff := cmp.Diff(map[string]int{"GetParticipant": 1, "CreateRoom": 1, "UpdateRoomMetadata": 1, "UpdateParticipant": 1}, calls); diff != "" || e.fake.TotalCalls() != 4 {
		t.Errorf("admit's LiveKit calls, %d in all (-want +got):\n%s", e.fake.TotalCalls(), diff)
	}
	if r, ok := e.fake.Room(lk); !ok || r.Metadata != `{"auth_id":"acme"}` {
		t.Errorf("main room after the admit: %v (exists %v)", r, ok)
	}
}

func TestAdmitNeedsAWaitingGuestOfThisRoom(t *testing.T) {
	e := newGuestEnv(t, lkgate.Config{}, lkgate.GuestConfig{Keys: []lkgate.InviteKey{keyA}, InviteBaseURL: "https://x", LobbyTTL: 10 * time.Minute})
	ctx := context.Background()
	s := e.waiting(t, e.invite(t, lkgate.InviteRequest{Org: "acme", Room: "standup", AllowAll: true}), "G")
	e.invite(t, lkgate.InviteRequest{Org: "acme", Room: "other", AllowAll: true})
	for name, req := range map[string]struct{ room, guest string }{
		"unknown guest":    {"standup", "guest-aaaaaaaaaaaaaaaaaaaaaaaaaa"},
		"other room":       {"other", s.Identity},
		"missing room":     {"missing", s.Identity},
		"not a guest":      {"standup", "alice"},
		"no room":          {"", s.Identity},
		"lobby as room":    {s.LobbyRoom, s.Identity},
		"identity missing": {"standup", ""},
	} {
		err := e.guests.Admit(lkgate.WithSubject(ctx, "x"), "acme", req.room, req.guest)
		if !errors.Is(err, lkgate.ErrNotFound) && !errors.Is(err, lkgate.ErrInvalidArgument) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A participant in the lobby without a valid pass is not a guest.
	e.fake.AddParticipant(s.LobbyRoom, lkgatetest.Participant{Identity: s.Identity, Attributes: map[string]string{lkgate.GuestPassAttribute: "forged"}})
	wantErr(t, e.guests.Deny(lkgate.WithSubject(ctx, "x"), "acme", "standup", s.Identity), lkgate.ErrNotFound, "")

	// A pass expires after LobbyTTL.
	s = e.waiting(t, e.invite(t, lkgate.InviteRequest{Org: "acme", Room: "standup", AllowAll: true}), "G")
	e.clk.Advance(11 * time.Minute)
	wantErr(t, e.guests.Deny(lkgate.WithSubject(ctx, "x"), "acme", "standup", s.Identity), lkgate.ErrNotFound, "")
	if e.admission(t, s) != nil {
		t.Error("an expired guest was admitted")
	}
}

func TestInviteValidation(t *testing.T) {
	e := newGuestEnv(t, lkgate.Config{}, lkgate.GuestConfig{Keys: []lkgate.InviteKey{keyA}, InviteBaseURL: "https://x",
		MinInviteDuration: time.Minute, MaxInviteDuration: time.Hour, DefaultInviteDuration: 10 * time.Minute})
	ctx := context.Background()
	admins := make([]string, lkgate.MaxAllowedAdmins+1)
	for i := range admins {
		admins[i] = "a"
	}
	tests := []struct {
		name  string
		req   lkgate.InviteRequest
		kind  error
		field string
	}{
		{"other org", lkgate.InviteRequest{Org: "globex", Room: "r", AllowAll: true}, lkgate.ErrForbidden, "Org"},
		{"room missing", lkgate.InviteRequest{Org: "acme", AllowAll: true}, lkgate.ErrInvalidArgument, "Room"},
		{"lobby room", lkgate.InviteRequest{Org: "acme", Room: lkgate.LobbyPrefix + "x", AllowAll: true}, lkgate.ErrInvalidArgument, "Room"},
		{"nobody may admit, no subject", lkgate.InviteRequest{Org: "acme", Room: "r"}, lkgate.ErrInvalidArgument, "AllowedAdmins"},
		{"too many admins", lkgate.InviteRequest{Org: "acme", Room: "r", AllowedAdmins: admins}, lkgate.ErrInvalidArgument, "AllowedAdmins"},
		{"bad admin", lkgate.InviteRequest{Org: "acme", Room: "r", AllowedAdmins: []string{"a\nb"}}, lkgate.ErrInvalidArgument, "AllowedAdmins"},
		{"negative duration", lkgate.InviteRequest{Org: "acme", Room: "r", AllowAll: true, Duration: -time.Second}, lkgate.ErrInvalidArgument, "Duration"},
		{"below the minimum", lkgate.InviteRequest{Room: "r", AllowAll: true, Duration: time.Second}, lkgate.ErrInvalidArgument, "Duration"},
		{"above the maximum", lkgate.InviteRequest{Room: "r", AllowAll: true, Duration: 48 * time.Hour}, lkgate.ErrInvalidArgument, "Duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.fake.ResetCalls()
			_, err := e.guests.Invite(ctx, "acme", tt.req)
			wantErr(t, err, tt.kind, tt.field)
			if tt.field != "" && e.fake.TotalCalls() != 0 {
				t.Errorf("%d LiveKit calls for a bad request", e.fake.TotalCalls())
			}
		})
	}
	// A duration out of range names the limit; nothing is shortened.
	for give, limit := range map[time.Duration]string{time.Minute - time.Second: "minimum of 1m0s (60 seconds)", time.Hour + time.Second: "maximum of 1h0m0s (3600 seconds)"} {
		if _, err := e.guests.Invite(ctx, "acme", lkgate.InviteRequest{Room: "r", AllowAll: true, Duration: give}); err == nil || !strings.Contains(err.Error(), limit) {
			t.Errorf("duration %s: %v, want the %s", give, err, limit)
		}
	}
	for give, want := range map[time.Duration]time.Duration{0: 10 * time.Minute, time.Minute: time.Minute, 30 * time.Minute: 30 * time.Minute, time.Hour: time.Hour} {
		inv, err := e.guests.Invite(ctx, "acme", lkgate.InviteRequest{Room: "r", AllowAll: true, Duration: give})
		if err != nil {
			t.Fatal(err)
		}
		if got := inv.ExpiresAt.Sub(e.clk.Now().Truncate(time.Second)); got != want {
			t.Errorf("duration %s: invite lasts %s, want %s", give, got, want)
		}
	}
	if _, err := e.m.Token(ctx, "acme", lkgate.TokenRequest{Room: lkgate.LobbyPrefix + "x", Identity: "i"}); !errors.Is(err, lkgate.ErrInvalidArgument) {
		t.Errorf("token for a lobby room: %v", err)
	}
}

// An invite whose request names no org is the caller's tenant's, and one
// that names no admins and does not allow all lets the inviting subject,
// and nobody else, admit or deny the guest. A caller without a subject
// must name the admins: lkgate never widens an invite to every admin.
func TestInviteDefaults(t *testing.T) {
	forEachNaming(t, func(t *testing.T, naming lkgate.RoomNaming) {
		e := newGuestEnv(t, lkgate.Config{RoomNames: naming})
		ctx := context.Background()
		alice, bob := lkgate.WithSubject(ctx, "alice"), lkgate.WithSubject(ctx, "bob")
		inv, err := e.guests.Invite(alice, "acme", lkgate.InviteRequest{Room: "standup"})
		if err != nil {
			t.Fatal(err)
		}
		s := e.waiting(t, inv, "Grace")
		wantErr(t, e.guests.Admit(bob, "acme", "standup", s.Identity), lkgate.ErrForbidden, "")
		wantErr(t, e.guests.Deny(bob, "acme", "standup", s.Identity), lkgate.ErrForbidden, "")
		wantErr(t, e.guests.Admit(ctx, "acme", "standup", s.Identity), lkgate.ErrForbidden, "")
		if err := e.guests.Admit(alice, "acme", "standup", s.Identity); err != nil {
			t.Fatal(err)
		}
		// The guest is acme's: its main-room token names acme's room and
		// carries acme as its tenant.
		msg := e.admission(t, s)
		if msg == nil || msg.Type != lkgate.AdmissionAdmit {
			t.Fatalf("admission %+v", msg)
		}
		if c := decode(t, msg.Token); c.Video.Room != lkName(t, e.m, "acme", "standup") || c.Attributes[lkgate.TenantAttribute] != "acme" {
			t.Errorf("the guest's token names room %q for tenant %q", c.Video.Room, c.Attributes[lkgate.TenantAttribute])
		}

		_, err = e.guests.Invite(ctx, "acme", lkgate.InviteRequest{Room: "standup"})
		wantErr(t, err, lkgate.ErrInvalidArgument, "AllowedAdmins")
		_, err = e.guests.Invite(lkgate.WithSubject(ctx, strings.Repeat("a", lkgate.MaxAdminBytes+1)), "acme", lkgate.InviteRequest{Room: "standup"})
		wantErr(t, err, lkgate.ErrInvalidArgument, "AllowedAdmins")
		// Named admins replace the default: alice, who invites, may not.
		inv, err = e.guests.Invite(alice, "acme", lkgate.InviteRequest{Room: "standup", AllowedAdmins: []string{"bob"}})
		if err != nil {
			t.Fatal(err)
		}
		s = e.waiting(t, inv, "Gus")
		wantErr(t, e.guests.Deny(alice, "acme", "standup", s.Identity), lkgate.ErrForbidden, "")
		if err := e.guests.Deny(bob, "acme", "standup", s.Identity); err != nil {
			t.Fatal(err)
		}
	})
}

// encryptWith builds a JWE the way an attacker (or a buggy client) might.
func encryptWith(t *testing.T, alg jose.KeyAlgorithm, enc jose.ContentEncryption, key any, kid string, claims map[string]any) string {
	t.Helper()
	e, err := jose.NewEncrypter(enc, jose.Recipient{Algorithm: alg, Key: key, KeyID: kid}, nil)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := json.Marshal(claims)
	obj, err := e.Encrypt(plain)
	if err != nil {
		t.Fatal(err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validClaims(now time.Time) map[string]any {
	return map[string]any{"typ": "lkgate.invite", "iss": "lkgate", "org": "acme", "room": "standup", "allowAll": true,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "x"}
}

// tamperCases returns every malformed invite the parser must refuse, by name.
func tamperCases(t *testing.T, valid, pass string, now time.Time) map[string]string {
	parts := strings.Split(valid, ".")
	flip := func(s string) string {
		b := []byte(s)
		if b[len(b)/2] == 'A' {
			b[len(b)/2] = 'B'
		} else {
			b[len(b)/2] = 'A'
		}
		return string(b)
	}
	with := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, ".")
	}
	without := func(k string) map[string]any {
		c := validClaims(now)
		delete(c, k)
		return c
	}
	expired := validClaims(now)
	expired["exp"] = now.Add(-time.Second).Unix()
	asPass := validClaims(now)
	asPass["typ"] = "lkgate.guest-pass"
	extra := validClaims(now)
	extra["admin"] = true
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	jws, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: keyA.Key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	signed, _ := jws.Sign([]byte(`{"org":"acme","room":"standup"}`))
	jwsCompact, _ := signed.CompactSerialize()
	return map[string]string{
		"empty":                 "",
		"garbage":               "not-a-token",
		"oversized":             strings.Repeat("A", lkgate.MaxInviteTokenBytes+1),
		"tampered ciphertext":   with(3, flip(parts[3])),
		"tampered tag":          with(4, flip(parts[4])),
		"tampered iv":           with(2, flip(parts[2])),
		"tampered header":       with(0, base64.RawURLEncoding.EncodeToString(bytes.Replace(header, []byte(`"k1"`), []byte(`"k2"`), 1))),
		"unknown kid":           encryptWith(t, jose.DIRECT, jose.A256GCM, keyA.Key, "nope", validClaims(now)),
		"wrong key":             encryptWith(t, jose.DIRECT, jose.A256GCM, keyB.Key, "k1", validClaims(now)),
		"alg A256KW":            encryptWith(t, jose.A256KW, jose.A256GCM, keyA.Key, "k1", validClaims(now)),
		"enc A128GCM":           encryptWith(t, jose.DIRECT, jose.A128GCM, keyA.Key[:16], "k1", validClaims(now)),
		"enc A256CBC-HS512":     encryptWith(t, jose.DIRECT, jose.A256CBC_HS512, bytes.Repeat(keyA.Key, 2), "k1", validClaims(now)),
		"extra part":            valid + ".AAAA",
		"missing part":          strings.Join(parts[:4], "."),
		"JSON serialization":    `{"protected":"` + parts[0] + `","iv":"` + parts[2] + `","ciphertext":"` + parts[3] + `","tag":"` + parts[4] + `"}`,
		"JWS instead of JWE":    jwsCompact,
		"expired":               encryptWith(t, jose.DIRECT, jose.A256GCM, keyA.Key, "k1", expired),
		"no exp":                encryptWith(t, jose.DIRECT, jose.A256GCM, keyA.Key, "k1", without("exp")),
		"no room":               encryptWith(t, jose.DIRECT, jose.A256GCM, keyA.Key, "k1", without("room")),
		"wrong issuer":          encryptWith(t, jose.DIRECT, jose.A256GCM, keyA.Key, "k1", func() map[string]any { c := validClaims(now); c["iss"] = "x"; return c }()),
		"unknown claim":         encryptWith(t, jose.DIRECT, jose.A256GCM, keyA.Key, "k1", extra),
		"pass type claim":       encryptWith(t, jose.DIRECT, jose.A256GCM, keyA.Key, "k1", asPass),
		"a guest's pass":        pass,
		"whitespace in token":   parts[0] + ". " + strings.Join(parts[1:], "."),
		"not a string payload":  encryptWith(t, jose.DIRECT, jose.A256GCM, keyA.Key, "k1", map[string]any{"typ": 1}),
		"base64 garbage header": with(0, "!!!!"),
	}
}

func TestRoomAuthRefusesEveryTamperedInvite(t *testing.T) {
	e := newGuestEnv(t, lkgate.Config{})
	inv := e.invite(t, lkgate.InviteRequest{Org: "acme", Room: "standup", AllowAll: true})
	s := e.waiting(t, inv, "G")
	pass := decode(t, s.Token.JWT).Attributes[lkgate.GuestPassAttribute]
	// The hand-built valid invite proves the cases below differ from a
	// good token only by what their name says.
	good := encryptWith(t, jose.DIRECT, jose.A256GCM, keyA.Key, "k1", validClaims(e.clk.Now()))
	if _, err := e.guests.RoomAuth(context.Background(), good, "G"); err != nil {
		t.Fatalf("hand-built valid invite refused: %v", err)
	}
	for name, tok := range tamperCases(t, inv.Token, pass, e.clk.Now()) {
		t.Run(name, func(t *testing.T) {
			e.fake.ResetCalls()
			_, err := e.guests.RoomAuth(context.Background(), tok, "G")
			wantErr(t, err, lkgate.ErrInvalidArgument, "InviteToken")
			if n := e.fake.TotalCalls(); n != 0 {
				t.Errorf("%d LiveKit calls", n)
			}
			if expired := strings.Contains(err.Error(), "expired"); expired != (name == "expired") {
				t.Errorf("message %q: only an authentic expired invite says so", err)
			}
			if tok != "" && strings.Contains(err.Error(), tok) {
				t.Error("the error repeats the token")
			}
		})
	}
}

func TestInviteKeyRotation(t *testing.T) {
	old := newGuestEnv(t, lkgate.Config{}, guestConfig(keyA))
	inv := old.invite(t, lkgate.InviteRequest{Org: "acme", Room: "standup", AllowAll: true})
	m, _ := newManager(t, lkgate.Config{URL: old.fake.URL()})
	rotated := newGuests(t, m, guestConfig(keyB, keyA))
	if _, err := rotated.RoomAuth(context.Background(), inv.Token, "G"); err != nil {
		t.Errorf("an invite under the previous key is refused: %v", err)
	}
	newInv, err := rotated.Invite(context.Background(), "acme", lkgate.InviteRequest{Org: "acme", Room: "standup", AllowAll: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.guests.RoomAuth(context.Background(), newInv.Token, "G"); !errors.Is(err, lkgate.ErrInvalidArgument) {
		t.Errorf("a manager without the new key accepted its invite: %v", err)
	}
	retired := newGuests(t, m, guestConfig(keyB))
	if _, err := retired.RoomAuth(context.Background(), inv.Token, "G"); !errors.Is(err, lkgate.ErrInvalidArgument) {
		t.Errorf("an invite under a retired key is accepted: %v", err)
	}
}

// A name another tenant uses: under ScopedNames it is simply acme's own
// room of that name; under SharedNames the invite is refused as for a
// missing room.
func TestInviteForAnotherTenantsName(t *testing.T) {
	forEachNaming(t, func(t *testing.T, naming lkgate.RoomNaming) {
		e := newGuestEnv(t, lkgate.Config{RoomNames: naming})
		ctx := context.Background()
		if _, err := e.m.Token(ctx, "globex", lkgate.TokenRequest{Room: "theirs", Identity: "g"}); err != nil {
			t.Fatal(err)
		}
		inv, err := e.guests.Invite(ctx, "acme", lkgate.InviteRequest{Org: "acme", Room: "theirs", AllowAll: true})
		if naming == lkgate.SharedNames {
			wantErr(t, err, lkgate.ErrNotFound, "")
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		s := e.waiting(t, inv, "G")
		if owner, _, _ := lkgate.ParseScopedRoomName(s.LobbyRoom); owner != "acme" {
			t.Errorf("the guest waits in %q, not in acme's namespace", s.LobbyRoom)
		}
		if err := e.guests.Admit(lkgate.WithSubject(ctx, "x"), "acme", "theirs", s.Identity); err != nil {
			t.Fatal(err)
		}
		if room := decode(t, e.admission(t, s).Token).Video.Room; room != scoped(t, "acme", "theirs") {
			t.Errorf("the admitted guest joins %q", room)
		}
	})
}

// Under SharedNames a name can pass to another tenant once its room has
// closed and its lease has run out; an invite to it is then refused as for
// a missing room.
func TestRoomAuthWhenTheRoomChangedHands(t *testing.T) {
	e := newGuestEnv(t, lkgate.Config{RoomNames: lkgate.SharedNames})
	ctx := context.Background()
	inv := e.invite(t, lkgate.InviteRequest{Org: "acme", Room: "standup", AllowAll: true})
	// The room closes; globex takes the name once acme's lease has ended.
	if _, err := adminClient(e.fake).DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: "standup"}); err != nil {
		t.Fatal(err)
	}
	advanceSweeping(t, e.m, e.clk, leaseWindow+2*lkgate.DefaultLeaseSweepInterval)
	if _, err := e.m.Token(ctx, "globex", lkgate.TokenRequest{Room: "standup", Identity: "g"}); err != nil {
		t.Fatal(err)
	}
	_, err := e.guests.RoomAuth(ctx, inv.Token, "G")
	wantErr(t, err, lkgate.ErrNotFound, "")
}

// noGuestRate turns the default GuestWaitRate off, for tests that redeem
// many invites at once.
var noGuestRate = lkgate.LimitConfig{Default: lkgate.Limits{GuestWaitRate: lkgate.Rate{Events: lkgate.NoLimit}}}

func TestGuestNameSanitising(t *testing.T) {
	e := newGuestEnv(t, lkgate.Config{AllowUnauthenticated: true, Limits: noGuestRate})
	inv := e.invite(t, lkgate.InviteRequest{Room: "standup", AllowAll: true})
	long := strings.Repeat("é", 100)
	tests := map[string]string{
		"Grace":                         "Grace",
		"  Grace   Hopper  ":            "Grace Hopper",
		"Gr\u202eace\u2066x\u2069":      "Gracex",
		"a\x00b\x1bc\u200bd\ufeffe":     "abcde",
		"tab\tnew\nline":                "tab new line",
		"bad\xffutf8":                   "badutf8",
		long:                            strings.Repeat("é", lkgate.MaxGuestNameRunes),
		strings.Repeat("a ", 40):        strings.TrimSpace(strings.Repeat("a ", 32)),
		"日本語の名前":                        "日本語の名前",
		"\U0001F600 smile":              "\U0001F600 smile",
		strings.Repeat("x", 63) + " yz": strings.Repeat("x", 63),
	}
	for in, want := range tests {
		s, err := e.guests.RoomAuth(context.Background(), inv.Token, in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if s.Name != want {
			t.Errorf("%q became %q, want %q", in, s.Name, want)
		}
	}
	for _, in := range []string{"", "   ", "\u202e\u200b\x00", strings.Repeat("a", 1025)} {
		_, err := e.guests.RoomAuth(context.Background(), inv.Token, in)
		wantErr(t, err, lkgate.ErrInvalidArgument, "GuestName")
	}
}

func TestGuestIdentitiesAreUnique(t *testing.T) {
	e := newGuestEnv(t, lkgate.Config{AllowUnauthenticated: true, Limits: noGuestRate})
	inv := e.invite(t, lkgate.InviteRequest{Room: "standup", AllowAll: true})
	seen := map[string]bool{}
	lobbies := map[string]bool{}
	for range 200 {
		s, err := e.guests.RoomAuth(context.Background(), inv.Token, "G")
		if err != nil {
			t.Fatal(err)
		}
		if seen[s.Identity] || lobbies[s.LobbyRoom] {
			t.Fatalf("repeated identity or lobby: %s %s", s.Identity, s.LobbyRoom)
		}
		seen[s.Identity], lobbies[s.LobbyRoom] = true, true
	}
	if n := e.fake.TotalCalls(); n != 0 {
		t.Errorf("unauthenticated room-auth made %d LiveKit calls", n)
	}
}

func TestWaitingGuests(t *testing.T) {
	forEachNaming(t, func(t *testing.T, naming lkgate.RoomNaming) {
		e := newGuestEnv(t, lkgate.Config{RoomNames: naming})
		ctx := context.Background()
		inv := e.invite(t, lkgate.InviteRequest{Org: "acme", Room: "standup", AllowAll: true})
		var want []string
		for _, name := range []string{"One", "Two", "Three"} {
			want = append(want, e.waiting(t, inv, name).Identity)
			e.clk.Advance(time.Second)
			e.fake.SetClock(e.clk.Now)
		}
		e.waiting(t, e.invite(t, lkgate.InviteRequest{Org: "acme", Room: "other", AllowAll: true}), "Elsewhere")
		// Redeemed but not joined yet: not waiting.
		if _, err := e.guests.RoomAuth(ctx, inv.Token, "Late"); err != nil {
			t.Fatal(err)
		}
		e.fake.ResetCalls()
		got, err := e.guests.Waiting(ctx, "acme", "standup")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, g := range got {
			ids = append(ids, g.Identity)
		}
		if diff := cmp.Diff(want, ids); diff != "" {
			t.Errorf("waiting (-want +got):\n%s", diff)
		}
		// One ListRooms, one ListParticipants per lobby (Late's, which
		// room-auth opened, included), and SharedNames' ownership check.
		if n, want := e.fake.TotalCalls(), map[lkgate.RoomNaming]int{lkgate.ScopedNames: 1 + 4, lkgate.SharedNames: 2 + 4}[naming]; n != want {
			t.Errorf("waiting list cost %d LiveKit calls, want %d", n, want)
		}
		// globex's "standup": under ScopedNames its own, unused room, under
		// SharedNames acme's.
		theirs, err := e.guests.Waiting(ctx, "globex", "standup")
		if naming == lkgate.SharedNames && !errors.Is(err, lkgate.ErrNotFound) || naming == lkgate.ScopedNames && (err != nil || len(theirs) != 0) {
			t.Errorf("globex sees acme's waiting room: %v %v", theirs, err)
		}
		if _, err := e.guests.Waiting(ctx, "acme", ""); !errors.Is(err, lkgate.ErrInvalidArgument) {
			t.Errorf("empty room: %v", err)
		}
		rooms, err := e.m.ListRooms(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rooms {
			if strings.HasPrefix(r.Name, lkgate.LobbyPrefix) {
				t.Errorf("a lobby shows in the tenant's rooms: %s", r.Name)
			}
		}
	})
}

func TestGuestsInUnauthenticatedMode(t *testing.T) {
	e := newGuestEnv(t, lkgate.Config{AllowUnauthenticated: true})
	ctx := context.Background()
	inv, err := e.guests.Invite(ctx, "", lkgate.InviteRequest{Room: "open", AllowedAdmins: []string{"host"}})
	if err != nil {
		t.Fatal(err)
	}
	if n := e.fake.TotalCalls(); n != 0 {
		t.Errorf("unauthenticated invite made %d LiveKit calls", n)
	}
	s := e.waiting(t, inv, "G")
	wantErr(t, e.guests.Admit(ctx, "", "open", s.Identity), lkgate.ErrForbidden, "")
	e.fake.AddParticipant("open", lkgatetest.Participant{Identity: "host"})
	if err := e.guests.Admit(lkgate.WithSubject(ctx, "host"), "", "open", s.Identity); err != nil {
		t.Fatal(err)
	}
	// The same invite is worthless once unauthenticated mode is off.
	strict, _ := newManager(t, lkgate.Config{URL: e.fake.URL()})
	_, err = newGuests(t, strict).RoomAuth(ctx, inv.Token, "G")
	wantErr(t, err, lkgate.ErrInvalidArgument, "InviteToken")
}

func FuzzGuestRoomAuth(f *testing.F) {
	fake := lkgatetest.NewServer(f)
	m, err := lkgate.New(lkgate.Config{URL: fake.URL(), APIKey: lkgatetest.APIKey, APISecret: lkgatetest.APISecret, AllowUnauthenticated: true, Limits: noGuestRate})
	if err != nil {
		f.Fatal(err)
	}
	g := newGuests(f, m)
	inv, err := g.Invite(context.Background(), "", lkgate.InviteRequest{Room: "standup", AllowAll: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(inv.Token, "Grace")
	f.Add(inv.Token[:len(inv.Token)-3], "Grace")
	f.Add(strings.Replace(inv.Token, ".", "..", 1), "x")
	f.Add("eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIiwia2lkIjoiazEifQ....", "\u202e")
	f.Add(`{"protected":"eyJ9"}`, "a")
	f.Fuzz(func(t *testing.T, token, name string) {
		s, err := g.RoomAuth(context.Background(), token, name)
		if err != nil {
			if !errors.Is(err, lkgate.ErrInvalidArgument) {
				t.Fatalf("%v is not ErrInvalidArgument", err)
			}
			return
		}
		// Fuzzing workers each build their own invite, so a success is
		// judged by its shape, not by equality with this process's seed.
		if strings.Count(token, ".") != 4 || len(token) > lkgate.MaxInviteTokenBytes || s.Name == "" || len([]rune(s.Name)) > lkgate.MaxGuestNameRunes {
			t.Fatalf("accepted %q as %q", token, s.Name)
		}
	})
}
