package lkgate

import (
	"context"
	"errors"
	"maps"
	"strings"
	"time"

	"github.com/livekit/protocol/livekit"
)

// Room is a LiveKit room as a tenant sees it.
type Room struct {
	// Name is the room's name as the tenant knows it.
	Name string
	SID  string
	// NumParticipants is LiveKit's own count, which lags joins and leaves
	// by about 5 s. RoomDetails.Participants is exact.
	NumParticipants int
	MaxParticipants int
	CreatedAt       time.Time
	// Metadata is the room's metadata without lkgate's OwnerKey.
	Metadata        string
	ActiveRecording bool
}

// RoomDetails is a room with the participants in it now.
type RoomDetails struct {
	Room
	Participants []Participant
}

// Participant is a participant as a tenant sees it. Attributes leave out
// lkgate's internal ones.
type Participant struct {
	SID      string
	Identity string
	Name     string
	// State is "joining", "joined", "active" or "disconnected".
	State string
	// Kind is "standard", "ingress", "egress", "sip" or "agent".
	Kind        string
	JoinedAt    time.Time
	Metadata    string
	Attributes  map[string]string
	IsPublisher bool
	Tracks      []Track
}

// Track is a track published by a participant.
type Track struct {
	SID string
	// Source is one of the TrackSource constants, or "unknown".
	Source TrackSource
	// Type is "audio", "video" or "data".
	Type  string
	Name  string
	Muted bool
}

// ListRooms returns the tenant's rooms (in unauthenticated mode, every
// room outside the tenants' namespaces), named as the tenant knows them,
// in LiveKit's order. Lobbies are never listed. The list requests of every
// tenant share LiveKit's answers for up to [Config].ListStaleness: a room
// this Manager created or deleted shows at once, one created by a
// participant's join or elsewhere within that time.
//
// With [Config].RoomIndex, a tenant's list is LiveKit's answer for the
// names the index holds for it (ListRooms by name, unshared): it costs the
// tenant's rooms, not every room. A room this Manager created or deleted
// shows at once; one created by a participant's join or elsewhere once its
// room_started webhook arrives ([Manager.IndexRoomEvent]) or, if that is
// lost, after the next reconciliation ([Manager.ReconcileRoomIndex]).
// Errors: [ErrUnavailable] if the index is.
func (m *Manager) ListRooms(ctx context.Context, tenant string) ([]Room, error) {
	return runResult(ctx, m, operation{op: "list rooms", tenant: tenant}, func(ctx context.Context, _ *auditRecord) ([]Room, error) {
		if m.index != nil && tenant != "" {
			rooms, err := m.indexedRooms(ctx, tenant, nil)
			if err != nil {
				return nil, err
			}
			return m.roomsOf(rooms, tenant), nil
		}
		answer, err := m.listed.list(ctx, m.rooms)
		if err != nil {
			return nil, err
		}
		return answer.of(tenant, func(all []*livekit.Room) []Room { return m.roomsOf(all, tenant) }), nil
	})
}

// roomsOf keeps the rooms of tenant from LiveKit's list all.
func (m *Manager) roomsOf(all []*livekit.Room, tenant string) []Room {
	rooms := []Room{}
	for _, r := range all {
		name := r.GetName()
		if tenant != "" {
			var kind roomClass
			if name, kind = m.roomKind(r, tenant); kind != tenantRoom {
				continue
			}
		} else if _, _, scoped := ParseScopedRoomName(name); scoped || strings.HasPrefix(name, LobbyPrefix) {
			continue
		}
		rooms = append(rooms, roomOf(r, name))
	}
	return rooms
}

