package lkgate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/livekit/protocol/livekit"

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
	m, _ := newManagerOn(t, fake, lkgate.Config{RoomNames: naming, Now: clock.Now, Auditor: log, Guests: guestConfig(),
		SIP:    lkgate.SIPConfig{Trunks: lkgate.StaticTrunk(trunk), AllowSIPTransfer: func(string, string) bool { return true }},
		Limits: lkgate.LimitConfig{Default: lkgate.Limits{InviteRate: lkgate.PerMinute(1, 1)}}})
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
	c, err := m.Call(ctx, "acme", call("standup", "+4930123456"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.TransferCall(ctx, "acme", lkgate.TransferRequest{Room: "standup", Identity: "phone", TransferTo: "+4930999999"}); err != nil {
		t.Fatal(err)
	}
	inv, err := m.Invite(ctx, "acme", lkgate.InviteRequest{Org: "acme", Room: "standup", AllowAll: true})
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, inv.Token)
	if _, err := m.Invite(ctx, "acme", lkgate.InviteRequest{Org: "acme", Room: "standup", AllowAll: true}); err == nil {
		t.Fatal("second invite was not limited")
	}
	var guests []string
	if _, err := m.GuestRoomAuth(context.Background(), inv.Token+"x", "Guest"); err == nil {
		t.Fatal("a tampered invite was redeemed") // and, naming no tenant, it is not audited
	}
	for range 2 {
		s, err := m.GuestRoomAuth(context.Background(), inv.Token, "Guest")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fake.Join(s.Token.JWT); err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, s.Token.JWT)
		guests = append(guests, s.Identity)
	}
	if err := m.Admit(ctx, "acme", "standup", guests[0]); err != nil {
		t.Fatal(err)
	}
	if err := m.Deny(ctx, "acme", "standup", guests[1]); err != nil {
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
