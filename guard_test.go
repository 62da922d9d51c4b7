package lkgate_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

func joinEvent(room *livekit.Room, p *livekit.ParticipantInfo) *livekit.WebhookEvent {
	return &livekit.WebhookEvent{Event: "participant_joined", Id: "EV_1", Room: room, Participant: p}
}

// Under SharedNames the room's tenant is its metadata's owner, read from
// the event or, when the event may be stale, from LiveKit.
func TestGuardJoinShared(t *testing.T) {
	tests := []struct {
		name        string
		eventOwner  string // owner in the event's room metadata
		roomOwner   string // owner in LiveKit now; "" leaves the room unowned
		kind        livekit.ParticipantInfo_Kind
		attrs       map[string]string
		allowUnattr bool
		removed     bool
		calls       int
	}{
		{"own tenant, settled by the event", "acme", "acme", livekit.ParticipantInfo_STANDARD, map[string]string{lkgate.TenantAttribute: "acme"}, false, false, 0},
		{"other tenant", "acme", "acme", livekit.ParticipantInfo_STANDARD, map[string]string{lkgate.TenantAttribute: "globex"}, false, true, 2},
		{"stale event, owner now matches", "", "acme", livekit.ParticipantInfo_STANDARD, map[string]string{lkgate.TenantAttribute: "acme"}, false, false, 1},
		{"stale event, owner now differs", "", "acme", livekit.ParticipantInfo_STANDARD, map[string]string{lkgate.TenantAttribute: "globex"}, false, true, 2},
		{"not minted by lkgate", "acme", "acme", livekit.ParticipantInfo_STANDARD, nil, false, true, 2},
		{"not minted by lkgate, allowed", "acme", "acme", livekit.ParticipantInfo_STANDARD, nil, true, false, 1},
		{"agent", "acme", "acme", livekit.ParticipantInfo_AGENT, nil, false, false, 0},
		{"egress", "acme", "acme", livekit.ParticipantInfo_EGRESS, nil, false, false, 0},
		{"SIP participant before livekit-sip set its attributes", "acme", "acme", livekit.ParticipantInfo_SIP, nil, false, false, 0},
		{"SIP participant of another tenant", "acme", "acme", livekit.ParticipantInfo_SIP, map[string]string{lkgate.TenantAttribute: "globex"}, false, true, 2},
		{"unowned room", "", "", livekit.ParticipantInfo_STANDARD, map[string]string{lkgate.TenantAttribute: "globex"}, false, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, fake := newManager(t, lkgate.Config{RoomNames: lkgate.SharedNames, AllowUnattributedJoins: tt.allowUnattr})
			if tt.roomOwner != "" {
				if err := token(m, tt.roomOwner, "r"); err != nil {
					t.Fatal(err)
				}
			}
			p := fake.AddParticipant("r", lkgatetest.Participant{Identity: "p", Kind: tt.kind, Attributes: tt.attrs})
			room, _ := fake.Room("r")
			room.Metadata = ""
			if tt.eventOwner != "" {
				room.Metadata = `{"auth_id":"` + tt.eventOwner + `"}`
			}
			fake.ResetCalls()
			removed, err := m.GuardJoin(context.Background(), joinEvent(room, p))
			if err != nil {
				t.Fatal(err)
			}
			if removed != tt.removed || (len(fake.Participants("r")) == 0) != tt.removed {
				t.Errorf("removed = %v, participants left %d; want removed %v", removed, len(fake.Participants("r")), tt.removed)
			}
			if n := fake.TotalCalls(); n != tt.calls {
				t.Errorf("%d LiveKit calls, want %d", n, tt.calls)
			}
		})
	}
}

