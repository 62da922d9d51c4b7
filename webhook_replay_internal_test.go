package lkgate

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// The in-process store's size follows the events of one window, not every
// event ever seen: expired ids are purged as new ones arrive.
func TestMemorySeenEventsPurges(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	s := NewMemorySeenEvents(func() time.Time { return now }).(*memorySeen)
	for minute := range 60 {
		for i := range 1000 {
			if first, err := s.Seen(context.Background(), fmt.Sprint(minute, "-", i), now.Add(WebhookWindow)); !first || err != nil {
				t.Fatalf("new id: %v %v", first, err)
			}
		}
		now = now.Add(time.Minute)
	}
	// Six minutes of ids are live; at most as many again await a purge.
	if n := len(s.ids); n > 2*int(WebhookWindow/time.Minute)*1000+1000 {
		t.Errorf("%d ids held after an hour of 1000 a minute, want about %d", n, int(WebhookWindow/time.Minute)*1000)
	}
}
