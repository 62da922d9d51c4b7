package lkgate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

// auditLog collects audit events.
type auditLog struct {
	mu     sync.Mutex
	events []lkgate.AuditEvent
}

func (a *auditLog) Audit(_ context.Context, ev lkgate.AuditEvent) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, ev)
}

func (a *auditLog) take() []lkgate.AuditEvent {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.events
	a.events = nil
	return out
}

// Every state-changing action emits one event with the right fields, and
// no event carries a token, an invite or a secret. Events name rooms as
// the tenant knows them, whatever LiveKit's name.
func TestAuditEvents(t *testing.T) {
	forEachNaming(t, testAuditEvents)
}

func testAuditEvents(t *testing.T, naming lkgate.RoomNaming) {
	log := &auditLog{}
	// The fake checks token times against the real clock.
	now := time.Now()
	clock := lkgatetest.NewClock(now)
	fake := lkgatetest.NewServer(t)
	trunk := fake.AddOutboundTrunk("acme.example:5060", "+15550000001")
	m, _ := newManagerOn(t, fake, lkgate.Config{RoomNames: naming, Now: clock.Now, Auditor: log,
		Limits: lkgate.LimitConfig{Default: lkgate.Limits{InviteRate: lkgate.PerMinute(1, 1)}}})
	g := newGuests(t, m)
	sip := fake.NewSIP(t, m, lkgate.SIPConfig{Trunks: lkgate.StaticTrunk(trunk), AllowSIPTransfer: func(string, string) bool { return true }})
	standup := lkName(t, m, "acme", "standup")
	ctx := lkgate.WithSubject(context.Background(), "alice@acme")
	var secrets []string // every credential the run produces

	tok, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: "standup", Identity: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, tok.JWT)
	fake.AddParticipant(standup, lkgatetest.Participant{Identity: "bob", Attributes: map[string]string{lkgate.TenantAttribute: "acme"},
		Tracks: []lkgatetest.Track{{Sid: "TR_mic", Source: livekit.TrackSource_MICROPHONE, Type: livekit.TrackType_AUDIO}}})
	if _, err := m.MuteTrack(ctx, "acme", lkgate.MuteRequest{Room: "standup", Identity: "bob", Source: lkgate.SourceMicrophone, Muted: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.UpdatePermissions(ctx, "acme", "standup", "bob", lkgate.ViewerGrant()); err != nil {
		t.Fatal(err)
	}
	if err := m.RemoveParticipant(ctx, "acme", "standup", "bob"); err != nil {
		t.Fatal(err)
	}
	c, err := sip.Call(ctx, "acme", call("standup", "+4930123456"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sip.Transfer(ctx, "acme", lkgate.TransferRequest{Room: "standup", Identity: "phone", TransferTo: "+4930999999"}); err != nil {
		t.Fatal(err)
	}
	inv, err := g.Invite(ctx, "acme", lkgate.InviteRequest{Org: "acme", Room: "standup", AllowAll: true})
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, inv.Token)
	if _, err := g.Invite(ctx, "acme", lkgate.InviteRequest{Org: "acme", Room: "standup", AllowAll: true}); err == nil {
		t.Fatal("second invite was not limited")
	}
	var guests []string
	if _, err := g.RoomAuth(context.Background(), inv.Token+"x", "Guest"); err == nil {
		t.Fatal("a tampered invite was redeemed") // and, naming no tenant, it is not audited
	}
	for range 2 {
		s, err := g.RoomAuth(context.Background(), inv.Token, "Guest")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fake.Join(s.Token.JWT); err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, s.Token.JWT)
		guests = append(guests, s.Identity)
	}
	if err := g.Admit(ctx, "acme", "standup", guests[0]); err != nil {
		t.Fatal(err)
	}
	if err := g.Deny(ctx, "acme", "standup", guests[1]); err != nil {
		t.Fatal(err)
	}
	// globex's "standup": its own room under ScopedNames, acme's under
	// SharedNames.
	shared := naming == lkgate.SharedNames
	if _, err := m.Token(ctx, "globex", lkgate.TokenRequest{Room: "standup", Identity: "mallory"}); (err == nil) == shared {
		t.Fatalf("globex's token for standup: %v", err)
	}
	room, _ := fake.Room(standup)
	intruder := fake.AddParticipant(standup, lkgatetest.Participant{Identity: "mallory", Attributes: map[string]string{lkgate.TenantAttribute: "globex"}})
	if removed, err := m.GuardJoin(context.Background(), joinEvent(room, intruder)); err != nil || !removed {
		t.Fatal(removed, err)
	}

	got := log.take()
	for _, ev := range got {
		if !ev.Time.Equal(now) {
			t.Errorf("%s: time %v", ev.Action, ev.Time)
		}
	}
	ok, refused := lkgate.OutcomeSuccess, lkgate.OutcomeRefused
	var want []lkgate.AuditEvent
	if shared {
		want = append(want, lkgate.AuditEvent{Tenant: "acme", Subject: "alice@acme", Action: lkgate.ActionRoomClaim, Room: "standup", Outcome: ok, Details: map[string]string{"existed": "false"}})
	}
	globexToken := lkgate.AuditEvent{Tenant: "globex", Subject: "alice@acme", Action: lkgate.ActionTokenMint, Room: "standup", Target: "mallory", Outcome: ok}
	if shared {
		globexToken.Outcome, globexToken.Reason = refused, "forbidden"
	}
	want = append(want, []lkgate.AuditEvent{
		{Tenant: "acme", Subject: "alice@acme", Action: lkgate.ActionTokenMint, Room: "standup", Target: "alice", Outcome: ok},
		{Tenant: "acme", Subject: "alice@acme", Action: lkgate.ActionTrackMute, Room: "standup", Target: "bob", Outcome: ok, Details: map[string]string{"muted": "true", "track_sid": "TR_mic"}},
		{Tenant: "acme", Subject: "alice@acme", Action: lkgate.ActionPermissionsUpdate, Room: "standup", Target: "bob", Outcome: ok},
		{Tenant: "acme", Subject: "alice@acme", Action: lkgate.ActionParticipantRemove, Room: "standup", Target: "bob", Outcome: ok},
		{Tenant: "acme", Subject: "alice@acme", Action: lkgate.ActionSIPCall, Room: "standup", Target: "phone", Outcome: ok,
			Details: map[string]string{"to": "+4930123456", "sip_call_id": c.SIPCallID}},
		{Tenant: "acme", Subject: "alice@acme", Action: lkgate.ActionSIPTransfer, Room: "standup", Target: "phone", Outcome: ok, Details: map[string]string{"transfer_to": "tel:+4930999999"}},
		{Tenant: "acme", Subject: "alice@acme", Action: lkgate.ActionGuestInvite, Room: "standup", Outcome: ok, Details: map[string]string{"expires_at": inv.ExpiresAt.Format("2006-01-02T15:04:05Z07:00")}},
		{Tenant: "acme", Subject: "alice@acme", Action: lkgate.ActionGuestInvite, Room: "standup", Outcome: refused, Reason: "limit exceeded", Limit: lkgate.LimitInviteRate},
		{Tenant: "acme", Action: lkgate.ActionGuestWait, Room: "standup", Target: guests[0], Outcome: ok},
		{Tenant: "acme", Action: lkgate.ActionGuestWait, Room: "standup", Target: guests[1], Outcome: ok},
		{Tenant: "acme", Subject: "alice@acme", Action: lkgate.ActionGuestAdmit, Room: "standup", Target: guests[0], Outcome: ok},
		{Tenant: "acme", Subject: "alice@acme", Action: lkgate.ActionGuestDeny, Room: "standup", Target: guests[1], Outcome: ok},
	}...)
	if shared {
		// globex's token tries to claim acme's name: the claim is refused.
		want = append(want, lkgate.AuditEvent{Tenant: "globex", Subject: "alice@acme", Action: lkgate.ActionRoomClaim, Room: "standup",
			Outcome: refused, Reason: "forbidden", Details: map[string]string{"existed": "true"}})
	}
	want = append(want, []lkgate.AuditEvent{
		globexToken,
		{Tenant: "acme", Subject: "lkgate", Action: lkgate.ActionGuardRemove, Room: "standup", Target: "mallory", Outcome: ok, Details: map[string]string{"participant_tenant": "globex"}},
	}...)
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(lkgate.AuditEvent{}, "Time"), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("audit events (-want +got):\n%s", diff)
	}

	// Through the default slog auditor too: nothing secret in the records.
	var buf bytes.Buffer
	slogAuditor := lkgate.NewSlogAuditor(slog.New(slog.NewJSONHandler(&buf, nil)))
	for _, ev := range got {
		slogAuditor.Audit(ctx, ev)
	}
	raw, _ := json.Marshal(got)
	for _, out := range []string{string(raw), buf.String()} {
		for _, s := range append(secrets, lkgatetest.APISecret, "eyJ") {
			if strings.Contains(out, s) {
				t.Errorf("audit output carries a secret (%.12s...)", s)
			}
		}
	}
	if n := strings.Count(buf.String(), `"msg":"audit"`); n != len(want) {
		t.Errorf("slog auditor wrote %d records, want %d", n, len(want))
	}
	if !strings.Contains(buf.String(), `"action":"sip.call","room":"standup","target":"phone","outcome":"success","details":{`) {
		t.Errorf("slog record shape: %s", buf.String())
	}
}

