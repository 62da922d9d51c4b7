package httpx

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/lkgate/lkgate"
)

// Room is a room in GET /livekit/rooms and GET /livekit/rooms/{room_name}.
type Room struct {
	// Name is the room's name as the tenant knows it, never LiveKit's.
	Name string `json:"name"`
	SID  string `json:"sid"`
	// NumParticipants is exact in room details; in the room list it is
	// LiveKit's own count, which lags by about 5 s.
	NumParticipants int    `json:"num_participants"`
	MaxParticipants int    `json:"max_participants"`
	CreationTime    int64  `json:"creation_time"` // unix seconds
	Metadata        string `json:"metadata"`      // without lkgate's auth_id
	ActiveRecording bool   `json:"active_recording"`
}

// ListRoomsResponse is the answer of GET /livekit/rooms.
type ListRoomsResponse struct {
	Rooms []Room `json:"rooms"`
}

// RoomDetails is the answer of GET /livekit/rooms/{room_name}.
type RoomDetails struct {
	Room
	Participants []Participant `json:"participants"`
}

// Participant is a participant in RoomDetails.
type Participant struct {
	SID         string            `json:"sid"`
	Identity    string            `json:"identity"`
	Name        string            `json:"name"`
	State       string            `json:"state"`
	Kind        string            `json:"kind"`
	JoinedAt    int64             `json:"joined_at"` // unix seconds
	Metadata    string            `json:"metadata"`
	Attributes  map[string]string `json:"attributes"`
	IsPublisher bool              `json:"is_publisher"`
	Tracks      []Track           `json:"tracks"`
}

// Track is a published track.
type Track struct {
	SID    string `json:"sid"`
	Source string `json:"source"`
	Type   string `json:"type"`
	Name   string `json:"name"`
	Muted  bool   `json:"muted"`
}

// ParticipantRequest is the body of DELETE /livekit/participant.
type ParticipantRequest struct {
	RoomName            string `json:"room_name"`
	ParticipantIdentity string `json:"participant_identity"`
	// BanSeconds, when not zero, also bans the identity from the room for
	// that long ([lkgate.Manager.Ban]), whether or not it is in the room.
	BanSeconds int64 `json:"ban_seconds,omitempty"`
}

// RemoveParticipantResponse is the answer of DELETE /livekit/participant.
type RemoveParticipantResponse struct {
	Status              string `json:"status"` // "removed", or "banned" with ban_seconds
	RoomName            string `json:"room_name"`
	ParticipantIdentity string `json:"participant_identity"`
	// BannedUntil is the ban's end in unix seconds, with ban_seconds.
	BannedUntil int64 `json:"banned_until,omitempty"`
}

// UnbanRequest is the body of POST /livekit/participant/unban.
type UnbanRequest struct {
	RoomName            string `json:"room_name"`
	ParticipantIdentity string `json:"participant_identity"`
}

// UnbanResponse is the answer of POST /livekit/participant/unban.
type UnbanResponse struct {
	Status              string `json:"status"` // "unbanned"
	RoomName            string `json:"room_name"`
	ParticipantIdentity string `json:"participant_identity"`
}

// DeleteRoomResponse is the answer of DELETE /livekit/rooms/{room_name}.
type DeleteRoomResponse struct {
	Status   string `json:"status"` // "deleted"
	RoomName string `json:"room_name"`
}

// MuteRequest is the body of POST /livekit/participant/mute. Give either
// track_sid or source (camera, microphone, screen_share,
// screen_share_audio); muted is required.
type MuteRequest struct {
	RoomName            string `json:"room_name"`
	ParticipantIdentity string `json:"participant_identity"`
	TrackSID            string `json:"track_sid,omitempty"`
	Source              string `json:"source,omitempty"`
	Muted               *bool  `json:"muted"`
}

