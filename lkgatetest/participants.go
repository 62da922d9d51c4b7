package lkgatetest

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"
	"google.golang.org/protobuf/proto"

	"github.com/lkgate/lkgate"
)

// Participant limits of livekit-server v1.8.4's default configuration.
const (
	maxParticipantNameLength = 256
	maxAttributesSize        = 64000
)

// ListParticipants returns the room's participants in join order; an unknown
// room has none.
func (svc roomService) ListParticipants(ctx context.Context, req *livekit.ListParticipantsRequest) (*livekit.ListParticipantsResponse, error) {
	if err := ensureAdmin(ctx, req.Room); err != nil {
		return nil, err
	}
	return &livekit.ListParticipantsResponse{Participants: svc.s.Participants(req.Room)}, nil
}

// GetParticipant returns the participant, or not_found.
func (svc roomService) GetParticipant(ctx context.Context, req *livekit.RoomParticipantIdentity) (*livekit.ParticipantInfo, error) {
	if err := ensureAdmin(ctx, req.Room); err != nil {
		return nil, err
	}
	s := svc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.participantLocked(req.Room, req.Identity)
	if p == nil {
		return nil, serverError(twirp.NotFound, "participant does not exist")
	}
	return proto.Clone(p).(*livekit.ParticipantInfo), nil
}

// RemoveParticipant removes the participant, or answers not_found.
func (svc roomService) RemoveParticipant(ctx context.Context, req *livekit.RoomParticipantIdentity) (*livekit.RemoveParticipantResponse, error) {
	if err := ensureAdmin(ctx, req.Room); err != nil {
		return nil, err
	}
	s := svc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.participantLocked(req.Room, req.Identity) == nil {
		// Checked in the service itself, hence a plain twirp error.
		return nil, twirp.NotFoundError("participant not found")
	}
	r := s.rooms[req.Room]
	r.participants = slices.DeleteFunc(r.participants, func(p *livekit.ParticipantInfo) bool {
		return p.Identity == req.Identity
	})
	return &livekit.RemoveParticipantResponse{}, nil
}

// MutePublishedTrack mutes the track. Remote unmute is refused as on a
// default configuration, and an unknown track sid yields a nil track and no
// error, as on the real server.
func (svc roomService) MutePublishedTrack(ctx context.Context, req *livekit.MuteRoomTrackRequest) (*livekit.MuteRoomTrackResponse, error) {
	if err := ensureAdmin(ctx, req.Room); err != nil {
		return nil, err
	}
	s := svc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.participantLocked(req.Room, req.Identity)
	if p == nil {
		return nil, errNoResponse()
	}
	if !req.Muted {
		return nil, serverError(twirp.FailedPrecondition, "remote unmute not enabled")
	}
	for _, t := range p.Tracks {
		if t.Sid == req.TrackSid {
			t.Muted = true
			return &livekit.MuteRoomTrackResponse{Track: proto.Clone(t).(*livekit.TrackInfo)}, nil
		}
	}
	return &livekit.MuteRoomTrackResponse{}, nil
}

// UpdateParticipant applies the update as the server does: a non-empty name
// or metadata replaces the old one, attributes are merged with an empty
// value deleting the key, and a permission replaces the whole permission
// set, unpublishing tracks it no longer allows. Limits are checked before
// the token, as the server does.
func (svc roomService) UpdateParticipant(ctx context.Context, req *livekit.UpdateParticipantRequest) (*livekit.ParticipantInfo, error) {
	if len(req.Name) > maxParticipantNameLength {
		return nil, twirp.InvalidArgumentError("name length exceeds limits", strconv.Itoa(maxParticipantNameLength))
	}
	if len(req.Metadata) > maxMetadataSize {
		return nil, twirp.InvalidArgumentError("metadata size exceeds limits", strconv.Itoa(maxMetadataSize))
	}
	if attributesSize(req.Attributes) > maxAttributesSize {
		return nil, twirp.InvalidArgumentError("attribute size exceeds limits", strconv.Itoa(maxAttributesSize))
	}
	if err := ensureAdmin(ctx, req.Room); err != nil {
		return nil, err
	}
	s := svc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.participantLocked(req.Room, req.Identity)
	if p == nil {
		return nil, errNoResponse()
	}
	if req.Name != "" {
		p.Name = req.Name
	}
	if req.Metadata != "" {
		p.Metadata = req.Metadata
	}
	if v := req.Attributes[lkgate.AdmissionAttribute]; v != "" {
		s.admissions[participantKey{req.Room, req.Identity}] = v
	}
	for k, v := range req.Attributes {
		if v == "" {
			delete(p.Attributes, k)
			continue
		}
		if p.Attributes == nil {
			p.Attributes = make(map[string]string)
		}
		p.Attributes[k] = v
	}
	if req.Permission != nil {
		p.Permission = proto.Clone(req.Permission).(*livekit.ParticipantPermission)
		p.Tracks = slices.DeleteFunc(p.Tracks, func(t *livekit.TrackInfo) bool {
			return !canPublishSource(p.Permission, t.Source)
		})
		p.IsPublisher = len(p.Tracks) > 0
	}
	return proto.Clone(p).(*livekit.ParticipantInfo), nil
}

