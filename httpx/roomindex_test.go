package httpx_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/lkgatetest"
)

// switchedIndex is a RoomIndex whose writes fail while down is set.
type switchedIndex struct {
	lkgate.RoomIndex
	down atomic.Bool
}

func (x *switchedIndex) Started(ctx context.Context, tenant string, r lkgate.IndexedRoom) error {
	if x.down.Load() {
		return errors.New("index down")
	}
	return x.RoomIndex.Started(ctx, tenant, r)
}

func (x *switchedIndex) Finished(ctx context.Context, tenant string, r lkgate.IndexedRoom) error {
	if x.down.Load() {
		return errors.New("index down")
	}
	return x.RoomIndex.Finished(ctx, tenant, r)
}

// The webhook route feeds room_started and room_finished to the room
// index after its dedupe; an index failure answers 503, before any usage
// is recorded, so that LiveKit's retry is handled whole.
func TestWebhookFeedsRoomIndex(t *testing.T) {
	fake := lkgatetest.NewServer(t)
	index := &switchedIndex{RoomIndex: lkgate.NewMemoryRoomIndex(nil)}
	usage := &recorded{}
	m := fake.NewManager(t, lkgate.Config{RoomIndex: index, RoomIndexReconcile: -1, Usage: usage})
	var delivered atomic.Int32
	h, err := httpx.New(m, httpx.Config{Authenticator: httpx.Unauthenticated(),
		OnWebhook: func(context.Context, lkgate.WebhookEvent) { delivered.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	lk, _ := m.LiveKitRoom("acme", "joined")
	fake.AddParticipant(lk, lkgatetest.Participant{Identity: "p"})
	room, _ := fake.Room(lk)
	started := eventJSON(t, &livekit.WebhookEvent{Event: "room_started", Id: "EV_s", Room: room, CreatedAt: time.Now().Unix()})
	listed := func() int {
		t.Helper()
		rooms, err := m.ListRooms(context.Background(), "acme")
		if err != nil {
			t.Fatal(err)
		}
		return len(rooms)
	}

	index.down.Store(true)
	if rec := webhook(t, h, started, started, lkgatetest.APISecret); rec.Code != 503 || delivered.Load() != 0 {
		t.Fatalf("index failing: %d %s, delivered %d; want 503 so LiveKit retries", rec.Code, rec.Body, delivered.Load())
	}
	if n := listed(); n != 0 {
		t.Fatalf("acme lists %d rooms before the index took the event", n)
	}
	index.down.Store(false)
	if rec := webhook(t, h, started, started, lkgatetest.APISecret); rec.Code != 200 || delivered.Load() != 1 {
		t.Fatalf("retry: %d %s, delivered %d", rec.Code, rec.Body, delivered.Load())
	}
	if n := listed(); n != 1 {
		t.Errorf("acme lists %d rooms after room_started, want 1", n)
	}

	if _, err := lkgate.NewRoomService(fake.URL(), lkgatetest.APIKey, lkgatetest.APISecret).DeleteRoom(context.Background(), &livekit.DeleteRoomRequest{Room: lk}); err != nil {
		t.Fatal(err)
	}
	finished := eventJSON(t, &livekit.WebhookEvent{Event: "room_finished", Id: "EV_f", Room: room, CreatedAt: time.Now().Unix()})
	index.down.Store(true)
	if rec := webhook(t, h, finished, finished, lkgatetest.APISecret); rec.Code != 503 || usage.count() != 0 {
		t.Fatalf("index failing: %d %s, %d usage records; want 503 and none", rec.Code, rec.Body, usage.count())
	}
	index.down.Store(false)
	if rec := webhook(t, h, finished, finished, lkgatetest.APISecret); rec.Code != 200 {
		t.Fatalf("room_finished: %d %s", rec.Code, rec.Body)
	}
	if rs, _ := index.Rooms(context.Background(), "acme"); len(rs) != 0 {
		t.Errorf("the index holds %v after room_finished", rs)
	}
	if n := usage.count(); n != 1 {
		t.Errorf("%d usage records of one room session, want 1", n)
	}
}
