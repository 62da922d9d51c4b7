package lkgatetest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/utils/guid"
	"github.com/twitchtv/twirp"
)

// Limits and defaults of livekit-server v1.8.4's default configuration.
const (
	maxRoomNameLength       = 256
	maxMetadataSize         = 64000
	defaultEmptyTimeout     = 300
	defaultDepartureTimeout = 20
)

// roomService implements livekit.RoomService on the Server's state. It is a
// separate type so that the RPC methods, which trust their caller to be the
// authenticating handler, are not part of Server's API.
type roomService struct{ s *Server }

var _ livekit.RoomService = roomService{}

// CreateRoom creates the room, or on an existing name returns the running
// room unchanged, as v1.8.4 does (newer servers update metadata and max
// participants instead).
func (svc roomService) CreateRoom(ctx context.Context, req *livekit.CreateRoomRequest) (*livekit.Room, error) {
	if err := ensureCreate(ctx); err != nil {
		return nil, err
	}
	if len(req.Name) > maxRoomNameLength {
		return nil, serverError(twirp.InvalidArgument,
			fmt.Sprintf("room name length exceeds limits: max length %d", maxRoomNameLength))
	}
	s := svc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[req.Name]
	if r == nil {
		r = s.createRoomLocked(req)
	}
	return r.proto(), nil
}

// createRoomLocked stores a new room built from req and the server
// defaults. The caller holds s.mu.
func (s *Server) createRoomLocked(req *livekit.CreateRoomRequest) *room {
	now := s.now()
	info := &livekit.Room{
		Sid:              guid.New(guid.RoomPrefix),
		Name:             req.Name,
		EmptyTimeout:     cmp.Or(req.EmptyTimeout, defaultEmptyTimeout),
		DepartureTimeout: cmp.Or(req.DepartureTimeout, defaultDepartureTimeout),
		MaxParticipants:  req.MaxParticipants,
		Metadata:         req.Metadata,
		CreationTime:     now.Unix(),
		CreationTimeMs:   now.UnixMilli(),
	}
	r := &room{info: info, written: time.Now()}
	// As the server does: a room created without agents gets one dispatch
	// of the unnamed agent.
	agents := req.Agents
	if len(agents) == 0 {
		agents = []*livekit.RoomAgentDispatch{{}}
	}
	for _, a := range agents {
		r.dispatches = append(r.dispatches, &livekit.AgentDispatch{
			Id: guid.New(guid.AgentDispatchPrefix), AgentName: a.AgentName, Metadata: a.Metadata, Room: req.Name,
		})
	}
	s.rooms[req.Name] = r
	return r
}

// ListRooms returns the named rooms, or all rooms when no name is given,
// ordered by creation time then name. Unknown names are skipped.
// NumParticipants is current, where the real server's lags by seconds.
func (svc roomService) ListRooms(ctx context.Context, req *livekit.ListRoomsRequest) (*livekit.ListRoomsResponse, error) {
	if err := ensureList(ctx); err != nil {
		return nil, err
	}
	s := svc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rooms := make([]*livekit.Room, 0, len(s.rooms))
	for name, r := range s.rooms {
		if s.listLag > 0 && time.Since(r.written) < s.listLag {
			continue
		}
		if len(req.Names) == 0 || slices.Contains(req.Names, name) {
			rooms = append(rooms, r.proto())
		}
	}
	slices.SortFunc(rooms, func(a, b *livekit.Room) int {
		return cmp.Or(cmp.Compare(a.CreationTimeMs, b.CreationTimeMs), cmp.Compare(a.Name, b.Name))
	})
	return &livekit.ListRoomsResponse{Rooms: rooms}, nil
}

// DeleteRoom removes the room with its participants and recorded data.
func (svc roomService) DeleteRoom(ctx context.Context, req *livekit.DeleteRoomRequest) (*livekit.DeleteRoomResponse, error) {
	if err := ensureCreate(ctx); err != nil {
		return nil, err
	}
	s := svc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rooms[req.Room] == nil {
		return nil, errRoomNotFound()
	}
	delete(s.rooms, req.Room)
	return &livekit.DeleteRoomResponse{}, nil
}

// UpdateRoomMetadata replaces the room's metadata. The size limit is
// checked before the token, as the server does.
func (svc roomService) UpdateRoomMetadata(ctx context.Context, req *livekit.UpdateRoomMetadataRequest) (*livekit.Room, error) {
	if len(req.Metadata) > maxMetadataSize {
		return nil, twirp.InvalidArgumentError("metadata size exceeds limits", strconv.Itoa(maxMetadataSize))
	}
	if err := ensureAdmin(ctx, req.Room); err != nil {
		return nil, err
	}
	s := svc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[req.Room]
	if r == nil {
		return nil, errRoomNotFound()
	}
	r.info.Metadata = req.Metadata
	r.written = time.Now()
	return r.proto(), nil
}

func errRoomNotFound() error {
	return serverError(twirp.NotFound, "requested room does not exist")
}
