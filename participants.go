package lkgate

import (
	"context"
	"errors"
	"strconv"

	"github.com/livekit/protocol/livekit"
)

// RemoveParticipant disconnects identity from the tenant's room: one
// LiveKit call under ScopedNames, two under SharedNames (the ownership
// check). Errors: ErrNotFound for a missing room, another tenant's room,
// or an identity not in the room.
//
// LiveKit lets a removed client rejoin while its token is valid (and it
// hands connected clients refreshed tokens), so keep token TTLs short, or
// revoke the user's right to new tokens before removing them.
func (m *Manager) RemoveParticipant(ctx context.Context, tenant, room, identity string) error {
	err := m.removeParticipant(ctx, tenant, room, identity)
	m.audit(ctx, AuditEvent{Tenant: tenant, Action: ActionParticipantRemove, Room: room, Target: identity}, err)
	return err
}

func (m *Manager) removeParticipant(ctx context.Context, tenant, room, identity string) error {
	ctx, cancel := m.withDeadline(ctx)
	defer cancel()
	if err := validateText("Identity", identity, MaxIdentityBytes); err != nil {
		return withContext(err, "remove participant", room)
	}
	ref, _, err := m.authorize(ctx, tenant, room, false)
	if err != nil {
		return withContext(err, "remove participant", room)
	}
	_, err = m.rooms.RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: ref.lk, Identity: identity})
	return participantError("remove participant", room, err)
}

// MuteRequest selects a published track by SID or by source.
type MuteRequest struct {
	Room     string
	Identity string
	// TrackSID or Source selects the track; give exactly one.
	TrackSID string
	Source   TrackSource
	Muted    bool
}

// MuteTrack mutes or unmutes a participant's track and returns the track as
// LiveKit reports it afterwards, in two LiveKit calls (look the participant
// up, mute; three under SharedNames, whose ownership check is one more).
// The look-up answers an unknown participant or track
// with ErrNotFound at once, where LiveKit itself stalls about 3 s and then
// answers "unavailable" for an unknown participant, and answers nothing at
// all for an unknown track. Unmuting is refused by LiveKit's default
// configuration (room.enable_remote_unmute): ErrConflict.
func (m *Manager) MuteTrack(ctx context.Context, tenant string, req MuteRequest) (*Track, error) {
	t, err := m.muteTrack(ctx, tenant, req)
	ev := AuditEvent{Tenant: tenant, Action: ActionTrackMute, Room: req.Room, Target: req.Identity,
		Details: map[string]string{"muted": strconv.FormatBool(req.Muted)}}
	if t != nil {
		ev.Details["track_sid"] = t.SID
	}
	m.audit(ctx, ev, err)
	return t, err
}

func (m *Manager) muteTrack(ctx context.Context, tenant string, req MuteRequest) (*Track, error) {
	ctx, cancel := m.withDeadline(ctx)
	defer cancel()
	if (req.TrackSID == "") == (req.Source == "") {
		return nil, &Error{Kind: ErrInvalidArgument, Op: "mute track", Room: req.Room, Field: "TrackSID", Msg: "give either a track SID or a source"}
	}
	var source livekit.TrackSource
	if req.Source != "" {
		var ok bool
		if source, ok = req.Source.proto(); !ok {
			return nil, &Error{Kind: ErrInvalidArgument, Op: "mute track", Room: req.Room, Field: "Source", Msg: "must be camera, microphone, screen_share or screen_share_audio"}
		}
	} else if err := validateText("TrackSID", req.TrackSID, MaxIdentityBytes); err != nil {
		return nil, withContext(err, "mute track", req.Room)
	}
	ref, p, err := m.participant(ctx, tenant, req.Room, req.Identity, "mute track")
	if err != nil {
		return nil, err
	}
	sid := ""
	for _, t := range p.GetTracks() {
		if (req.TrackSID != "" && t.GetSid() == req.TrackSID) || (req.Source != "" && t.GetSource() == source) {
			sid = t.GetSid()
			break
		}
	}
	if sid == "" {
		return nil, &Error{Kind: ErrNotFound, Op: "mute track", Room: req.Room, Msg: "the participant has no such track"}
	}
	res, err := m.rooms.MutePublishedTrack(ctx, &livekit.MuteRoomTrackRequest{Room: ref.lk, Identity: req.Identity, TrackSid: sid, Muted: req.Muted})
	if err != nil {
		return nil, fromLiveKit("mute track", req.Room, err)
	}
	if res.GetTrack() == nil {
		return nil, &Error{Kind: ErrNotFound, Op: "mute track", Room: req.Room, Msg: "the track was unpublished"}
	}
	t := trackOf(res.GetTrack())
	return &t, nil
}

