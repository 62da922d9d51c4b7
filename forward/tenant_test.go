package forward_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/forward"
)

// scoped is LiveKit's name of tenant's room.
func scoped(t testing.TB, tenant, room string) string {
	t.Helper()
	name, err := lkgate.ScopedRoomName(tenant, room)
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// resolved is ev as the webhook route hands it to OnWebhook under
// ScopedNames.
func resolved(ev *livekit.WebhookEvent) lkgate.WebhookEvent {
	out := lkgate.WebhookEvent{Event: ev, Room: ev.GetRoom().GetName()}
	if out.Room == "" {
		out.Room = ev.GetEgressInfo().GetRoomName()
	}
	if tenant, room, ok := lkgate.ParseScopedRoomName(out.Room); ok {
		out.Tenant, out.Room = tenant, room
	}
	return out
}

func TestForTenantHidesLkgateAndLiveKitNames(t *testing.T) {
	lk := scoped(t, "acme", "standup")
	ev := &livekit.WebhookEvent{
		Event: "participant_joined", Id: "EV_1", CreatedAt: 1700000000,
		Room: &livekit.Room{Sid: "RM_1", Name: lk, TurnPassword: "turn-secret", Metadata: `{"auth_id":"acme","lkgate.bans":["x"],"topic":"q3"}`},
		Participant: &livekit.ParticipantInfo{Identity: "alice", Attributes: map[string]string{
			lkgate.TenantAttribute: "acme", lkgate.CallAttribute: "c", "team": "red", "room": lk,
		}},
		Track: &livekit.TrackInfo{Sid: "TR_1", Name: lk},
	}
	egress := &livekit.WebhookEvent{
		Event: "egress_started", Id: "EV_2",
		EgressInfo: &livekit.EgressInfo{EgressId: "EG_1", RoomName: lk, Request: &livekit.EgressInfo_RoomComposite{
			RoomComposite: &livekit.RoomCompositeEgressRequest{RoomName: lk},
		}},
	}
	before := proto.Clone(ev)
	got, ok := forward.ForTenant(resolved(ev))
	if !ok {
		t.Fatal("ForTenant refused acme's event")
	}
	want := &livekit.WebhookEvent{
		Event: "participant_joined", Id: "EV_1", CreatedAt: 1700000000,
		Room:        &livekit.Room{Sid: "RM_1", Name: "standup", Metadata: `{"topic":"q3"}`},
		Participant: &livekit.ParticipantInfo{Identity: "alice", Attributes: map[string]string{"team": "red", "room": "standup"}},
		Track:       &livekit.TrackInfo{Sid: "TR_1", Name: "standup"},
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("ForTenant (-want +got):\n%s", diff)
	}
	if !proto.Equal(before, ev) {
		t.Error("ForTenant modified the event it was given")
	}
	got, ok = forward.ForTenant(resolved(egress))
	if !ok {
		t.Fatal("ForTenant refused acme's egress event")
	}
	body, _ := protojson.Marshal(got)
	if strings.Contains(string(body), lk) || got.GetEgressInfo().GetRoomName() != "standup" || got.GetEgressInfo().GetRoomComposite().GetRoomName() != "standup" {
		t.Errorf("egress event for acme names LiveKit's room: %s", body)
	}
}

func TestForTenantRefusesEventsOfNoTenant(t *testing.T) {
	for name, ev := range map[string]lkgate.WebhookEvent{
		"no tenant": resolved(&livekit.WebhookEvent{Event: "room_started", Room: &livekit.Room{Name: "standup"}}),
		"no room":   resolved(&livekit.WebhookEvent{Event: "egress_ended", EgressInfo: &livekit.EgressInfo{}}),
		"lobby":     resolved(&livekit.WebhookEvent{Event: "room_started", Room: &livekit.Room{Name: scoped(t, "acme", lkgate.LobbyPrefix+"abc-def")}}),
		"no event":  {Tenant: "acme", Room: "standup"},
	} {
		if got, ok := forward.ForTenant(ev); ok {
			t.Errorf("%s: ForTenant = %v, true; want false", name, got)
		}
	}
}
