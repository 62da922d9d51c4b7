package lkgate

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"
)

// Usage record types.
const (
	// UsageParticipantSession is one participant's stay in a room, from
	// its join to its departure (participant_left).
	UsageParticipantSession = "participant"
	// UsageRoomSession is one room's life, from its creation to its close
	// (room_finished).
	UsageRoomSession = "room"
)

// Participant kinds of a usage record.
const (
	UsageWebRTC  = "webrtc"  // a client that joined with a token
	UsageSIP     = "sip"     // a phone call (LiveKit's SIP participant)
	UsageGuest   = "guest"   // a guest in its lobby, or admitted from it
	UsageAgent   = "agent"   // an agent LiveKit dispatched
	UsageEgress  = "egress"  // LiveKit's recorder or streamer
	UsageIngress = "ingress" // a stream LiveKit ingests
)

// AdmittedAttribute is the participant attribute lkgate sets, to "true",
// in the main-room token of a guest it admitted ([Guests.Admit]), so that
// its session there counts as [UsageGuest].
const AdmittedAttribute = reservedAttributePrefix + "admitted"

// UsageRecord is one ended session, participant or room, of a tenant's
// room, built from LiveKit's own webhook events. Its times are LiveKit's:
// End is the event's created_at, whole seconds.
type UsageRecord struct {
	// Type is UsageParticipantSession or UsageRoomSession.
	Type string
	// ID is unique per session: the participant's sid (a rejoin is a new
	// session with a new sid) or the room's sid. A recorder that stores
	// records under ID as a unique key stores each session once, whatever
	// reaches it twice.
	ID string
	// Tenant is the tenant whose room it was; empty for a room of no
	// tenant (as [Manager.ResolveWebhook] resolves it).
	Tenant string
	// Room is the room's name as Tenant knows it. For a guest's lobby
	// (Lobby) it is empty: a lobby's name is a keyed hash that does not
	// give back the room the guest waited for.
	Room string
	// RoomSID is LiveKit's id of the room session: participant records
	// with the same RoomSID were in the same session of Room.
	RoomSID string
	// Lobby marks the session of a guest's lobby, or of a guest in one.
	Lobby bool
	// Identity and Kind (a Usage kind constant) are set for a
	// participant session.
	Identity string
	Kind     string
	// Start is when the participant joined (ParticipantInfo.joined_at_ms,
	// or joined_at) or the room was created (Room.creation_time_ms, or
	// creation_time); End is when LiveKit emitted the event that ended the
	// session.
	Start, End time.Time
	// Duration is End - Start, never negative.
	Duration time.Duration
	// PeakParticipants is, for a room session, the most participants
	// (of every kind, agents and egress included) that were in it at once
	// as this Manager saw them through [Manager.RecordUsage] (see there);
	// 0 when it saw no join.
	PeakParticipants int
	// EventID is the id of the webhook event the record comes from.
	EventID string
}

// UsageRecorder receives usage records. RecordUsage is called
// synchronously on the webhook's path, so it must not block for long;
// implementations must be safe for concurrent use. An error makes
// [Manager.RecordUsage] fail, and the webhook route answer LiveKit with an
// error so that LiveKit's retry brings the record again.
type UsageRecorder interface {
	RecordUsage(ctx context.Context, rec UsageRecord) error
}

// UsageRecorderFunc adapts a function to UsageRecorder.
type UsageRecorderFunc func(ctx context.Context, rec UsageRecord) error

// RecordUsage calls f(ctx, rec).
func (f UsageRecorderFunc) RecordUsage(ctx context.Context, rec UsageRecord) error {
	return f(ctx, rec)
}

// NewSlogUsageRecorder returns a UsageRecorder writing each record as one
// "usage" record at level Info on log, which must not be nil.
func NewSlogUsageRecorder(log *slog.Logger) UsageRecorder {
	return UsageRecorderFunc(func(ctx context.Context, r UsageRecord) error {
		attrs := []slog.Attr{
			slog.String("type", r.Type), slog.String("id", r.ID),
			slog.String("tenant", r.Tenant), slog.String("room", r.Room), slog.String("room_sid", r.RoomSID),
		}
		if r.Lobby {
			attrs = append(attrs, slog.Bool("lobby", true))
		}
		if r.Type == UsageParticipantSession {
			attrs = append(attrs, slog.String("identity", r.Identity), slog.String("kind", r.Kind))
		} else {
			attrs = append(attrs, slog.Int("peak_participants", r.PeakParticipants))
		}
		attrs = append(attrs, slog.Time("start", r.Start), slog.Time("end", r.End),
			slog.Duration("duration", r.Duration), slog.String("event", r.EventID))
		log.LogAttrs(ctx, slog.LevelInfo, "usage", attrs...)
		return nil
	})
}

