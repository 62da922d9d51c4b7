package lkgate

import (
	"context"
	"net/http"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/utils/xtwirp"
	"github.com/twitchtv/twirp"
)

// roomClient is the RoomService of NewRoomService. Its transport is its
// own because the SDK's HTTP client cannot be configured and keeps two
// idle connections per host: under concurrent load most calls would open a
// new connection to LiveKit.
type roomClient struct {
	rpc         livekit.RoomService
	key, secret string
}

// NewRoomService returns the [RoomService] a Manager uses when
// [Config].RoomService is nil: LiveKit's twirp client on a pooled HTTP
// transport, signing a least-privilege token per call. A host may wrap it
// (for metrics or tracing) and pass the wrapper in [Config].RoomService.
// It is safe for concurrent use.
func NewRoomService(url, apiKey, apiSecret string) RoomService {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns = 256
	transport.MaxIdleConnsPerHost = 256
	// The backstop the SDK has too; callers' contexts normally end sooner.
	httpClient := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	return &roomClient{
		rpc: livekit.NewRoomServiceProtobufClient(toHTTPURL(url), httpClient, xtwirp.DefaultClientOptions()...),
		key: apiKey, secret: apiSecret,
	}
}

// call runs fn with a one-minute token carrying grant.
func call[Req, Res any](c *roomClient, ctx context.Context, grant auth.VideoGrant, req Req, fn func(context.Context, Req) (Res, error)) (Res, error) {
	token, err := auth.NewAccessToken(c.key, c.secret).SetVideoGrant(&grant).SetValidFor(time.Minute).ToJWT()
	if err == nil {
		ctx, err = twirp.WithHTTPRequestHeaders(ctx, http.Header{"Authorization": {"Bearer " + token}})
	}
	if err != nil {
		var zero Res
		return zero, err
	}
	return fn(ctx, req)
}

func admin(room string) auth.VideoGrant { return auth.VideoGrant{RoomAdmin: true, Room: room} }

func (c *roomClient) CreateRoom(ctx context.Context, req *livekit.CreateRoomRequest) (*livekit.Room, error) {
	return call(c, ctx, auth.VideoGrant{RoomCreate: true}, req, c.rpc.CreateRoom)
}

func (c *roomClient) DeleteRoom(ctx context.Context, req *livekit.DeleteRoomRequest) (*livekit.DeleteRoomResponse, error) {
	return call(c, ctx, auth.VideoGrant{RoomCreate: true}, req, c.rpc.DeleteRoom)
}

func (c *roomClient) ListRooms(ctx context.Context, req *livekit.ListRoomsRequest) (*livekit.ListRoomsResponse, error) {
	return call(c, ctx, auth.VideoGrant{RoomList: true}, req, c.rpc.ListRooms)
}

func (c *roomClient) UpdateRoomMetadata(ctx context.Context, req *livekit.UpdateRoomMetadataRequest) (*livekit.Room, error) {
	return call(c, ctx, admin(req.GetRoom()), req, c.rpc.UpdateRoomMetadata)
}

func (c *roomClient) ListParticipants(ctx context.Context, req *livekit.ListParticipantsRequest) (*livekit.ListParticipantsResponse, error) {
	return call(c, ctx, admin(req.GetRoom()), req, c.rpc.ListParticipants)
}

func (c *roomClient) GetParticipant(ctx context.Context, req *livekit.RoomParticipantIdentity) (*livekit.ParticipantInfo, error) {
	return call(c, ctx, admin(req.GetRoom()), req, c.rpc.GetParticipant)
}

func (c *roomClient) RemoveParticipant(ctx context.Context, req *livekit.RoomParticipantIdentity) (*livekit.RemoveParticipantResponse, error) {
	return call(c, ctx, admin(req.GetRoom()), req, c.rpc.RemoveParticipant)
}

func (c *roomClient) MutePublishedTrack(ctx context.Context, req *livekit.MuteRoomTrackRequest) (*livekit.MuteRoomTrackResponse, error) {
	return call(c, ctx, admin(req.GetRoom()), req, c.rpc.MutePublishedTrack)
}

func (c *roomClient) UpdateParticipant(ctx context.Context, req *livekit.UpdateParticipantRequest) (*livekit.ParticipantInfo, error) {
	return call(c, ctx, admin(req.GetRoom()), req, c.rpc.UpdateParticipant)
}