func TestGuardJoinIgnoresOtherEventsAndSurfacesFailures(t *testing.T) {
	m, fake := newManager(t, lkgate.Config{})
	lk := scoped(t, "acme", "r")
	p := fake.AddParticipant(lk, lkgatetest.Participant{Identity: "p", Attributes: map[string]string{lkgate.TenantAttribute: "globex"}})
	room, _ := fake.Room(lk)
	fake.ResetCalls()
	for _, ev := range []*livekit.WebhookEvent{
		{Event: "participant_left", Room: room, Participant: p},
		{Event: "room_started", Room: room},
		{Event: "participant_joined", Room: room},
	} {
		if removed, err := m.GuardJoin(context.Background(), ev); removed || err != nil {
			t.Errorf("%s: removed=%v err=%v", ev.Event, removed, err)
		}
	}
	if fake.TotalCalls() != 0 {
		t.Errorf("ignored events made %d calls", fake.TotalCalls())
	}
	fake.SetError("RemoveParticipant", twirp.NewError(twirp.Unavailable, "down"))
	if _, err := m.GuardJoin(context.Background(), joinEvent(room, p)); !errors.Is(err, lkgate.ErrUnavailable) {
		t.Errorf("guard with LiveKit failing = %v, want ErrUnavailable", err)
	}
	fake.SetError("RemoveParticipant", twirp.NewError(twirp.NotFound, "participant not found"))
	if removed, err := m.GuardJoin(context.Background(), joinEvent(room, p)); err != nil || !removed {
		t.Errorf("participant already gone: removed=%v err=%v, want done without error", removed, err)
	}
}