// Refused requests are audited with their fields bounded: the caller
// controls them.
func TestAuditBoundsCallerInput(t *testing.T) {
	log := &auditLog{}
	m, _ := newManager(t, lkgate.Config{Auditor: log})
	long := strings.Repeat("x", 10000) + "\xff"
	if _, err := m.Token(context.Background(), "acme", lkgate.TokenRequest{Room: long, Identity: long}); err == nil {
		t.Fatal("accepted")
	}
	evs := log.take()
	if len(evs) != 1 || evs[0].Outcome != lkgate.OutcomeRefused || evs[0].Reason != "invalid argument" {
		t.Fatalf("events %+v", evs)
	}
	if len(evs[0].Room) > 300 || len(evs[0].Target) > 300 || !strings.HasSuffix(evs[0].Room, "...") {
		t.Errorf("unbounded audit fields: %d, %d bytes", len(evs[0].Room), len(evs[0].Target))
	}
}

// auditEnv is a Manager with guests and SIP on a fake, whose audit events
// a test reads, and acme's room "standup" with bob in it (publishing his
// microphone) and a SIP participant "phone".
type auditEnv struct {
	m      *lkgate.Manager
	guests *lkgate.Guests
	sip    *lkgate.SIP
	fake   *lkgatetest.Server
	log    *auditLog
	ctx    context.Context
	clk    *lkgatetest.Clock
}