// MuteResponse is the answer of POST /livekit/participant/mute: the track's
// state as LiveKit reports it after the change.
type MuteResponse struct {
	RoomName            string `json:"room_name"`
	ParticipantIdentity string `json:"participant_identity"`
	TrackSID            string `json:"track_sid"`
	Source              string `json:"source"`
	Muted               bool   `json:"muted"`
}

// roomFields names the one field of GET /livekit/rooms/{room_name}, in
// its path.
var roomFields = fieldNames{"Room": "room_name"}

var participantFields = fieldNames{
	"Room":     "room_name",
	"Identity": "participant_identity",
	"Duration": "ban_seconds",
	"TrackSID": "track_sid",
	"Source":   "source",
}

// ListRooms serves GET /livekit/rooms: the caller's tenant's rooms, from
// [lkgate.Manager.ListRooms].
func (h *Handler) ListRooms(w http.ResponseWriter, r *http.Request) { listRoomsRoute.serve(h, w, r) }

// The list has no request fields, so it names none of the Manager's.
var listRoomsRoute = &route[struct{}, ListRoomsResponse]{
	pattern: "GET /livekit/rooms", perm: PermRooms,
	call: func(h *Handler, ctx context.Context, p Principal, _ struct{}) (ListRoomsResponse, error) {
		rooms, err := h.m.ListRooms(ctx, p.Tenant)
		res := ListRoomsResponse{Rooms: make([]Room, 0, len(rooms))}
		for _, room := range rooms {
			res.Rooms = append(res.Rooms, roomJSON(room))
		}
		return res, err
	},
}

// Room serves GET /livekit/rooms/{room_name}: the room and its
// participants from [lkgate.Manager.Room], for the room named by the last
// wildcard of the pattern Room is mounted under (whatever its name), or
// else by the path's last segment.
func (h *Handler) Room(w http.ResponseWriter, r *http.Request) { roomRoute.serve(h, w, r) }

var roomRoute = &route[string, RoomDetails]{
	pattern: "GET /livekit/rooms/{room_name}", perm: PermRooms, fields: roomFields,
	params: func(r *http.Request) (string, error) { return pathRoom(r), nil },
	call: func(h *Handler, ctx context.Context, p Principal, name string) (RoomDetails, error) {
		d, err := h.m.Room(ctx, p.Tenant, name)
		if err != nil {
			return RoomDetails{}, err
		}
		res := RoomDetails{Room: roomJSON(d.Room), Participants: make([]Participant, 0, len(d.Participants))}
		for _, pt := range d.Participants {
			res.Participants = append(res.Participants, participantJSON(pt))
		}
		return res, nil
	},
}

// RemoveParticipant serves DELETE /livekit/participant with
// [lkgate.Manager.RemoveParticipant], or with ban_seconds
// [lkgate.Manager.Ban].
func (h *Handler) RemoveParticipant(w http.ResponseWriter, r *http.Request) {
	removeRoute.serve(h, w, r)
}

var removeRoute = &route[ParticipantRequest, RemoveParticipantResponse]{
	pattern: "DELETE /livekit/participant", perm: PermModerate, body: strictBody, fields: participantFields,
	call: func(h *Handler, ctx context.Context, p Principal, req ParticipantRequest) (RemoveParticipantResponse, error) {
		res := RemoveParticipantResponse{Status: "removed", RoomName: req.RoomName, ParticipantIdentity: req.ParticipantIdentity}
		if req.BanSeconds == 0 {
			return res, h.m.RemoveParticipant(ctx, p.Tenant, req.RoomName, req.ParticipantIdentity)
		}
		// Bounded here too, so that no value overflows a time.Duration.
		if most := int64(lkgate.MaxBanDuration / time.Second); req.BanSeconds < 1 || req.BanSeconds > most {
			return res, &fieldError{field: "ban_seconds", msg: fmt.Sprintf("must lie between 1 and %d", most)}
		}
		until, err := h.m.Ban(ctx, p.Tenant, req.RoomName, req.ParticipantIdentity, time.Duration(req.BanSeconds)*time.Second)
		res.Status, res.BannedUntil = "banned", until.Unix()
		return res, err
	},
}

