package lkgate

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/livekit/protocol/livekit"
)

// Room is a LiveKit room as a tenant sees it.
type Room struct {
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

var errRoomNotFound = &Error{Kind: ErrNotFound, Msg: "room not found"}

// authorize is the one gate of every operation on an existing room: it
// answers ErrNotFound, identically, for a room that does not exist and for
// one another tenant owns, so a tenant cannot probe other tenants' rooms.
// It costs one ListRooms by name. In unauthenticated mode it skips the
// check (and the call) unless the room itself is needed.
func (m *Manager) authorize(ctx context.Context, tenant, name string, needRoom bool) (*livekit.Room, error) {
	checked, err := m.tenantMode(tenant)
	if err != nil {
		return nil, err
	}
	if err := validateText("Room", name, MaxRoomNameBytes); err != nil {
		return nil, err
	}
	if !checked && !needRoom {
		return nil, nil
	}
	room, err := m.lookupRoom(ctx, name)
	if err != nil {
		return nil, err
	}
	if room == nil {
		return nil, errRoomNotFound
	}
	if checked && !ownedBy(room.Metadata, tenant) {
		return nil, errRoomNotFound
	}
	return room, nil
}

// ListRooms returns the tenant's rooms (every room in unauthenticated mode),
// sorted as LiveKit lists them. It costs one unfiltered ListRooms: LiveKit
// cannot filter by metadata, so the cost grows with the number of rooms on
// the server, not the tenant's.
func (m *Manager) ListRooms(ctx context.Context, tenant string) ([]Room, error) {
	checked, err := m.tenantMode(tenant)
	if err != nil {
		return nil, withContext(err, "list rooms", "")
	}
	res, err := m.rooms.ListRooms(ctx, &livekit.ListRoomsRequest{})
	if err != nil {
		return nil, fromLiveKit("list rooms", "", err)
	}
	rooms := []Room{}
	for _, r := range res.GetRooms() {
		if checked && (!mayName(r.Metadata, tenant) || !ownedBy(r.Metadata, tenant)) {
			continue
		}
		rooms = append(rooms, roomOf(r))
	}
	return rooms, nil
}

// mayName reports whether metadata could name tenant as its owner. Without
// a backslash (an escape) or invalid UTF-8 (which decodes to U+FFFD), JSON
// strings are literal, so an owner equal to tenant must appear verbatim; most rooms of other tenants are thus skipped without
// parsing their metadata, which dominates listing a busy server.
func mayName(metadata, tenant string) bool {
	return strings.Contains(metadata, tenant) || strings.ContainsRune(metadata, '\\') || !utf8.ValidString(metadata)
}

// Room returns a room of the tenant with its participants, in two LiveKit
// calls. Errors: ErrNotFound for a missing room or another tenant's.
func (m *Manager) Room(ctx context.Context, tenant, name string) (*RoomDetails, error) {
	room, err := m.authorize(ctx, tenant, name, true)
	if err != nil {
		return nil, withContext(err, "get room", name)
	}
	res, err := m.rooms.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: name})
	if err != nil {
		return nil, fromLiveKit("list participants", name, err)
	}
	d := &RoomDetails{Room: roomOf(room), Participants: []Participant{}}
	for _, p := range res.GetParticipants() {
		d.Participants = append(d.Participants, participantOf(p))
	}
	d.NumParticipants = len(d.Participants)
	return d, nil
}

func roomOf(r *livekit.Room) Room {
	return Room{
		Name:            r.GetName(),
		SID:             r.GetSid(),
		NumParticipants: int(r.GetNumParticipants()),
		MaxParticipants: int(r.GetMaxParticipants()),
		CreatedAt:       time.Unix(r.GetCreationTime(), 0).UTC(),
		Metadata:        metadataWithoutOwner(r.GetMetadata()),
		ActiveRecording: r.GetActiveRecording(),
	}
}

// metadataWithoutOwner hides OwnerKey from tenants; metadata that is not a
// JSON object is returned as it is.
func metadataWithoutOwner(metadata string) string {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(metadata), &fields); err != nil || fields == nil {
		return metadata
	}
	if _, ok := fields[OwnerKey]; !ok {
		return metadata
	}
	delete(fields, OwnerKey)
	if len(fields) == 0 {
		return ""
	}
	out, err := json.Marshal(fields)
	if err != nil {
		return ""
	}
	return string(out)
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
