package lkgate

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// The memory index remembers a finished session for FinishedMemory, and
// no longer: its finished sessions are swept, so that its size follows
// the sessions of one FinishedMemory, not every session it ever saw.
func TestMemoryRoomIndexFinishedMemoryBounded(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	x := NewMemoryRoomIndex(func() time.Time { return now }).(*memoryRoomIndex)
	room := func(i int) IndexedRoom {
		return IndexedRoom{Name: fmt.Sprint("r", i), SID: fmt.Sprint("RM_", i), Started: now}
	}
	const n = 5000
	for i := range n {
		if err := x.Finished(ctx, "t1", room(i)); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(FinishedMemory - time.Second)
	if err := x.Started(ctx, "t1", room(0)); err != nil {
		t.Fatal(err)
	}
	if rooms, _ := x.Rooms(ctx, "t1"); len(rooms) != 0 {
		t.Errorf("a session finished %v ago started again", FinishedMemory-time.Second)
	}
	now = now.Add(2 * time.Second)
	for i := n; i < 2*n; i++ {
		if err := x.Finished(ctx, "t1", room(i)); err != nil {
			t.Fatal(err)
		}
	}
	x.mu.Lock()
	size := len(x.finished)
	x.mu.Unlock()
	if size > n+1024 {
		t.Errorf("%d finished sessions remembered, %d of them older than FinishedMemory", size, size-n)
	}
	if len(x.rooms) != 0 {
		t.Errorf("%d tenants without rooms kept", len(x.rooms))
	}
}
