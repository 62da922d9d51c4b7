// Package counting wraps lkgate's LiveKit clients to count round trips.
package counting

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate"
)

// Rooms is a RoomService that counts the LiveKit round trips made through
// it into N, for benchmarks and tests against a real server (the fake
// counts its own).
type Rooms struct {
	lkgate.RoomService
	N *atomic.Int64
}

func (c Rooms) CreateRoom(ctx context.Context, r *livekit.CreateRoomRequest) (*livekit.Room, error) {
	c.N.Add(1)
	return c.RoomService.CreateRoom(ctx, r)
}

func (c Rooms) DeleteRoom(ctx context.Context, r *livekit.DeleteRoomRequest) (*livekit.DeleteRoomResponse, error) {
	c.N.Add(1)
	return c.RoomService.DeleteRoom(ctx, r)
}

func (c Rooms) ListRooms(ctx context.Context, r *livekit.ListRoomsRequest) (*livekit.ListRoomsResponse, error) {
	c.N.Add(1)
	return c.RoomService.ListRooms(ctx, r)
}

func (c Rooms) UpdateRoomMetadata(ctx context.Context, r *livekit.UpdateRoomMetadataRequest) (*livekit.Room, error) {
	c.N.Add(1)
	return c.RoomService.UpdateRoomMetadata(ctx, r)
}

func (c Rooms) ListParticipants(ctx context.Context, r *livekit.ListParticipantsRequest) (*livekit.ListParticipantsResponse, error) {
	c.N.Add(1)
	return c.RoomService.ListParticipants(ctx, r)
}

func (c Rooms) GetParticipant(ctx context.Context, r *livekit.RoomParticipantIdentity) (*livekit.ParticipantInfo, error) {
	c.N.Add(1)
	return c.RoomService.GetParticipant(ctx, r)
}

func (c Rooms) RemoveParticipant(ctx context.Context, r *livekit.RoomParticipantIdentity) (*livekit.RemoveParticipantResponse, error) {
	c.N.Add(1)
	return c.RoomService.RemoveParticipant(ctx, r)
}

func (c Rooms) MutePublishedTrack(ctx context.Context, r *livekit.MuteRoomTrackRequest) (*livekit.MuteRoomTrackResponse, error) {
	c.N.Add(1)
	return c.RoomService.MutePublishedTrack(ctx, r)
}

func (c Rooms) UpdateParticipant(ctx context.Context, r *livekit.UpdateParticipantRequest) (*livekit.ParticipantInfo, error) {
	c.N.Add(1)
	return c.RoomService.UpdateParticipant(ctx, r)
}

// ListNames is a RoomService that records, for each ListRooms made
// through it, how many names it asked for (0: every room).
type ListNames struct {
	lkgate.RoomService
	mu    sync.Mutex
	names []int
}

func (l *ListNames) ListRooms(ctx context.Context, r *livekit.ListRoomsRequest) (*livekit.ListRoomsResponse, error) {
	l.mu.Lock()
	l.names = append(l.names, len(r.GetNames()))
	l.mu.Unlock()
	return l.RoomService.ListRooms(ctx, r)
}

// Take returns the names asked for by each ListRooms since the last Take.
func (l *ListNames) Take() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.names
	l.names = nil
	return out
}
