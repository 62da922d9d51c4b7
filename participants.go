package lkgate

import (
	"context"
	"errors"
	"strconv"

	"github.com/livekit/protocol/livekit"
)

// RemoveParticipant disconnects identity from the tenant's room. Errors:
// [ErrNotFound] for a missing room, another tenant's room, or an identity
// not in the room.
//
// LiveKit lets a removed client rejoin with the refreshed token it was
// handed; [Manager.Ban] removes it and keeps it out.
func (m *Manager) RemoveParticipant(ctx context.Context, tenant, room, identity string) error {
	o := operation{op: "remove participant", action: ActionParticipantRemove, tenant: tenant, room: room, target: identity}
	return m.run(ctx, o, func(ctx context.Context, _ *auditRecord) error {
		ref, err := m.participantRoom(ctx, tenant, room, identity)
		if err != nil {
			return err
		}
		_, err = m.rooms.RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: ref.lk, Identity: identity})
		return participantError("remove participant", room, err)
	})
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

// validate checks r and returns the LiveKit source it selects, if any.
func (r MuteRequest) validate() (livekit.TrackSource, error) {
	if (r.TrackSID == "") == (r.Source == "") {
		return 0, invalidArg("TrackSID", "give either a track SID or a source")
	}
	if r.Source == "" {
		return 0, validateText("TrackSID", r.TrackSID, MaxIdentityBytes)
	}
	source, ok := r.Source.proto()
	if !ok {
		return 0, invalidArg("Source", "must be camera, microphone, screen_share or screen_share_audio")
	}
	return source, nil
}

// MuteTrack mutes or unmutes a participant's track and returns the track
// as LiveKit reports it afterwards. Errors: [ErrNotFound] for an unknown
// room, participant or track; [ErrConflict] when LiveKit refuses to unmute
// (its default room.enable_remote_unmute).
func (m *Manager) MuteTrack(ctx context.Context, tenant string, req MuteRequest) (*Track, error) {
	o := operation{op: "mute track", action: ActionTrackMute, tenant: tenant, room: req.Room, target: req.Identity}
	return runResult(ctx, m, o, func(ctx context.Context, a *auditRecord) (*Track, error) {
		a.set("muted", strconv.FormatBool(req.Muted))
		source, err := req.validate()
		if err != nil {
			return nil, err
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
			return nil, &Error{Kind: ErrNotFound, Msg: "the participant has no such track"}
		}
		res, err := m.rooms.MutePublishedTrack(ctx, &livekit.MuteRoomTrackRequest{Room: ref.lk, Identity: req.Identity, TrackSid: sid, Muted: req.Muted})
		if err != nil {
			return nil, fromLiveKit("mute track", req.Room, err)
		}
		if res.GetTrack() == nil {
			return nil, &Error{Kind: ErrNotFound, Msg: "the track was unpublished"}
		}
		t := trackOf(res.GetTrack())
		a.set("track_sid", t.SID)
		return &t, nil
	})
}

// UpdatePermissions replaces what a participant may publish, subscribe to
// and send, keeping its other permissions (hidden, recorder, agent,
// metadata updates), and returns the participant. Turning publishing off
// unpublishes its tracks. Errors: [ErrNotFound] for an unknown room or
// participant.
func (m *Manager) UpdatePermissions(ctx context.Context, tenant, room, identity string, g Grant) (*Participant, error) {
	o := operation{op: "update permissions", action: ActionPermissionsUpdate, tenant: tenant, room: room, target: identity}
	return runResult(ctx, m, o, func(ctx context.Context, _ *auditRecord) (*Participant, error) {
		perm, err := g.permission("")
		if err != nil {
			return nil, err
		}
		ref, p, err := m.participant(ctx, tenant, room, identity, "update permissions")
		if err != nil {
			return nil, err
		}
		// LiveKit replaces the whole permission set: carry the rest over.
		if cur := p.GetPermission(); cur != nil {
			perm.Hidden, perm.CanUpdateMetadata, perm.CanSubscribeMetrics = cur.Hidden, cur.CanUpdateMetadata, cur.CanSubscribeMetrics
			//lint:ignore SA1019 livekit-server v1.8.4 still reads these fields, so they must survive the update
			perm.Recorder, perm.Agent = cur.Recorder, cur.Agent
		}
		updated, err := m.rooms.UpdateParticipant(ctx, &livekit.UpdateParticipantRequest{Room: ref.lk, Identity: identity, Permission: perm})
		if err != nil {
			return nil, fromLiveKit("update permissions", room, err)
		}
		out := participantOf(updated)
		return &out, nil
	})
}

// participant authorizes the room, then looks the participant up so that an
// unknown one is answered with ErrNotFound at once.
func (m *Manager) participant(ctx context.Context, tenant, room, identity, op string) (roomRef, *livekit.ParticipantInfo, error) {
	ref, err := m.participantRoom(ctx, tenant, room, identity)
	if err != nil {
		return ref, nil, err
	}
	p, err := m.rooms.GetParticipant(ctx, &livekit.RoomParticipantIdentity{Room: ref.lk, Identity: identity})
	if err != nil {
		return ref, nil, participantError(op, room, err)
	}
	return ref, p, nil
}

// participantRoom is the gate of every operation on one participant: the
// identity is validated before the tenant's room is authorized, so that bad
// input costs no LiveKit call.
func (m *Manager) participantRoom(ctx context.Context, tenant, room, identity string) (roomRef, error) {
	if err := validateText("Identity", identity, MaxIdentityBytes); err != nil {
		return roomRef{}, err
	}
	ref, _, err := m.authorize(ctx, tenant, room, false)
	return ref, err
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