// Room returns a room of the tenant with its participants. Errors:
// [ErrNotFound] for a missing room or another tenant's.
func (m *Manager) Room(ctx context.Context, tenant, name string) (*RoomDetails, error) {
	return runResult(ctx, m, operation{op: "get room", tenant: tenant, room: name}, func(ctx context.Context, _ *auditRecord) (*RoomDetails, error) {
		ref, room, err := m.authorize(ctx, tenant, name, true)
		if err != nil {
			return nil, err
		}
		res, err := m.rooms.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: ref.lk})
		if err != nil {
			return nil, fromLiveKit("list participants", name, err)
		}
		d := &RoomDetails{Room: roomOf(room, ref.name), Participants: []Participant{}}
		for _, p := range res.GetParticipants() {
			d.Participants = append(d.Participants, participantOf(p))
		}
		d.NumParticipants = len(d.Participants)
		return d, nil
	})
}

// roomOf is r as a tenant sees it, under the name it knows.
func roomOf(r *livekit.Room, name string) Room {
	return Room{
		Name:            name,
		SID:             r.GetSid(),
		NumParticipants: int(r.GetNumParticipants()),
		MaxParticipants: int(r.GetMaxParticipants()),
		CreatedAt:       time.Unix(r.GetCreationTime(), 0).UTC(),
		Metadata:        metadataWithoutOwner(r.GetMetadata()),
		ActiveRecording: r.GetActiveRecording(),
	}
}

func participantOf(p *livekit.ParticipantInfo) Participant {
	attrs := maps.Clone(p.GetAttributes())
	for k := range attrs {
		if strings.HasPrefix(k, reservedAttributePrefix) {
			delete(attrs, k)
		}
	}
	if attrs == nil {
		attrs = map[string]string{}
	}
	out := Participant{
		SID:         p.GetSid(),
		Identity:    p.GetIdentity(),
		Name:        p.GetName(),
		State:       strings.ToLower(p.GetState().String()),
		Kind:        strings.ToLower(p.GetKind().String()),
		JoinedAt:    time.Unix(p.GetJoinedAt(), 0).UTC(),
		Metadata:    p.GetMetadata(),
		Attributes:  attrs,
		IsPublisher: p.GetIsPublisher(),
		Tracks:      []Track{},
	}
	if ms := p.GetJoinedAtMs(); ms > 0 {
		out.JoinedAt = time.UnixMilli(ms).UTC()
	}
	for _, t := range p.GetTracks() {
		out.Tracks = append(out.Tracks, trackOf(t))
	}
	return out
}

func trackOf(t *livekit.TrackInfo) Track {
	return Track{
		SID:    t.GetSid(),
		Source: sourceOf(t.GetSource()),
		Type:   strings.ToLower(t.GetType().String()),
		Name:   t.GetName(),
		Muted:  t.GetMuted(),
	}
}

func sourceOf(s livekit.TrackSource) TrackSource {
	for _, src := range []TrackSource{SourceCamera, SourceMicrophone, SourceScreenShare, SourceScreenShareAudio} {
		if p, _ := src.proto(); p == s {
			return src
		}
	}
	return "unknown"
}

// DeleteRoom ends the tenant's meeting for everyone: LiveKit disconnects
// every participant and closes the room. Under [SharedNames] only the
// room's owner may, and the name stays leased to it while tokens naming it
// live. A participant with a live token (or one LiveKit refreshed) can
// open the room again by joining: ban it ([Manager.Ban]) to keep it out.
// Errors: [ErrNotFound] for a missing room or another tenant's.
func (m *Manager) DeleteRoom(ctx context.Context, tenant, room string) error {
	o := operation{op: "delete room", action: ActionRoomDelete, tenant: tenant, room: room, details: map[string]string{"reason": "ended"}}
	return m.run(ctx, o, func(ctx context.Context, _ *auditRecord) error {
		ref, lkRoom, err := m.authorize(ctx, tenant, room, false)
		if err != nil {
			return err
		}
		_, err = m.rooms.DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: ref.lk})
		m.listed.invalidate() // even on failure: it may have gone
		if err = fromLiveKit("delete room", room, err); err == nil || errors.Is(err, ErrNotFound) {
			m.indexFinished(ctx, ref.tenant, ref.lk, lkRoom.GetSid())
		}
		if errors.Is(err, ErrNotFound) {
			return errRoomNotFound
		}
		return err
	})
}