func newAuditEnv(t *testing.T, naming lkgate.RoomNaming, limits lkgate.Limits) *auditEnv {
	t.Helper()
	fake := lkgatetest.NewServer(t)
	trunk := fake.AddOutboundTrunk("acme.example:5060", "+15550000001")
	e := &auditEnv{fake: fake, log: &auditLog{}, ctx: lkgate.WithSubject(context.Background(), "alice@acme"), clk: lkgatetest.NewClock(time.Now())}
	e.m, _ = newManagerOn(t, fake, lkgate.Config{RoomNames: naming, Auditor: e.log, Now: e.clk.Now,
		Limits: lkgate.LimitConfig{Default: limits}})
	e.guests = newGuests(t, e.m)
	e.sip = fake.NewSIP(t, e.m, lkgate.SIPConfig{Trunks: lkgate.StaticTrunk(trunk), AllowSIPTransfer: func(string, string) bool { return true }})
	if _, err := e.m.Token(e.ctx, "acme", lkgate.TokenRequest{Room: "standup", Identity: "alice"}); err != nil {
		t.Fatal(err)
	}
	fake.AddParticipant(lkName(t, e.m, "acme", "standup"), lkgatetest.Participant{Identity: "bob", Attributes: map[string]string{lkgate.TenantAttribute: "acme"},
		Tracks: []lkgatetest.Track{{Sid: "TR_mic", Source: livekit.TrackSource_MICROPHONE, Type: livekit.TrackType_AUDIO}}})
	if _, err := e.sip.Call(e.ctx, "acme", call("standup", "+4930123456")); err != nil {
		t.Fatal(err)
	}
	return e
}

