package lkgate_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

// usageLog is a UsageRecorder that keeps what it gets, failing while err
// is set.
type usageLog struct {
	mu   sync.Mutex
	recs []lkgate.UsageRecord
	err  error
}

func (u *usageLog) RecordUsage(_ context.Context, r lkgate.UsageRecord) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.err != nil {
		return u.err
	}
	u.recs = append(u.recs, r)
	return nil
}

func (u *usageLog) fail(err error) { u.mu.Lock(); u.err = err; u.mu.Unlock() }

func (u *usageLog) records() []lkgate.UsageRecord {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]lkgate.UsageRecord(nil), u.recs...)
}

// usageEvent is LiveKit's webhook event of kind about p (nil for a room
// event) in room, created at.
func usageEvent(id, kind string, room *livekit.Room, p *livekit.ParticipantInfo, at time.Time) *livekit.WebhookEvent {
	return &livekit.WebhookEvent{Id: id, Event: kind, Room: room, Participant: p, CreatedAt: at.Unix()}
}

// Each kind of participant session ends in one record, resolved to its
// tenant and clean room name, timed from LiveKit's join time to the
// event; the room's session ends in one with its peak.
func TestRecordUsage(t *testing.T) { forEachNaming(t, testRecordUsage) }

func testRecordUsage(t *testing.T, naming lkgate.RoomNaming) {
	ctx := context.Background()
	fake := lkgatetest.NewServer(t)
	start := time.Now().Truncate(time.Second).Add(250 * time.Millisecond)
	clock := lkgatetest.NewClock(start)
	fake.SetClock(clock.Now)
	usage := &usageLog{}
	m := fake.NewManager(t, lkgate.Config{RoomNames: naming, Usage: usage, Now: clock.Now})
	tok, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: "standup", Identity: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	lk, err := m.LiveKitRoom("acme", "standup")
	if err != nil {
		t.Fatal(err)
	}
	alice, err := fake.Join(tok.JWT)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	caller := fake.AddParticipant(lk, lkgatetest.Participant{Identity: "sip-1", Kind: livekit.ParticipantInfo_SIP})
	agent := fake.AddParticipant(lk, lkgatetest.Participant{Identity: "agent-1", Kind: livekit.ParticipantInfo_AGENT})
	guest := fake.AddParticipant(lk, lkgatetest.Participant{Identity: "guest-x", Attributes: map[string]string{lkgate.AdmittedAttribute: "true", lkgate.TenantAttribute: "acme"}})
	room, _ := fake.Room(lk)
	for i, p := range []*livekit.ParticipantInfo{alice, caller, agent, guest} {
		if err := m.RecordUsage(ctx, usageEvent("EV_j"+p.Identity, "participant_joined", room, p, clock.Now())); err != nil {
			t.Fatal(i, err)
		}
	}
	if got := usage.records(); len(got) != 0 {
		t.Fatalf("joins recorded usage: %+v", got)
	}
	want := map[string]string{"alice": lkgate.UsageWebRTC, "sip-1": lkgate.UsageSIP, "agent-1": lkgate.UsageAgent, "guest-x": lkgate.UsageGuest}
	for _, p := range []*livekit.ParticipantInfo{alice, caller, agent, guest} {
		clock.Advance(10 * time.Second)
		if err := m.RecordUsage(ctx, usageEvent("EV_l"+p.Identity, "participant_left", room, p, clock.Now())); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(20 * time.Second)
	if err := m.RecordUsage(ctx, usageEvent("EV_f", "room_finished", room, nil, clock.Now())); err != nil {
		t.Fatal(err)
	}
	got := usage.records()
	if len(got) != 5 {
		t.Fatalf("got %d records, want 4 participants and 1 room: %+v", len(got), got)
	}
	for i, r := range got[:4] {
		p := []*livekit.ParticipantInfo{alice, caller, agent, guest}[i]
		joined := time.UnixMilli(p.GetJoinedAtMs())
		left := time.Unix(start.Add(time.Second+time.Duration(i+1)*10*time.Second).Unix(), 0)
		if r.Type != lkgate.UsageParticipantSession || r.ID != p.GetSid() || r.Tenant != "acme" || r.Room != "standup" || r.RoomSID != room.GetSid() ||
			r.Identity != p.GetIdentity() || r.Kind != want[p.GetIdentity()] || r.Lobby || !r.Start.Equal(joined) || !r.End.Equal(left) ||
			r.Duration != left.Sub(joined) || r.EventID != "EV_l"+p.GetIdentity() {
			t.Errorf("record of %s: %+v; want kind %s from %v to %v", p.GetIdentity(), r, want[p.GetIdentity()], joined, left)
		}
	}
	r := got[4]
	created := time.UnixMilli(room.GetCreationTimeMs())
	if r.Type != lkgate.UsageRoomSession || r.ID != room.GetSid() || r.Tenant != "acme" || r.Room != "standup" || r.PeakParticipants != 4 ||
		!r.Start.Equal(created) || r.Duration != r.End.Sub(created) || r.Identity != "" || r.Kind != "" {
		t.Errorf("room record: %+v", r)
	}
}

// The peak counts participants present at once, whatever the order of
// joins and departures and whatever event is repeated; a room's count
// ends with its session.
func TestRecordUsagePeak(t *testing.T) {
	ctx := context.Background()
	usage := &usageLog{}
	m := lkgatetest.NewServer(t).NewManager(t, lkgate.Config{Usage: usage})
	lk, err := m.LiveKitRoom("acme", "r")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	room := &livekit.Room{Sid: "RM_1", Name: lk, CreationTime: now.Unix()}
	p := func(sid string) *livekit.ParticipantInfo {
		return &livekit.ParticipantInfo{Sid: sid, Identity: "id-" + sid, JoinedAt: now.Unix()}
	}
	for _, step := range []struct{ event, sid string }{
		{"participant_joined", "PA_a"}, {"participant_joined", "PA_b"}, {"participant_joined", "PA_b"}, // a repeat
		{"participant_left", "PA_a"}, {"participant_left", "PA_a"},
		{"participant_joined", "PA_c"}, {"participant_joined", "PA_d"}, // b, c, d: 3
		{"participant_left", "PA_b"}, {"participant_left", "PA_c"}, {"participant_left", "PA_d"},
	} {
		if err := m.RecordUsage(ctx, usageEvent("EV", step.event, room, p(step.sid), now)); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.RecordUsage(ctx, usageEvent("EV_f", "room_finished", room, nil, now)); err != nil {
		t.Fatal(err)
	}
	// The next session of the name is a new room sid; a room_finished
	// repeated for the old one no longer knows a peak.
	if err := m.RecordUsage(ctx, usageEvent("EV_f2", "room_finished", room, nil, now)); err != nil {
		t.Fatal(err)
	}
	got := usage.records()
	if n := len(got); n != 7 || got[5].PeakParticipants != 3 || got[6].PeakParticipants != 0 {
		t.Fatalf("peak: %d records, last two %+v %+v; want 3, then 0", n, got[n-2], got[n-1])
	}
}

// Guests' lobbies belong to the guest's tenant, as guest sessions with no
// room name (a lobby's name does not give it back).
func TestRecordUsageLobby(t *testing.T) {
	ctx := context.Background()
	for _, naming := range []lkgate.RoomNaming{lkgate.ScopedNames, lkgate.SharedNames} {
		usage := &usageLog{}
		m := lkgatetest.NewServer(t).NewManager(t, lkgate.Config{RoomNames: naming, Usage: usage})
		lk := lkgate.LobbyPrefix + "0123456789abcdef-x"
		if naming == lkgate.ScopedNames {
			// A lobby of acme lives in acme's namespace.
			prefix, err := lkgate.ScopedRoomName("acme", "x")
			if err != nil {
				t.Fatal(err)
			}
			lk = strings.TrimSuffix(prefix, "x") + lk
		}
		now := time.Now()
		room := &livekit.Room{Sid: "RM_l", Name: lk, CreationTime: now.Unix()}
		guest := &livekit.ParticipantInfo{Sid: "PA_g", Identity: "guest-1", JoinedAt: now.Add(-time.Minute).Unix(),
			Attributes: map[string]string{lkgate.TenantAttribute: "acme", lkgate.GuestPassAttribute: "sealed"}}
		if err := m.RecordUsage(ctx, usageEvent("EV_l", "participant_left", room, guest, now)); err != nil {
			t.Fatal(err)
		}
		got := usage.records()
		if len(got) != 1 || got[0].Tenant != "acme" || got[0].Room != "" || !got[0].Lobby || got[0].Kind != lkgate.UsageGuest || got[0].Duration != time.Minute {
			t.Errorf("%v: lobby record %+v", naming, got)
		}
	}
}

// A recorder's failure fails RecordUsage as unavailable, and leaves the
// room's count as it was, so that LiveKit's retry records the same.
func TestRecordUsageRecorderFails(t *testing.T) {
	ctx := context.Background()
	usage := &usageLog{}
	m := lkgatetest.NewServer(t).NewManager(t, lkgate.Config{Usage: usage})
	lk, _ := m.LiveKitRoom("acme", "r")
	now := time.Now()
	room := &livekit.Room{Sid: "RM_1", Name: lk, CreationTime: now.Unix()}
	a := &livekit.ParticipantInfo{Sid: "PA_a", Identity: "a", JoinedAt: now.Unix()}
	b := &livekit.ParticipantInfo{Sid: "PA_b", Identity: "b", JoinedAt: now.Unix()}
	for _, p := range []*livekit.ParticipantInfo{a, b} {
		if err := m.RecordUsage(ctx, usageEvent("EV_j", "participant_joined", room, p, now)); err != nil {
			t.Fatal(err)
		}
	}
	usage.fail(errors.New("table locked"))
	for _, ev := range []*livekit.WebhookEvent{usageEvent("EV_l", "participant_left", room, a, now), usageEvent("EV_f", "room_finished", room, nil, now)} {
		if err := m.RecordUsage(ctx, ev); !errors.Is(err, lkgate.ErrUnavailable) {
			t.Fatalf("%s with the recorder failing: %v, want ErrUnavailable", ev.GetEvent(), err)
		}
	}
	usage.fail(nil)
	if err := m.RecordUsage(ctx, usageEvent("EV_f", "room_finished", room, nil, now)); err != nil {
		t.Fatal(err)
	}
	if got := usage.records(); len(got) != 1 || got[0].PeakParticipants != 2 {
		t.Errorf("retried room record: %+v, want peak 2", got)
	}
}

// With no Usage, records go to the Logger as "usage" lines.
func TestRecordUsageDefaultsToLogger(t *testing.T) {
	var buf bytes.Buffer
	m := lkgatetest.NewServer(t).NewManager(t, lkgate.Config{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	lk, _ := m.LiveKitRoom("acme", "r")
	now := time.Now()
	ev := usageEvent("EV_l", "participant_left", &livekit.Room{Sid: "RM_1", Name: lk},
		&livekit.ParticipantInfo{Sid: "PA_a", Identity: "alice", JoinedAt: now.Add(-90 * time.Second).Unix()}, now)
	if err := m.RecordUsage(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"msg=usage", "type=participant", "tenant=acme", "room=r", "identity=alice", "kind=webrtc", "duration=1m30s"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log %q lacks %q", buf.String(), want)
		}
	}
}