// Under ScopedNames the room's name alone says whose it is: the guard
// decides without a LiveKit call, whatever the event's metadata claims,
// and removes in one.
func TestGuardJoinScoped(t *testing.T) {
	attrs := func(tenant string) map[string]string { return map[string]string{lkgate.TenantAttribute: tenant} }
	tests := []struct {
		name        string
		room        string
		kind        livekit.ParticipantInfo_Kind
		attrs       map[string]string
		allowUnattr bool
		removed     bool
	}{
		{"own tenant", "t4_acme_r", livekit.ParticipantInfo_STANDARD, attrs("acme"), false, false},
		{"other tenant", "t4_acme_r", livekit.ParticipantInfo_STANDARD, attrs("globex"), false, true},
		{"other tenant in a lobby", "t4_acme_" + lkgate.LobbyPrefix + "x", livekit.ParticipantInfo_STANDARD, attrs("globex"), false, true},
		{"not minted by lkgate", "t4_acme_r", livekit.ParticipantInfo_STANDARD, nil, false, true},
		{"not minted by lkgate, allowed", "t4_acme_r", livekit.ParticipantInfo_STANDARD, nil, true, false},
		{"SIP participant before livekit-sip set its attributes", "t4_acme_r", livekit.ParticipantInfo_SIP, nil, false, false},
		{"SIP participant of another tenant", "t4_acme_r", livekit.ParticipantInfo_SIP, attrs("globex"), false, true},
		{"agent", "t4_acme_r", livekit.ParticipantInfo_AGENT, nil, false, false},
		{"plain room", "r", livekit.ParticipantInfo_STANDARD, attrs("globex"), false, false},
		{"plain room named like a tenant's", "t4_acme", livekit.ParticipantInfo_STANDARD, attrs("globex"), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &auditLog{}
			m, fake := newManager(t, lkgate.Config{AllowUnattributedJoins: tt.allowUnattr, Auditor: log})
			p := fake.AddParticipant(tt.room, lkgatetest.Participant{Identity: "p", Kind: tt.kind, Attributes: tt.attrs})
			room, _ := fake.Room(tt.room)
			// Metadata naming the participant's tenant must not sway the
			// guard: under ScopedNames it decides nothing.
			room.Metadata = `{"auth_id":"globex"}`
			fake.ResetCalls()
			removed, err := m.GuardJoin(context.Background(), joinEvent(room, p))
			if err != nil {
				t.Fatal(err)
			}
			if removed != tt.removed || (len(fake.Participants(tt.room)) == 0) != tt.removed {
				t.Errorf("removed = %v, participants left %d; want removed %v", removed, len(fake.Participants(tt.room)), tt.removed)
			}
			wantCalls := map[bool]int{false: 0, true: 1}[tt.removed]
			if n := fake.TotalCalls(); n != wantCalls || fake.Calls("RemoveParticipant") != wantCalls {
				t.Errorf("%d LiveKit calls (%d removals), want %d removal and nothing else", n, fake.Calls("RemoveParticipant"), wantCalls)
			}
			evs := log.take()
			if !tt.removed {
				if len(evs) != 0 {
					t.Errorf("audit events %+v for a participant kept", evs)
				}
				return
			}
			_, clean, _ := lkgate.ParseScopedRoomName(tt.room)
			want := []lkgate.AuditEvent{{Tenant: "acme", Subject: "lkgate", Action: lkgate.ActionGuardRemove, Room: clean, Target: "p",
				Outcome: lkgate.OutcomeSuccess, Details: map[string]string{"participant_tenant": tt.attrs[lkgate.TenantAttribute]}}}
			if diff := cmp.Diff(want, evs, cmpopts.IgnoreFields(lkgate.AuditEvent{}, "Time")); diff != "" {
				t.Errorf("audit (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolveWebhook(t *testing.T) {
	type want struct{ tenant, room string }
	acmeLobby := scoped(t, "acme", lkgate.LobbyPrefix+"abc")
	tests := []struct {
		name   string
		ev     *livekit.WebhookEvent
		scoped want
		shared want
	}{
		{"scoped room", &livekit.WebhookEvent{Event: "room_started", Room: &livekit.Room{Name: "t4_acme_standup"}},
			want{"acme", "standup"}, want{"", "t4_acme_standup"}},
		{"lobby", &livekit.WebhookEvent{Event: "participant_joined", Room: &livekit.Room{Name: acmeLobby}},
			want{"acme", lkgate.LobbyPrefix + "abc"}, want{"", acmeLobby}},
		{"plain room", &livekit.WebhookEvent{Event: "room_started", Room: &livekit.Room{Name: "standup"}},
			want{"", "standup"}, want{"", "standup"}},
		{"shared room with an owner", &livekit.WebhookEvent{Event: "room_started", Room: &livekit.Room{Name: "standup", Metadata: `{"auth_id":"acme","topic":"x"}`}},
			want{"", "standup"}, want{"acme", "standup"}},
		{"egress of a scoped room", &livekit.WebhookEvent{Event: "egress_ended", EgressInfo: &livekit.EgressInfo{RoomName: "t6_globex_board"}},
			want{"globex", "board"}, want{"", "t6_globex_board"}},
		{"egress of a plain room", &livekit.WebhookEvent{Event: "egress_started", EgressInfo: &livekit.EgressInfo{RoomName: "board"}},
			want{"", "board"}, want{"", "board"}},
		{"ingress of a scoped room", &livekit.WebhookEvent{Event: "ingress_started", IngressInfo: &livekit.IngressInfo{RoomName: "t4_acme_live"}},
			want{"acme", "live"}, want{"", "t4_acme_live"}},
		{"no room", &livekit.WebhookEvent{Event: "egress_updated"}, want{}, want{}},
	}
	scopedM, _ := newManager(t, lkgate.Config{})
	sharedM, _ := newManager(t, lkgate.Config{RoomNames: lkgate.SharedNames})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range []struct {
				naming lkgate.RoomNaming
				m      *lkgate.Manager
				w      want
			}{{lkgate.ScopedNames, scopedM, tt.scoped}, {lkgate.SharedNames, sharedM, tt.shared}} {
				got := c.m.ResolveWebhook(tt.ev)
				if got.Tenant != c.w.tenant || got.Room != c.w.room || got.Event != tt.ev {
					t.Errorf("%s names: ResolveWebhook = {%q %q %p}, want {%q %q %p}", c.naming, got.Tenant, got.Room, got.Event, c.w.tenant, c.w.room, tt.ev)
				}
			}
		})
	}
}