// Unban serves POST /livekit/participant/unban with
// [lkgate.Manager.Unban]: the identity may have tokens for the room again,
// whether or not it was banned.
func (h *Handler) Unban(w http.ResponseWriter, r *http.Request) { unbanRoute.serve(h, w, r) }

var unbanRoute = &route[UnbanRequest, UnbanResponse]{
	pattern: "POST /livekit/participant/unban", perm: PermModerate, body: strictBody, fields: participantFields,
	call: func(h *Handler, ctx context.Context, p Principal, req UnbanRequest) (UnbanResponse, error) {
		res := UnbanResponse{Status: "unbanned", RoomName: req.RoomName, ParticipantIdentity: req.ParticipantIdentity}
		return res, h.m.Unban(ctx, p.Tenant, req.RoomName, req.ParticipantIdentity)
	},
}

// DeleteRoom serves DELETE /livekit/rooms/{room_name} with
// [lkgate.Manager.DeleteRoom], for the room named as for [Handler.Room].
func (h *Handler) DeleteRoom(w http.ResponseWriter, r *http.Request) { deleteRoomRoute.serve(h, w, r) }

var deleteRoomRoute = &route[string, DeleteRoomResponse]{
	pattern: "DELETE /livekit/rooms/{room_name}", perm: PermModerate, fields: roomFields,
	params: func(r *http.Request) (string, error) { return pathRoom(r), nil },
	call: func(h *Handler, ctx context.Context, p Principal, name string) (DeleteRoomResponse, error) {
		return DeleteRoomResponse{Status: "deleted", RoomName: name}, h.m.DeleteRoom(ctx, p.Tenant, name)
	},
}

// Mute serves POST /livekit/participant/mute with [lkgate.Manager.MuteTrack].
func (h *Handler) Mute(w http.ResponseWriter, r *http.Request) { muteRoute.serve(h, w, r) }

var muteRoute = &route[MuteRequest, MuteResponse]{
	pattern: "POST /livekit/participant/mute", perm: PermModerate, body: strictBody, fields: participantFields,
	call: func(h *Handler, ctx context.Context, p Principal, req MuteRequest) (MuteResponse, error) {
		if req.Muted == nil {
			return MuteResponse{}, &fieldError{field: "muted", msg: "is required (true or false)"}
		}
		t, err := h.m.MuteTrack(ctx, p.Tenant, lkgate.MuteRequest{
			Room: req.RoomName, Identity: req.ParticipantIdentity,
			TrackSID: req.TrackSID, Source: lkgate.TrackSource(req.Source), Muted: *req.Muted,
		})
		if err != nil {
			return MuteResponse{}, err
		}
		return MuteResponse{
			RoomName: req.RoomName, ParticipantIdentity: req.ParticipantIdentity,
			TrackSID: t.SID, Source: string(t.Source), Muted: t.Muted,
		}, nil
	},
}

func roomJSON(r lkgate.Room) Room {
	return Room{
		Name: r.Name, SID: r.SID, NumParticipants: r.NumParticipants, MaxParticipants: r.MaxParticipants,
		CreationTime: r.CreatedAt.Unix(), Metadata: r.Metadata, ActiveRecording: r.ActiveRecording,
	}
}

func participantJSON(p lkgate.Participant) Participant {
	out := Participant{
		SID: p.SID, Identity: p.Identity, Name: p.Name, State: p.State, Kind: p.Kind,
		JoinedAt: p.JoinedAt.Unix(), Metadata: p.Metadata, Attributes: p.Attributes,
		IsPublisher: p.IsPublisher, Tracks: make([]Track, 0, len(p.Tracks)),
	}
	for _, t := range p.Tracks {
		out.Tracks = append(out.Tracks, Track{SID: t.SID, Source: string(t.Source), Type: t.Type, Name: t.Name, Muted: t.Muted})
	}
	return out
}
