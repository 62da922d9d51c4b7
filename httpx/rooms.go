package httpx

import (
	"net/http"

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
}

// RemoveParticipantResponse is the answer of DELETE /livekit/participant.
type RemoveParticipantResponse struct {
	Status              string `json:"status"` // "removed"
	RoomName            string `json:"room_name"`
	ParticipantIdentity string `json:"participant_identity"`
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

var participantFields = fieldNames{
	"Room":     "room_name",
	"Identity": "participant_identity",
	"TrackSID": "track_sid",
	"Source":   "source",
}

// ListRooms serves GET /livekit/rooms: the caller's tenant's rooms.
func (h *Handler) ListRooms(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, "GET /livekit/rooms", h.listRooms)
}

func (h *Handler) listRooms(w http.ResponseWriter, r *http.Request) {
	p, r, ok := h.authenticate(w, r, PermRooms)
	if !ok {
		return
	}
	rooms, err := h.m.ListRooms(r.Context(), p.Tenant)
	if err != nil {
		h.fail(r.Context(), w, err, participantFields)
		return
	}
	res := ListRoomsResponse{Rooms: make([]Room, 0, len(rooms))}
	for _, room := range rooms {
		res.Rooms = append(res.Rooms, roomJSON(room))
	}
	writeJSON(w, http.StatusOK, res)
}

// Room serves GET /livekit/rooms/{room_name}: the room and its
// participants. Another tenant's room answers exactly like a missing one
// (under lkgate.ScopedNames, it is one). The room name is the value of the
// last wildcard of the pattern Room is mounted under, whatever its name
// ("GET /rooms/{id}"), or without one the path's last segment.
func (h *Handler) Room(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, "GET /livekit/rooms/{room_name}", func(w http.ResponseWriter, r *http.Request) { h.room(w, r, pathRoom(r)) })
}

func (h *Handler) room(w http.ResponseWriter, r *http.Request, name string) {
	p, r, ok := h.authenticate(w, r, PermRooms)
	if !ok {
		return
	}
	d, err := h.m.Room(r.Context(), p.Tenant, name)
	if err != nil {
		h.fail(r.Context(), w, err, participantFields)
		return
	}
	res := RoomDetails{Room: roomJSON(d.Room), Participants: make([]Participant, 0, len(d.Participants))}
	for _, pt := range d.Participants {
		res.Participants = append(res.Participants, participantJSON(pt))
	}
	writeJSON(w, http.StatusOK, res)
}

// RemoveParticipant serves DELETE /livekit/participant.
func (h *Handler) RemoveParticipant(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, "DELETE /livekit/participant", h.removeParticipant)
}

func (h *Handler) removeParticipant(w http.ResponseWriter, r *http.Request) {
	p, r, ok := h.authenticate(w, r, PermModerate)
	if !ok {
		return
	}
	var req ParticipantRequest
	if prob, ok := h.decodeJSON(w, r, &req, true); !ok {
		writeProblem(w, prob)
		return
	}
	if err := h.m.RemoveParticipant(r.Context(), p.Tenant, req.RoomName, req.ParticipantIdentity); err != nil {
		h.fail(r.Context(), w, err, participantFields)
		return
	}
	writeJSON(w, http.StatusOK, RemoveParticipantResponse{Status: "removed", RoomName: req.RoomName, ParticipantIdentity: req.ParticipantIdentity})
}

// Mute serves POST /livekit/participant/mute.
func (h *Handler) Mute(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, "POST /livekit/participant/mute", h.mute)
}

func (h *Handler) mute(w http.ResponseWriter, r *http.Request) {
	p, r, ok := h.authenticate(w, r, PermModerate)
	if !ok {
		return
	}
	var req MuteRequest
	if prob, ok := h.decodeJSON(w, r, &req, true); !ok {
		writeProblem(w, prob)
		return
	}
	if req.Muted == nil {
		writeProblem(w, fieldProblem("muted", "is required (true or false)"))
		return
	}
	t, err := h.m.MuteTrack(r.Context(), p.Tenant, lkgate.MuteRequest{
		Room: req.RoomName, Identity: req.ParticipantIdentity,
		TrackSID: req.TrackSID, Source: lkgate.TrackSource(req.Source), Muted: *req.Muted,
	})
	if err != nil {
		h.fail(r.Context(), w, err, participantFields)
		return
	}
	writeJSON(w, http.StatusOK, MuteResponse{
		RoomName: req.RoomName, ParticipantIdentity: req.ParticipantIdentity,
		TrackSID: t.SID, Source: string(t.Source), Muted: t.Muted,
	})
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