// UpdateSubscriptions accepts the request for a present participant. The
// fake carries no media, so nothing else changes.
func (svc roomService) UpdateSubscriptions(ctx context.Context, req *livekit.UpdateSubscriptionsRequest) (*livekit.UpdateSubscriptionsResponse, error) {
	if err := ensureAdmin(ctx, req.Room); err != nil {
		return nil, err
	}
	s := svc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.participantLocked(req.Room, req.Identity) == nil {
		return nil, errNoResponse()
	}
	return &livekit.UpdateSubscriptionsResponse{}, nil
}

// SendData records the request on the room for SentData.
func (svc roomService) SendData(ctx context.Context, req *livekit.SendDataRequest) (*livekit.SendDataResponse, error) {
	if err := ensureAdmin(ctx, req.Room); err != nil {
		return nil, err
	}
	if len(req.Nonce) != 0 && len(req.Nonce) != 16 {
		return nil, twirp.NewError(twirp.InvalidArgument,
			fmt.Sprintf("nonce should be 16-bytes or not present, got: %d bytes", len(req.Nonce)))
	}
	s := svc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[req.Room]
	if r == nil {
		return nil, errNoResponse()
	}
	r.sent = append(r.sent, proto.Clone(req).(*livekit.SendDataRequest))
	return &livekit.SendDataResponse{}, nil
}

// ForwardParticipant is not supported (livekit-server v1.8.4 lacks it too).
func (roomService) ForwardParticipant(context.Context, *livekit.ForwardParticipantRequest) (*livekit.ForwardParticipantResponse, error) {
	return nil, errUnimplemented("ForwardParticipant")
}

// MoveParticipant is not supported (livekit-server v1.8.4 lacks it too).
func (roomService) MoveParticipant(context.Context, *livekit.MoveParticipantRequest) (*livekit.MoveParticipantResponse, error) {
	return nil, errUnimplemented("MoveParticipant")
}

// PerformRpc is not supported (livekit-server v1.8.4 lacks it too).
func (roomService) PerformRpc(context.Context, *livekit.PerformRpcRequest) (*livekit.PerformRpcResponse, error) {
	return nil, errUnimplemented("PerformRpc")
}

// participantLocked finds a participant; the caller holds s.mu.
func (s *Server) participantLocked(roomName, identity string) *livekit.ParticipantInfo {
	if r := s.rooms[roomName]; r != nil {
		return r.participant(identity)
	}
	return nil
}

// errNoResponse is what the server answers, after about 3 s, when no node
// hosts the room or participant a request is routed to.
func errNoResponse() error {
	return serverError(twirp.Unavailable, "no response from servers")
}

func errUnimplemented(method string) error {
	return twirp.NewError(twirp.Unimplemented, "lkgatetest: "+method+" is not implemented")
}

func attributesSize(attrs map[string]string) int {
	n := 0
	for k, v := range attrs {
		n += len(k) + len(v)
	}
	return n
}

// canPublishSource mirrors auth.VideoGrant.GetCanPublishSource: an empty
// source list allows every source.
func canPublishSource(p *livekit.ParticipantPermission, src livekit.TrackSource) bool {
	return p.CanPublish && (len(p.CanPublishSources) == 0 || slices.Contains(p.CanPublishSources, src))
}
