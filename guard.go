package lkgate

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"
	"google.golang.org/protobuf/encoding/protojson"
)

// VerifyWebhook reads a webhook request from LiveKit, checks its signature
// (made with the Manager's API key and secret) and its body checksum, and
// returns the event. It reads all of r.Body: cap it first
// ([http.MaxBytesReader]). Errors: [ErrUnauthenticated] for a missing or
// bad signature or checksum, [ErrInvalidArgument] for a body that is too
// large or not a webhook event.
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

// GuardJoin removes the participant of a participant_joined event whose
// [TenantAttribute] names a tenant other than its room's, and reports
// whether it did; other events are ignored. Participants without
// TenantAttribute are removed from tenants' rooms too, unless
// [Config].AllowUnattributedJoins; LiveKit's own participants (agents,
// egress, ingress), SIP participants without TenantAttribute, and rooms of
// no tenant are left alone. It also removes a participant banned from
// the room ([Manager.Ban]), whichever its tenant, and fails when the ban
// store does. A stale event never removes anyone.
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
	err = m.run(ctx, operation{op: "guard join", action: ActionGuardRemove, tenantless: true}, func(ctx context.Context, a *auditRecord) error {
		owner, name, err := m.guardedOwner(ctx, room, tenant, attributed)
		if err != nil {
			a.drop()
			return err
		}
		if owner == "" {
			name = room.GetName()
		}
		a.Tenant, a.Subject, a.Room, a.Target = owner, "lkgate", name, p.GetIdentity()
		foreign := owner != "" && !(attributed && owner == tenant) && (attributed || !m.cfg.AllowUnattributedJoins)
		if !foreign {
			// A join the tenant check lets stand may be a banned identity's,
			// back with the token LiveKit refreshed.
			until, err := m.bans.BannedUntil(ctx, owner, room.GetName(), p.GetIdentity(), m.now())
			if err != nil {
				return m.storeFailed(ctx, "ban store", err, slog.String("room", name))
			}
			if until.IsZero() {
				a.drop()
				return nil
			}
			a.set("reason", "banned")
		}
		a.set("participant_tenant", tenant)
		_, err = m.rooms.RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: room.GetName(), Identity: p.GetIdentity()})
		if err = fromLiveKit("guard join", name, err); errors.Is(err, ErrNotFound) {
			err = nil // gone already
		}
		if removed = err == nil; removed {
			m.log.WarnContext(ctx, "join guard removed a participant", "room", name, "identity", p.GetIdentity(),
				"participant_tenant", tenant, "attributed", attributed, "owner", owner)
		}
		return err
	})
	return removed, err
}

// guardedOwner returns the tenant whose room the event's room is, and the
// room's name as that tenant knows it; owner is empty for a room of no
// tenant, and for a shared room the participant's own tenant owns (found
// without a LiveKit call).
func (m *Manager) guardedOwner(ctx context.Context, room *livekit.Room, tenant string, attributed bool) (owner, name string, err error) {
	if m.cfg.RoomNames == ScopedNames {
		owner, name, _ = ParseScopedRoomName(room.GetName())
		return owner, name, nil
	}
	if attributed && ownedBy(room.GetMetadata(), tenant) {
		return tenant, room.GetName(), nil
	}
	current, err := m.lookupRoom(ctx, roomRef{name: room.GetName(), lk: room.GetName()})
	if err != nil || current == nil {
		return "", room.GetName(), err
	}
	owner, _ = ownerOf(current.GetMetadata())
	return owner, room.GetName(), nil
}

// WebhookEvent is a verified LiveKit webhook event, with its room resolved
// to the tenant whose room it is.
type WebhookEvent struct {
	// Tenant is the tenant whose room the event concerns; empty for a room
	// of no tenant, and for events without a room.
	Tenant string
	// Room is the room's name as Tenant knows it; LiveKit's name when
	// Tenant is empty.
	Room string
	// Event is the event as LiveKit sent it, with LiveKit's room names.
	Event *livekit.WebhookEvent
}

// ResolveWebhook maps ev's room to its tenant and the name the tenant
// knows, without a LiveKit call: from the room's name under [ScopedNames]
// (guests' lobbies resolve to their tenant too), from the room's metadata
// ([OwnerKey]) under [SharedNames].
func (m *Manager) ResolveWebhook(ev *livekit.WebhookEvent) WebhookEvent {
	out := WebhookEvent{Event: ev}
	name := ev.GetRoom().GetName()
	switch {
	case name != "":
	case ev.GetEgressInfo() != nil:
		name = ev.GetEgressInfo().GetRoomName()
	case ev.GetIngressInfo() != nil:
		name = ev.GetIngressInfo().GetRoomName()
	}
	out.Tenant, out.Room = m.tenantOf(name, ev.GetRoom().GetMetadata())
	return out
}

// tenantOf is the tenant the room naming gives the LiveKit room lk whose
// metadata is metadata, and the room's name as that tenant knows it: the
// name's under [ScopedNames], the owner in the metadata under
// [SharedNames]. A room of no tenant is "" and lk.
func (m *Manager) tenantOf(lk, metadata string) (tenant, room string) {
	if m.cfg.RoomNames == ScopedNames {
		if tenant, room, ok := ParseScopedRoomName(lk); ok {
			return tenant, room
		}
		return "", lk
	}
	if owner, state := ownerOf(metadata); state == owned {
		return owner, lk
	}
	return "", lk
}
