package lkgate_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"sort"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

// execer is what a recorder needs of a *sql.DB.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// usageTable records usage as rows of a table:
//
//	CREATE TABLE usage (
//	  id text PRIMARY KEY, type text, tenant text, room text, room_sid text,
//	  identity text, kind text, lobby boolean,
//	  started_at timestamptz, ended_at timestamptz, seconds double precision, peak int);
//
// The session's id as primary key keeps each session once, whatever
// reaches the table twice.
type usageTable struct{ db execer }

func (u usageTable) RecordUsage(ctx context.Context, r lkgate.UsageRecord) error {
	_, err := u.db.ExecContext(ctx, `INSERT INTO usage
		(id, type, tenant, room, room_sid, identity, kind, lobby, started_at, ended_at, seconds, peak)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (id) DO NOTHING`,
		r.ID, r.Type, r.Tenant, r.Room, r.RoomSID, r.Identity, r.Kind, r.Lobby, r.Start, r.End, r.Duration.Seconds(), r.PeakParticipants)
	return err
}

// memDB stands in for a *sql.DB here: it keeps the INSERTs' rows by id.
type memDB struct{ rows map[string][]any }

func (d *memDB) ExecContext(_ context.Context, _ string, args ...any) (sql.Result, error) {
	if _, dup := d.rows[args[0].(string)]; !dup {
		d.rows[args[0].(string)] = args
	}
	return nil, nil
}

// A host's billing table: every participant session and every room session
// of a tenant's room becomes one row, from LiveKit's webhooks. httpx's
// webhook route calls RecordUsage once per event; a host with its own
// webhook handler drops replays first (SeenEvents), as here. Then "how many
// participant-minutes did acme use in November" is one query:
//
//	SELECT kind, sum(seconds) / 60 FROM usage
//	WHERE tenant = 'acme' AND type = 'participant'
//	  AND ended_at >= '2026-11-01' AND ended_at < '2026-12-01'
//	GROUP BY kind;
func ExampleManager_RecordUsage() {
	start := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	clock := lkgatetest.NewClock(start)
	db := &memDB{rows: map[string][]any{}}
	m, err := lkgate.New(lkgate.Config{URL: "http://livekit.internal:7880", APIKey: lkgatetest.APIKey, APISecret: lkgatetest.APISecret,
		Usage: usageTable{db}, Now: clock.Now})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	seen := lkgate.NewMemorySeenEvents(m.Now) // redislimit's Store for replicas

	// What a verified webhook handler does with each event
	// (Manager.VerifyWebhook, Manager.WebhookDeadline, then this).
	handle := func(ev *livekit.WebhookEvent) {
		ctx := context.Background()
		until, err := m.WebhookDeadline(ev)
		if err != nil {
			log.Fatal(err)
		}
		if first, err := seen.Seen(ctx, ev.GetId(), until); err != nil || !first {
			return // a replay or LiveKit's retry of a handled event
		}
		if err := m.RecordUsage(ctx, ev); err != nil {
			_ = seen.Forget(ctx, ev.GetId()) // so that LiveKit's retry records it
		}
	}

	// acme's "standup": alice for 25 minutes, a phone caller for 10.
	lk, _ := m.LiveKitRoom("acme", "standup")
	room := &livekit.Room{Sid: "RM_1", Name: lk, CreationTime: start.Unix()}
	alice := &livekit.ParticipantInfo{Sid: "PA_alice", Identity: "alice", JoinedAt: start.Unix()}
	phone := &livekit.ParticipantInfo{Sid: "PA_phone", Identity: "phone", Kind: livekit.ParticipantInfo_SIP, JoinedAt: start.Add(5 * time.Minute).Unix()}
	event := func(id, kind string, p *livekit.ParticipantInfo, after time.Duration) *livekit.WebhookEvent {
		clock.Advance(start.Add(after).Sub(clock.Now()))
		return &livekit.WebhookEvent{Id: id, Event: kind, Room: room, Participant: p, CreatedAt: clock.Now().Unix()}
	}
	handle(event("EV_1", "participant_joined", alice, 0))
	handle(event("EV_2", "participant_joined", phone, 5*time.Minute))
	left := event("EV_3", "participant_left", phone, 15*time.Minute)
	handle(left)
	handle(left) // LiveKit's retry: dropped
	handle(event("EV_4", "participant_left", alice, 25*time.Minute))
	handle(event("EV_5", "room_finished", nil, 25*time.Minute+20*time.Second))

	ids := make([]string, 0, len(db.rows))
	for id := range db.rows {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		r := db.rows[id]
		fmt.Printf("%s %s tenant=%s room=%s identity=%q kind=%q seconds=%v peak=%d\n", r[0], r[1], r[2], r[3], r[5], r[6], r[10], r[11])
	}
	// Output:
	// PA_alice participant tenant=acme room=standup identity="alice" kind="webrtc" seconds=1500 peak=0
	// PA_phone participant tenant=acme room=standup identity="phone" kind="sip" seconds=600 peak=0
	// RM_1 room tenant=acme room=standup identity="" kind="" seconds=1520 peak=2
}
