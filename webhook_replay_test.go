package lkgate_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

// The window matches the signature LiveKit makes: valid 5 minutes, plus
// the minute of leeway VerifyWebhook allows. An event is accepted until
// created_at + WebhookWindow, by the Manager's clock, and not from then on.
func TestWebhookDeadline(t *testing.T) {
	if lkgate.WebhookWindow != 6*time.Minute {
		t.Fatalf("WebhookWindow %v, want 5 min (LiveKit's signature) + 1 min (the verifier's leeway)", lkgate.WebhookWindow)
	}
	clock := lkgatetest.NewClock(fixedNow)
	m, _ := newManager(t, lkgate.Config{Now: clock.Now})
	created := fixedNow.Add(-time.Minute)
	ev := &livekit.WebhookEvent{Event: "room_started", Id: "EV_a", CreatedAt: created.Unix()}

	until, err := m.WebhookDeadline(ev)
	if err != nil || !until.Equal(created.Add(lkgate.WebhookWindow)) {
		t.Fatalf("deadline %v, %v; want %v", until, err, created.Add(lkgate.WebhookWindow))
	}
	clock.Advance(until.Sub(clock.Now()) - time.Millisecond)
	if _, err := m.WebhookDeadline(ev); err != nil {
		t.Errorf("a millisecond before the deadline: %v", err)
	}
	clock.Advance(time.Millisecond)
	_, err = m.WebhookDeadline(ev)
	var e *lkgate.Error
	if !errors.Is(err, lkgate.ErrWebhookExpired) || !errors.As(err, &e) || errors.Is(err, lkgate.ErrInvalidArgument) {
		t.Errorf("at the deadline: %v; want ErrWebhookExpired", err)
	}

	for _, tt := range []struct {
		name, field string
		ev          *livekit.WebhookEvent
	}{
		{"no id", "id", &livekit.WebhookEvent{Event: "room_started", CreatedAt: fixedNow.Unix()}},
		{"no created_at", "created_at", &livekit.WebhookEvent{Event: "room_started", Id: "EV_b"}},
		{"negative created_at", "created_at", &livekit.WebhookEvent{Event: "room_started", Id: "EV_b", CreatedAt: -1}},
	} {
		_, err := m.WebhookDeadline(tt.ev)
		if !errors.Is(err, lkgate.ErrInvalidArgument) || !errors.As(err, &e) || e.Field != tt.field {
			t.Errorf("%s: %v; want ErrInvalidArgument on %s", tt.name, err, tt.field)
		}
	}
}

// The in-process store forgets an id exactly at its until, on its clock.
func TestMemorySeenEventsClock(t *testing.T) {
	clock := lkgatetest.NewClock(fixedNow)
	s := lkgate.NewMemorySeenEvents(clock.Now)
	ctx := context.Background()
	seen := func(id string, until time.Time) bool {
		t.Helper()
		first, err := s.Seen(ctx, id, until)
		if err != nil {
			t.Fatal(err)
		}
		return first
	}
	until := fixedNow.Add(lkgate.WebhookWindow)
	if !seen("EV_a", until) {
		t.Fatal("new id is a duplicate")
	}
	clock.Advance(lkgate.WebhookWindow - time.Millisecond)
	if seen("EV_a", until) {
		t.Error("forgotten a millisecond before its until")
	}
	clock.Advance(time.Millisecond)
	if !seen("EV_a", until.Add(time.Minute)) {
		t.Error("remembered at its until")
	}
}
