package httpx_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/lkgatetest"
)

// recorded is a UsageRecorder keeping its records, failing while err is
// set.
type recorded struct {
	mu   sync.Mutex
	recs []lkgate.UsageRecord
	err  error
}

func (r *recorded) RecordUsage(_ context.Context, rec lkgate.UsageRecord) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.recs = append(r.recs, rec)
	return nil
}

func (r *recorded) set(err error) { r.mu.Lock(); r.err = err; r.mu.Unlock() }

func (r *recorded) count() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.recs) }

// The webhook route records a session once however often LiveKit
// delivers its event, and by two replicas sharing one SeenEvents; a
// recorder that fails makes the route answer 503, and LiveKit's retry is
// recorded.
func TestWebhookRecordsUsageOnce(t *testing.T) {
	fake := lkgatetest.NewServer(t)
	usage := &recorded{}
	seen := lkgate.NewMemorySeenEvents(nil)
	var replicas []*httpx.Handler
	for range 2 {
		m := fake.NewManager(t, lkgate.Config{Usage: usage})
		h, err := httpx.New(m, httpx.Config{Authenticator: httpx.Unauthenticated(), SeenEvents: seen})
		if err != nil {
			t.Fatal(err)
		}
		replicas = append(replicas, h)
	}
	lk, err := lkgate.ScopedRoomName("acme", "r")
	if err != nil {
		t.Fatal(err)
	}
	p := fake.AddParticipant(lk, lkgatetest.Participant{Identity: "alice", Attributes: map[string]string{lkgate.TenantAttribute: "acme"}})
	room, _ := fake.Room(lk)
	left := eventJSON(t, &livekit.WebhookEvent{Event: "participant_left", Id: "EV_left", CreatedAt: time.Now().Unix(), Room: room, Participant: p})

	usage.set(errors.New("table locked"))
	if rec := webhook(t, replicas[0], left, left, lkgatetest.APISecret); rec.Code != 503 || usage.count() != 0 {
		t.Fatalf("recorder failing: %d %s, %d records; want 503 so LiveKit retries", rec.Code, rec.Body, usage.count())
	}
	usage.set(nil)
	for i := range 4 {
		if rec := webhook(t, replicas[i%2], left, left, lkgatetest.APISecret); rec.Code != 200 {
			t.Fatalf("delivery %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	if n := usage.count(); n != 1 {
		t.Errorf("one session delivered 5 times to 2 replicas: %d records, want 1", n)
	}
}
