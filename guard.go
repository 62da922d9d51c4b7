package lkgate

import (
	"context"
	"errors"
	"net/http"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"
	"google.golang.org/protobuf/encoding/protojson"
)

// VerifyWebhook reads a webhook request from LiveKit, checks its signature
// (made with the Manager's API key and secret) and its body checksum with
// LiveKit's webhook package, and returns the event. It reads all of r.Body:
// cap it first (http.MaxBytesReader). Errors: ErrUnauthenticated for a
// missing or bad signature or checksum, ErrInvalidArgument for a body that
// is too large or not a webhook event.
func (m *Manager) VerifyWebhook(r *http.Request) (*livekit.WebhookEvent, error) {
	body, err := webhook.Receive(r, auth.NewSimpleKeyProvider(m.cfg.APIKey, m.cfg.APISecret))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &Error{Kind: ErrInvalidArgument, Op: "webhook", Msg: "the webhook body is too large"}
		}
		return nil, &Error{Kind: ErrUnauthenticated, Op: "webhook", Msg: "the webhook is not signed by this LiveKit's key"}
	}
	ev := &livekit.WebhookEvent{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, ev); err != nil {
		return nil, &Error{Kind: ErrInvalidArgument, Op: "webhook", Msg: "the body is not a LiveKit webhook event"}
	}
	return ev, nil
}

// GuardJoin enforces provenance on a participant_joined event (other events
// are ignored): a participant whose TenantAttribute names a tenant other than
// the room's owner is removed at once. This closes the window LiveKit's
// name-based tokens leave: a room closes, another tenant re-creates the
// name, and a still-valid token of the first tenant joins it.
//
// Participants without TenantAttribute (tokens lkgate did not mint) are
// removed from owned rooms too, unless Config.AllowUnattributedJoins is set;
// agents, egress and ingress participants, which LiveKit itself creates,
// are left alone, and so are SIP participants without TenantAttribute
// (livekit-sip sets attributes after it joins; a SIP participant of another
// tenant is removed), as are rooms without an owner (claiming such a room
// checks who is in it first). The event's own metadata settles the common
// case with no LiveKit call; otherwise the owner is read again (one call)
// so a stale event never removes anyone by mistake, and removal costs one
// more.
func (m *Manager) GuardJoin(ctx context.Context, ev *livekit.WebhookEvent) (removed bool, err error) {
	p, room := ev.GetParticipant(), ev.GetRoom()
	if ev.GetEvent() != webhook.EventParticipantJoined || p == nil || room == nil {
		return false, nil
	}
	switch p.GetKind() {
	case livekit.ParticipantInfo_AGENT, livekit.ParticipantInfo_EGRESS, livekit.ParticipantInfo_INGRESS:
		return false, nil
	}
	tenant, attributed := p.GetAttributes()[TenantAttribute]
	if !attributed && p.GetKind() == livekit.ParticipantInfo_SIP {
		// livekit-sip joins before it sets the attributes lkgate asked for,
		// and only LiveKit's SIP API (admin credentials) creates SIP
		// participants: no client token can be behind one.
		return false, nil
	}
	if attributed && ownedBy(room.GetMetadata(), tenant) {
		return false, nil
	}
	current, err := m.lookupRoom(ctx, room.GetName())
	if err != nil || current == nil {
		return false, err
	}
	owner, state := ownerOf(current.GetMetadata())
	if state != owned || (attributed && owner == tenant) || (!attributed && m.cfg.AllowUnattributedJoins) {
		return false, nil
	}
	_, err = m.rooms.RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: room.GetName(), Identity: p.GetIdentity()})
	if err = fromLiveKit("guard join", room.GetName(), err); err != nil && !errors.Is(err, ErrNotFound) {
		return false, err
	}
	m.audit(ctx, AuditEvent{Tenant: owner, Subject: "lkgate", Action: ActionGuardRemove, Room: room.GetName(), Target: p.GetIdentity(),
		Details: map[string]string{"participant_tenant": tenant}}, nil)
	m.log.WarnContext(ctx, "join guard removed a participant", "room", room.GetName(), "identity", p.GetIdentity(),
		"participant_tenant", tenant, "attributed", attributed, "owner", owner)
	return true, nil
}