// waitingGuest lets a guest into its lobby for acme's standup and returns
// its identity.
func (e *auditEnv) waitingGuest(t *testing.T) string {
	t.Helper()
	inv, err := e.guests.Invite(e.ctx, "acme", lkgate.InviteRequest{Room: "standup", AllowAll: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.guests.RoomAuth(context.Background(), inv.Token, "Guest")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.fake.Join(s.Token.JWT); err != nil {
		t.Fatal(err)
	}
	return s.Identity
}

// Every state-changing action emits exactly one event of its own, whatever
// its outcome: it succeeded, lkgate refused it, or LiveKit failed it. That
// includes a room claim (shared names) or a quota's room creation (scoped
// names) within a token request, and lkgate's cleanup of a room whose
// claim failed. An action lkgate takes on its own (the join guard) is
// never refused.
func TestEveryOutcomeIsAudited(t *testing.T) {
	down := twirp.NewError(twirp.Unavailable, "down")
	const unavailable, notFound, invalid, limited = "livekit unavailable", "not found", "invalid argument", "limit exceeded"
	scoped, shared := lkgate.ScopedNames, lkgate.SharedNames
	token := func(e *auditEnv, tenant, room string) {
		_, _ = e.m.Token(e.ctx, tenant, lkgate.TokenRequest{Room: room, Identity: "carol"})
	}
	ban := func(e *auditEnv, identity string, d time.Duration) {
		_, _ = e.m.Ban(e.ctx, "acme", "standup", identity, d)
	}
	mute := func(e *auditEnv, identity string) {
		_, _ = e.m.MuteTrack(e.ctx, "acme", lkgate.MuteRequest{Room: "standup", Identity: identity, Source: lkgate.SourceMicrophone, Muted: true})
	}
	permissions := func(e *auditEnv, identity string) {
		_, _ = e.m.UpdatePermissions(e.ctx, "acme", "standup", identity, lkgate.ViewerGrant())
	}
	transfer := func(e *auditEnv, to string) {
		_, _ = e.sip.Transfer(e.ctx, "acme", lkgate.TransferRequest{Room: "standup", Identity: "phone", TransferTo: to})
	}
	invite := func(e *auditEnv, d time.Duration) {
		_, _ = e.guests.Invite(e.ctx, "acme", lkgate.InviteRequest{Room: "standup", AllowAll: true, Duration: d})
	}
	// expireLobby leaves a guest in its lobby past its pass, then lets
	// another guest in: the count closes the expired guest's lobby.
	expireLobby := func(t *testing.T, e *auditEnv, deleteErr error) {
		e.waitingGuest(t)
		e.clk.Advance(lkgate.DefaultLobbyTTL + time.Minute + 2*time.Second)
		inv, err := e.guests.Invite(e.ctx, "acme", lkgate.InviteRequest{Room: "standup", AllowAll: true})
		if err != nil {
			t.Fatal(err)
		}
		e.log.take()
		e.fake.SetError("DeleteRoom", deleteErr)
		_, _ = e.guests.RoomAuth(context.Background(), inv.Token, "Guest")
	}
	guard := func(t *testing.T, e *auditEnv) {
		standup := lkName(t, e.m, "acme", "standup")
		room, _ := e.fake.Room(standup)
		intruder := e.fake.AddParticipant(standup, lkgatetest.Participant{Identity: "mallory", Attributes: map[string]string{lkgate.TenantAttribute: "globex"}})
		_, _ = e.m.GuardJoin(context.Background(), joinEvent(room, intruder))
	}
	tests := []struct {
		action, outcome, reason, limit string
		why                            string // room.delete's Details["reason"]
		naming                         lkgate.RoomNaming
		limits                         lkgate.Limits
		run                            func(t *testing.T, e *auditEnv)
	}{
		{action: lkgate.ActionRoomClaim, outcome: lkgate.OutcomeSuccess, naming: shared,
			run: func(t *testing.T, e *auditEnv) { token(e, "acme", "new") }},
		{action: lkgate.ActionRoomClaim, outcome: lkgate.OutcomeRefused, reason: "forbidden", naming: shared,
			run: func(t *testing.T, e *auditEnv) { token(e, "globex", "standup") }},
		{action: lkgate.ActionRoomClaim, outcome: lkgate.OutcomeRefused, reason: limited, limit: lkgate.LimitMaxRooms, naming: shared, limits: lkgate.Limits{MaxRooms: 1},
			run: func(t *testing.T, e *auditEnv) { token(e, "acme", "new") }},
		{action: lkgate.ActionRoomClaim, outcome: lkgate.OutcomeFailed, reason: unavailable, naming: shared,
			run: func(t *testing.T, e *auditEnv) { e.fake.SetError("UpdateRoomMetadata", down); token(e, "acme", "new") }},
		{action: lkgate.ActionRoomCreate, outcome: lkgate.OutcomeSuccess, naming: scoped, limits: lkgate.Limits{MaxRooms: 5},
			run: func(t *testing.T, e *auditEnv) { token(e, "acme", "new") }},
		{action: lkgate.ActionRoomCreate, outcome: lkgate.OutcomeRefused, reason: limited, limit: lkgate.LimitMaxRooms, naming: scoped, limits: lkgate.Limits{MaxRooms: 1},
			run: func(t *testing.T, e *auditEnv) { token(e, "acme", "new") }},
		{action: lkgate.ActionRoomCreate, outcome: lkgate.OutcomeFailed, reason: unavailable, naming: scoped, limits: lkgate.Limits{MaxRooms: 5},
			run: func(t *testing.T, e *auditEnv) { e.fake.SetError("CreateRoom", down); token(e, "acme", "new") }},
		{action: lkgate.ActionRoomDelete, outcome: lkgate.OutcomeSuccess, why: "claim_failed", naming: shared,
			run: func(t *testing.T, e *auditEnv) { e.fake.SetError("UpdateRoomMetadata", down); token(e, "acme", "new") }},
		{action: lkgate.ActionRoomDelete, outcome: lkgate.OutcomeFailed, reason: unavailable, why: "claim_failed", naming: shared,
			run: func(t *testing.T, e *auditEnv) {
				e.fake.SetError("UpdateRoomMetadata", down)
				e.fake.SetError("DeleteRoom", down)
				token(e, "acme", "new")
			}},
		{action: lkgate.ActionRoomDelete, outcome: lkgate.OutcomeSuccess, why: "expired_lobby", naming: scoped,
			run: func(t *testing.T, e *auditEnv) { expireLobby(t, e, nil) }},
		{action: lkgate.ActionRoomDelete, outcome: lkgate.OutcomeFailed, reason: unavailable, why: "expired_lobby", naming: scoped,
			run: func(t *testing.T, e *auditEnv) { expireLobby(t, e, down) }},
		{action: lkgate.ActionTokenMint, outcome: lkgate.OutcomeSuccess, naming: scoped,
			run: func(t *testing.T, e *auditEnv) { token(e, "acme", "standup") }},
		{action: lkgate.ActionTokenMint, outcome: lkgate.OutcomeRefused, reason: invalid, naming: scoped,
			run: func(t *testing.T, e *auditEnv) { token(e, "acme", "a\x07b") }},
		{action: lkgate.ActionTokenMint, outcome: lkgate.OutcomeFailed, reason: unavailable, naming: shared,
			run: func(t *testing.T, e *auditEnv) { e.fake.SetError("ListRooms", down); token(e, "acme", "standup") }},
		{action: lkgate.ActionParticipantRemove, outcome: lkgate.OutcomeSuccess, naming: scoped,
			run: func(t *testing.T, e *auditEnv) { _ = e.m.RemoveParticipant(e.ctx, "acme", "standup", "bob") }},
		{action: lkgate.ActionParticipantRemove, outcome: lkgate.OutcomeRefused, reason: notFound, naming: shared,
			run: func(t *testing.T, e *auditEnv) { _ = e.m.RemoveParticipant(e.ctx, "acme", "standup", "nobody") }},
		{action: lkgate.ActionParticipantRemove, outcome: lkgate.OutcomeFailed, reason: unavailable, naming: scoped,
			run: func(t *testing.T, e *auditEnv) {
				e.fake.SetError("RemoveParticipant", down)
				_ = e.m.RemoveParticipant(e.ctx, "acme", "standup", "bob")
			}},
		{action: lkgate.ActionParticipantBan, outcome: lkgate.OutcomeSuccess, naming: scoped,
			run: func(t *testing.T, e *auditEnv) { ban(e, "bob", time.Hour) }},
		{action: lkgate.ActionParticipantBan, outcome: lkgate.OutcomeRefused, reason: invalid, naming: scoped,
			run: func(t *testing.T, e *auditEnv) { ban(e, "bob", 0) }},
		{action: lkgate.ActionParticipantBan, outcome: lkgate.OutcomeFailed, reason: unavailable, naming: scoped,
			run: func(t *testing.T, e *auditEnv) { e.fake.SetError("RemoveParticipant", down); ban(e, "bob", time.Hour) }},
		{action: lkgate.ActionParticipantUnban, outcome: lkgate.OutcomeSuccess, naming: scoped,
			run: func(t *testing.T, e *auditEnv) { _ = e.m.Unban(e.ctx, "acme", "standup", "bob") }},
		{action: lkgate.ActionParticipantUnban, outcome: lkgate.OutcomeRefused, reason: notFound, naming: shared,
			run: func(t *testing.T, e *auditEnv) { _ = e.m.Unban(e.ctx, "acme", "closed", "bob") }},
		{action: lkgate.ActionParticipantUnban, outcome: lkgate.OutcomeFailed, reason: unavailable, naming: shared,
			run: func(t *testing.T, e *auditEnv) {
				e.fake.SetError("ListRooms", down)
				_ = e.m.Unban(e.ctx, "acme", "standup", "bob")
			}},
		{action: lkgate.ActionRoomDelete, outcome: lkgate.OutcomeSuccess, why: "ended", naming: shared,
			run: func(t *testing.T, e *auditEnv) { _ = e.m.DeleteRoom(e.ctx, "acme", "standup") }},
		{action: lkgate.ActionRoomDelete, outcome: lkgate.OutcomeRefused, reason: notFound, why: "ended", naming: scoped,
			run: func(t *testing.T, e *auditEnv) { _ = e.m.DeleteRoom(e.ctx, "acme", "closed") }},
		{action: lkgate.ActionRoomDelete, outcome: lkgate.OutcomeFailed, reason: unavailable, why: "ended", naming: scoped,
			run: func(t *testing.T, e *auditEnv) {
				e.fake.SetError("DeleteRoom", down)
				_ = e.m.DeleteRoom(e.ctx, "acme", "standup")
			}},
		{action: lkgate.ActionTrackMute, outcome: lkgate.OutcomeSuccess, naming: scoped,
			run: func(t *testing.T, e *auditEnv) { mute(e, "bob") }},
		{action: lkgate.ActionTrackMute, outcome: lkgate.OutcomeRefused, reason: notFound, naming: scoped,
			run: func(t *testing.T, e *auditEnv) { mute(e, "nobody") }},
		{action: lkgate.ActionTrackMute, outcome: lkgate.OutcomeFailed, reason: unavailable, naming: scoped,
			run: func(t *testing.T, e *auditEnv) { e.fake.SetError("MutePublishedTrack", down); mute(e, "bob") }},
		{action: lkgate.ActionPermissionsUpdate, outcome: lkgate.OutcomeSuccess, naming: scoped,
			run: func(t *testing.T, e *auditEnv) { permissions(e, "bob") }},
		{action: lkgate.ActionPermissionsUpdate, outcome: lkgate.OutcomeRefused, reason: invalid, naming: scoped,
			run: func(t *testing.T, e *auditEnv) { permissions(e, "") }},
		{action: lkgate.ActionPermissionsUpdate, outcome: lkgate.OutcomeFailed, reason: unavailable, naming: scoped,
			run: func(t *testing.T, e *auditEnv) { e.fake.SetError("UpdateParticipant", down); permissions(e, "bob") }},
		{action: lkgate.ActionSIPCall, outcome: lkgate.OutcomeSuccess, naming: scoped,
			run: func(t *testing.T, e *auditEnv) { _, _ = e.sip.Call(e.ctx, "acme", call("other", "+4930123456")) }},
		{action: lkgate.ActionSIPCall, outcome: lkgate.OutcomeRefused, reason: limited, limit: lkgate.LimitMaxConcurrentSIPCalls, naming: scoped, limits: lkgate.Limits{MaxConcurrentSIPCalls: 1},
			run: func(t *testing.T, e *auditEnv) { _, _ = e.sip.Call(e.ctx, "acme", call("other", "+4930123456")) }},
		{action: lkgate.ActionSIPCall, outcome: lkgate.OutcomeFailed, reason: unavailable, naming: scoped,
			run: func(t *testing.T, e *auditEnv) {
				e.fake.SetError("CreateSIPParticipant", down)
				_, _ = e.sip.Call(e.ctx, "acme", call("other", "+4930123456"))
			}},
		{action: lkgate.ActionSIPTransfer, outcome: lkgate.OutcomeSuccess, naming: scoped,
			run: func(t *testing.T, e *auditEnv) { transfer(e, "+4930999999") }},
		{action: lkgate.ActionSIPTransfer, outcome: lkgate.OutcomeRefused, reason: invalid, naming: scoped,
			run: func(t *testing.T, e *auditEnv) { transfer(e, "030 999") }},
		{action: lkgate.ActionSIPTransfer, outcome: lkgate.OutcomeFailed, reason: unavailable, naming: scoped,
			run: func(t *testing.T, e *auditEnv) { e.fake.SetError("GetParticipant", down); transfer(e, "+4930999999") }},
		{action: lkgate.ActionGuestInvite, outcome: lkgate.OutcomeSuccess, naming: scoped,
			run: func(t *testing.T, e *auditEnv) { invite(e, 0) }},
		{action: lkgate.ActionGuestInvite, outcome: lkgate.OutcomeRefused, reason: invalid, naming: scoped,
			run: func(t *testing.T, e *auditEnv) { invite(e, -time.Second) }},
		{action: lkgate.ActionGuestInvite, outcome: lkgate.OutcomeFailed, reason: unavailable, naming: shared,
			run: func(t *testing.T, e *auditEnv) { e.fake.SetError("ListRooms", down); invite(e, 0) }},
		{action: lkgate.ActionGuestWait, outcome: lkgate.OutcomeSuccess, naming: scoped,
			run: func(t *testing.T, e *auditEnv) { e.waitingGuest(t) }},
		{action: lkgate.ActionGuestWait, outcome: lkgate.OutcomeRefused, reason: limited, limit: lkgate.LimitGuestWaitRate, naming: scoped,
			limits: lkgate.Limits{GuestWaitRate: lkgate.PerMinute(1, 1)},
			run: func(t *testing.T, e *auditEnv) {
				inv, err := e.guests.Invite(e.ctx, "acme", lkgate.InviteRequest{Room: "standup", AllowAll: true})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := e.guests.RoomAuth(context.Background(), inv.Token, "Guest"); err != nil {
					t.Fatal(err)
				}
				e.log.take()
				_, _ = e.guests.RoomAuth(context.Background(), inv.Token, "Guest")
			}},
		{action: lkgate.ActionGuestWait, outcome: lkgate.OutcomeFailed, reason: unavailable, naming: scoped,
			run: func(t *testing.T, e *auditEnv) {
				inv, err := e.guests.Invite(e.ctx, "acme", lkgate.InviteRequest{Room: "standup", AllowAll: true})
				if err != nil {
					t.Fatal(err)
				}
				e.log.take()
				e.fake.SetError("ListRooms", down)
				_, _ = e.guests.RoomAuth(context.Background(), inv.Token, "Guest")
			}},
		{action: lkgate.ActionGuestAdmit, outcome: lkgate.OutcomeSuccess, naming: scoped,
			run: func(t *testing.T, e *auditEnv) {
				g := e.waitingGuest(t)
				e.log.take()
				_ = e.guests.Admit(e.ctx, "acme", "standup", g)
			}},
		{action: lkgate.ActionGuestAdmit, outcome: lkgate.OutcomeRefused, reason: notFound, naming: scoped,
			run: func(t *testing.T, e *auditEnv) {
				_ = e.guests.Admit(e.ctx, "acme", "standup", lkgate.GuestIdentityPrefix+"nobody")
			}},
		{action: lkgate.ActionGuestAdmit, outcome: lkgate.OutcomeFailed, reason: unavailable, naming: scoped,
			run: func(t *testing.T, e *auditEnv) {
				g := e.waitingGuest(t)
				e.log.take()
				e.fake.SetError("UpdateParticipant", down)
				_ = e.guests.Admit(e.ctx, "acme", "standup", g)
			}},
		{action: lkgate.ActionGuestDeny, outcome: lkgate.OutcomeSuccess, naming: scoped,
			run: func(t *testing.T, e *auditEnv) {
				g := e.waitingGuest(t)
				e.log.take()
				_ = e.guests.Deny(e.ctx, "acme", "standup", g)
			}},
		{action: lkgate.ActionGuestDeny, outcome: lkgate.OutcomeRefused, reason: invalid, naming: scoped,
			run: func(t *testing.T, e *auditEnv) { _ = e.guests.Deny(e.ctx, "acme", "standup", "bob") }},
		{action: lkgate.ActionGuestDeny, outcome: lkgate.OutcomeFailed, reason: unavailable, naming: scoped,
			run: func(t *testing.T, e *auditEnv) {
				g := e.waitingGuest(t)
				e.log.take()
				e.fake.SetError("DeleteRoom", down)
				_ = e.guests.Deny(e.ctx, "acme", "standup", g)
			}},
		{action: lkgate.ActionGuardRemove, outcome: lkgate.OutcomeSuccess, naming: scoped, run: guard},
		{action: lkgate.ActionGuardRemove, outcome: lkgate.OutcomeSuccess, why: "banned", naming: shared,
			run: func(t *testing.T, e *auditEnv) {
				if _, err := e.m.Ban(e.ctx, "acme", "standup", "bob", time.Hour); err != nil {
					t.Fatal(err)
				}
				standup := lkName(t, e.m, "acme", "standup")
				room, _ := e.fake.Room(standup)
				back := e.fake.AddParticipant(standup, lkgatetest.Participant{Identity: "bob", Attributes: map[string]string{lkgate.TenantAttribute: "acme"}})
				_, _ = e.m.GuardJoin(context.Background(), joinEvent(room, back))
			}},
		{action: lkgate.ActionGuardRemove, outcome: lkgate.OutcomeFailed, reason: unavailable, naming: scoped,
			run: func(t *testing.T, e *auditEnv) { e.fake.SetError("RemoveParticipant", down); guard(t, e) }},
	}
	covered := map[string]map[string]bool{}
	for _, tt := range tests {
		if covered[tt.action] == nil {
			covered[tt.action] = map[string]bool{}
		}
		covered[tt.action][tt.outcome] = true
		t.Run(tt.action+"/"+tt.outcome+"/"+tt.reason, func(t *testing.T) {
			e := newAuditEnv(t, tt.naming, tt.limits)
			e.log.take()
			tt.run(t, e)
			var got []lkgate.AuditEvent
			// The cleanup of an abandoned room runs in the background.
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
				e.log.mu.Lock()
				got = got[:0]
				for _, ev := range e.log.events {
					if ev.Action == tt.action {
						got = append(got, ev)
					}
				}
				e.log.mu.Unlock()
				if len(got) > 0 || time.Now().After(deadline) {
					break
				}
			}
			if len(got) != 1 {
				t.Fatalf("%d %s events, want 1: %+v", len(got), tt.action, got)
			}
			if ev := got[0]; ev.Outcome != tt.outcome || ev.Reason != tt.reason || ev.Limit != tt.limit || ev.Details["reason"] != tt.why || ev.Tenant == "" || ev.Room == "" {
				t.Errorf("event %+v, want outcome %q, reason %q, limit %q, details reason %q, with its tenant and room", ev, tt.outcome, tt.reason, tt.limit, tt.why)
			}
		})
	}
	// Every action appears with every outcome it can have.
	for _, action := range []string{lkgate.ActionRoomClaim, lkgate.ActionRoomCreate, lkgate.ActionRoomDelete, lkgate.ActionTokenMint,
		lkgate.ActionParticipantRemove, lkgate.ActionParticipantBan, lkgate.ActionParticipantUnban, lkgate.ActionTrackMute, lkgate.ActionPermissionsUpdate, lkgate.ActionSIPCall, lkgate.ActionSIPTransfer,
		lkgate.ActionGuestInvite, lkgate.ActionGuestWait, lkgate.ActionGuestAdmit, lkgate.ActionGuestDeny, lkgate.ActionGuardRemove} {
		for _, outcome := range []string{lkgate.OutcomeSuccess, lkgate.OutcomeRefused, lkgate.OutcomeFailed} {
			ownAction := action == lkgate.ActionGuardRemove
			if !covered[action][outcome] && !(ownAction && outcome == lkgate.OutcomeRefused) {
				t.Errorf("no case for %s %s", action, outcome)
			}
		}
	}
}

// A call refused before its body runs (no tenant) still records where it
// would have dialed.
func TestRefusedCallKeepsItsDetails(t *testing.T) {
	fake := lkgatetest.NewServer(t)
	log := &auditLog{}
	m := fake.NewManager(t, lkgate.Config{Auditor: log})
	calls := fake.NewSIP(t, m, lkgate.SIPConfig{Trunks: lkgate.StaticTrunk("trunk")})
	if _, err := calls.Call(context.Background(), "", lkgate.CallRequest{Room: "r", Identity: "phone", To: "+15550100", From: "+15550001"}); !errors.Is(err, lkgate.ErrUnauthenticated) {
		t.Fatalf("Call without a tenant: %v", err)
	}
	evs := log.take()
	want := map[string]string{"to": "+15550100", "from": "+15550001"}
	if len(evs) != 1 || evs[0].Outcome != lkgate.OutcomeRefused || !cmp.Equal(evs[0].Details, want) {
		t.Fatalf("events %+v, want one refused sip.call with details %v", evs, want)
	}
}
