package main

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate"
)

// countingRooms counts the LiveKit round trips lkgate makes through its own
// default client.
type countingRooms struct {
	lkgate.RoomService
	n *atomic.Int64
}

func (c countingRooms) CreateRoom(ctx context.Context, r *livekit.CreateRoomRequest) (*livekit.Room, error) {
	c.n.Add(1)
	return c.RoomService.CreateRoom(ctx, r)
}

func (c countingRooms) DeleteRoom(ctx context.Context, r *livekit.DeleteRoomRequest) (*livekit.DeleteRoomResponse, error) {
	c.n.Add(1)
	return c.RoomService.DeleteRoom(ctx, r)
}

func (c countingRooms) ListRooms(ctx context.Context, r *livekit.ListRoomsRequest) (*livekit.ListRoomsResponse, error) {
	c.n.Add(1)
	return c.RoomService.ListRooms(ctx, r)
}

func (c countingRooms) UpdateRoomMetadata(ctx context.Context, r *livekit.UpdateRoomMetadataRequest) (*livekit.Room, error) {
	c.n.Add(1)
	return c.RoomService.UpdateRoomMetadata(ctx, r)
}

func (c countingRooms) ListParticipants(ctx context.Context, r *livekit.ListParticipantsRequest) (*livekit.ListParticipantsResponse, error) {
	c.n.Add(1)
	return c.RoomService.ListParticipants(ctx, r)
}

func (c countingRooms) GetParticipant(ctx context.Context, r *livekit.RoomParticipantIdentity) (*livekit.ParticipantInfo, error) {
	c.n.Add(1)
	return c.RoomService.GetParticipant(ctx, r)
}

func (c countingRooms) RemoveParticipant(ctx context.Context, r *livekit.RoomParticipantIdentity) (*livekit.RemoveParticipantResponse, error) {
	c.n.Add(1)
	return c.RoomService.RemoveParticipant(ctx, r)
}

func (c countingRooms) MutePublishedTrack(ctx context.Context, r *livekit.MuteRoomTrackRequest) (*livekit.MuteRoomTrackResponse, error) {
	c.n.Add(1)
	return c.RoomService.MutePublishedTrack(ctx, r)
}

func (c countingRooms) UpdateParticipant(ctx context.Context, r *livekit.UpdateParticipantRequest) (*livekit.ParticipantInfo, error) {
	c.n.Add(1)
	return c.RoomService.UpdateParticipant(ctx, r)
}

// countingLeases counts the round trips a shared-names Manager makes to
// its lease store, and the sweeps it completes.
type countingLeases struct {
	store  lkgate.LeaseStore
	calls  atomic.Int64
	sweeps atomic.Int64
}

func (c *countingLeases) Lease(ctx context.Context, name, tenant string, until, liveAfter time.Time) (string, error) {
	c.calls.Add(1)
	return c.store.Lease(ctx, name, tenant, until, liveAfter)
}

func (c *countingLeases) Renew(ctx context.Context, rooms map[string]string, until time.Time) error {
	c.calls.Add(1)
	return c.store.Renew(ctx, rooms, until)
}

func (c *countingLeases) RenewAfter(ctx context.Context, after, until time.Time) error {
	c.calls.Add(1)
	return c.store.RenewAfter(ctx, after, until)
}

func (c *countingLeases) LastSweep(ctx context.Context) (time.Time, error) {
	c.calls.Add(1)
	return c.store.LastSweep(ctx)
}

func (c *countingLeases) SetLastSweep(ctx context.Context, t time.Time) error {
	c.calls.Add(1)
	err := c.store.SetLastSweep(ctx, t)
	if err == nil {
		c.sweeps.Add(1)
	}
	return err
}