// UpdatePermissions replaces what a participant may publish, subscribe to
// and send, in two LiveKit calls (three under SharedNames). The participant's other permissions
// (hidden, recorder, agent, metadata updates) are kept: LiveKit replaces
// the whole permission set, so lkgate carries them over. Turning publishing
// off unpublishes the participant's tracks.
func (m *Manager) UpdatePermissions(ctx context.Context, tenant, room, identity string, g Grant) (*Participant, error) {
	p, err := m.updatePermissions(ctx, tenant, room, identity, g)
	m.audit(ctx, AuditEvent{Tenant: tenant, Action: ActionPermissionsUpdate, Room: room, Target: identity}, err)
	return p, err
}

func (m *Manager) updatePermissions(ctx context.Context, tenant, room, identity string, g Grant) (*Participant, error) {
	ctx, cancel := m.withDeadline(ctx)
	defer cancel()
	if len(g.CanPublishSources) > 0 && !g.CanPublish {
		return nil, &Error{Kind: ErrInvalidArgument, Op: "update permissions", Room: room, Field: "CanPublishSources", Msg: "requires CanPublish"}
	}
	perm := &livekit.ParticipantPermission{}
	for _, s := range g.CanPublishSources {
		src, ok := s.proto()
		if !ok {
			return nil, &Error{Kind: ErrInvalidArgument, Op: "update permissions", Room: room, Field: "CanPublishSources", Msg: "unknown source " + string(s)}
		}
		perm.CanPublishSources = append(perm.CanPublishSources, src)
	}
	ref, p, err := m.participant(ctx, tenant, room, identity, "update permissions")
	if err != nil {
		return nil, err
	}
	if cur := p.GetPermission(); cur != nil {
		perm.Hidden, perm.CanUpdateMetadata, perm.CanSubscribeMetrics = cur.Hidden, cur.CanUpdateMetadata, cur.CanSubscribeMetrics
		//lint:ignore SA1019 livekit-server v1.8.4 still reads these fields, so they must survive the update
		perm.Recorder, perm.Agent = cur.Recorder, cur.Agent
	}
	perm.CanPublish, perm.CanSubscribe, perm.CanPublishData = g.CanPublish, g.CanSubscribe, g.CanPublishData
	updated, err := m.rooms.UpdateParticipant(ctx, &livekit.UpdateParticipantRequest{Room: ref.lk, Identity: identity, Permission: perm})
	if err != nil {
		return nil, fromLiveKit("update permissions", room, err)
	}
	out := participantOf(updated)
	return &out, nil
}

// participant authorizes the room, then looks the participant up so that an
// unknown one is answered with ErrNotFound at once.
func (m *Manager) participant(ctx context.Context, tenant, room, identity, op string) (roomRef, *livekit.ParticipantInfo, error) {
	if err := validateText("Identity", identity, MaxIdentityBytes); err != nil {
		return roomRef{}, nil, withContext(err, op, room)
	}
	ref, _, err := m.authorize(ctx, tenant, room, false)
	if err != nil {
		return ref, nil, withContext(err, op, room)
	}
	p, err := m.rooms.GetParticipant(ctx, &livekit.RoomParticipantIdentity{Room: ref.lk, Identity: identity})
	if err != nil {
		return ref, nil, participantError(op, room, err)
	}
	return ref, p, nil
}

// participantError converts a LiveKit error about a participant, giving
// not-found one plain message whatever LiveKit's wording.
func participantError(op, room string, err error) error {
	err = fromLiveKit(op, room, err)
	if errors.Is(err, ErrNotFound) {
		return &Error{Kind: ErrNotFound, Op: op, Room: room, Msg: "participant not found"}
	}
	return err
}
