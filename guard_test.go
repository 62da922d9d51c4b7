package lkgate_test

import (
	"context"
	"errors"
	"testing"

	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

func joinEvent(room *livekit.Room, p *livekit.ParticipantInfo) *livekit.WebhookEvent {
	return &livekit.WebhookEvent{Event: "participant_joined", Id: "EV_1", Room: room, Participant: p}
}

func TestGuardJoin(t *testing.T) {
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
			m, fake := newManager(t, lkgate.Config{AllowUnattributedJoins: tt.allowUnattr})
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
	if err := token(m, "acme", "r"); err != nil {
		t.Fatal(err)
	}
	p := fake.AddParticipant("r", lkgatetest.Participant{Identity: "p", Attributes: map[string]string{lkgate.TenantAttribute: "globex"}})
	room, _ := fake.Room("r")
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