// RecordUsage turns a verified webhook event into usage: participant_left
// into a [UsageParticipantSession] record and room_finished into a
// [UsageRoomSession] record, passed to [Config].Usage; participant_joined
// only counts towards the room's peak; other events are ignored.
//
// It records every event it is given: call it once per event. httpx's
// webhook route does, after dropping the ids it has seen
// ([SeenEvents]); a host that verifies webhooks itself must drop
// duplicates the same way (LiveKit retries, and a replay of a signed
// delivery is valid for [WebhookWindow]), or store records under their ID
// as a unique key.
//
// The peak of a room is counted in this Manager's memory from the
// participant_joined and participant_left events it was given: exact when
// one replica receives every event of the room, a lower bound when
// replicas share LiveKit's webhooks. Records carry RoomSID, Start and End,
// from which the exact peak follows wherever they are stored.
//
// Errors: the recorder's, wrapped as [ErrUnavailable].
func (m *Manager) RecordUsage(ctx context.Context, ev *livekit.WebhookEvent) error {
	room := ev.GetRoom()
	switch ev.GetEvent() {
	case webhook.EventParticipantJoined:
		m.peaks.join(room.GetSid(), ev.GetParticipant().GetSid(), m.now())
		return nil
	case webhook.EventParticipantLeft:
		p := ev.GetParticipant()
		if p == nil {
			return nil
		}
		rec := m.usageBase(ev)
		rec.Type, rec.ID, rec.Identity = UsageParticipantSession, p.GetSid(), p.GetIdentity()
		rec.Kind = usageKind(p, rec.Lobby)
		if rec.Tenant == "" && rec.Lobby {
			// A lobby lkgate did not create has no owner in its metadata
			// under SharedNames; the guest's token names its tenant.
			rec.Tenant = p.GetAttributes()[TenantAttribute]
		}
		rec.Start = unixMilliOr(p.GetJoinedAtMs(), p.GetJoinedAt())
		if err := m.emitUsage(ctx, rec); err != nil {
			return err
		}
		m.peaks.leave(room.GetSid(), p.GetSid())
		return nil
	case webhook.EventRoomFinished:
		if room == nil {
			return nil
		}
		rec := m.usageBase(ev)
		rec.Type, rec.ID = UsageRoomSession, room.GetSid()
		rec.Start = unixMilliOr(room.GetCreationTimeMs(), room.GetCreationTime())
		rec.PeakParticipants = m.peaks.peak(room.GetSid())
		if err := m.emitUsage(ctx, rec); err != nil {
			return err
		}
		m.peaks.finish(room.GetSid())
		return nil
	}
	return nil
}

// usageBase is the record of ev's room, its End set.
func (m *Manager) usageBase(ev *livekit.WebhookEvent) UsageRecord {
	w := m.ResolveWebhook(ev)
	rec := UsageRecord{Tenant: w.Tenant, Room: w.Room, RoomSID: ev.GetRoom().GetSid(), EventID: ev.GetId(),
		End: time.Unix(ev.GetCreatedAt(), 0)}
	if strings.HasPrefix(w.Room, LobbyPrefix) {
		rec.Lobby, rec.Room = true, ""
	}
	return rec
}

func (m *Manager) emitUsage(ctx context.Context, rec UsageRecord) error {
	if rec.Start.IsZero() { // an event without the time: a session of no length
		rec.Start = rec.End
	}
	rec.Duration = max(rec.End.Sub(rec.Start), 0) // clocks of LiveKit's nodes may differ
	if err := m.usage.RecordUsage(ctx, rec); err != nil {
		m.logFailure(ctx, slog.LevelError, "usage recorder failed", err, slog.String("event", rec.EventID))
		return &Error{Kind: ErrUnavailable, Op: "usage", Room: rec.Room, Msg: "the usage recorder failed"}
	}
	return nil
}

// unixMilliOr is ms as a time, or else s; zero when both are.
func unixMilliOr(ms, s int64) time.Time {
	switch {
	case ms > 0:
		return time.UnixMilli(ms)
	case s > 0:
		return time.Unix(s, 0)
	}
	return time.Time{}
}

// usageKind is p's kind for usage; lobby tells that p was in a lobby.
func usageKind(p *livekit.ParticipantInfo, lobby bool) string {
	switch p.GetKind() {
	case livekit.ParticipantInfo_SIP:
		return UsageSIP
	case livekit.ParticipantInfo_AGENT:
		return UsageAgent
	case livekit.ParticipantInfo_EGRESS:
		return UsageEgress
	case livekit.ParticipantInfo_INGRESS:
		return UsageIngress
	}
	a := p.GetAttributes()
	if lobby || a[AdmittedAttribute] == "true" || a[GuestPassAttribute] != "" {
		return UsageGuest
	}
	return UsageWebRTC
}

// maxTrackedRooms bounds roomPeaks: a room whose room_finished never came
// is forgotten, the longest untouched first, past this many.
const maxTrackedRooms = 100_000

// roomPeaks counts, per room sid, the participants present and the most
// seen at once, from join and leave events.
type roomPeaks struct {
	mu    sync.Mutex
	rooms map[string]*roomPeak
}

type roomPeak struct {
	present map[string]bool // participant sids
	peak    int
	touched time.Time
}

func (r *roomPeaks) join(room, participant string, now time.Time) {
	if room == "" || participant == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rooms == nil {
		r.rooms = make(map[string]*roomPeak)
	}
	p := r.rooms[room]
	if p == nil {
		if len(r.rooms) >= maxTrackedRooms {
			r.evictOldest()
		}
		p = &roomPeak{present: make(map[string]bool)}
		r.rooms[room] = p
	}
	p.present[participant] = true
	p.peak = max(p.peak, len(p.present))
	p.touched = now
}

func (r *roomPeaks) evictOldest() {
	var oldest string
	var at time.Time
	for sid, p := range r.rooms {
		if oldest == "" || p.touched.Before(at) {
			oldest, at = sid, p.touched
		}
	}
	delete(r.rooms, oldest)
}

func (r *roomPeaks) leave(room, participant string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.rooms[room]; p != nil {
		delete(p.present, participant)
	}
}

func (r *roomPeaks) peak(room string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.rooms[room]; p != nil {
		return p.peak
	}
	return 0
}

func (r *roomPeaks) finish(room string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.rooms, room)
}
