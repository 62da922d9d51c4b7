package lkgate

import (
	"context"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
)

const (
	// webhookSignatureTTL is the life of the token LiveKit signs each
	// delivery with (protocol/webhook's URLNotifier); retries reuse it.
	webhookSignatureTTL = 5 * time.Minute
	// webhookLeeway is the leeway protocol/auth's verifier, which
	// VerifyWebhook uses, allows on the token's expiry (tokenLeeway).
	webhookLeeway = time.Minute
	// WebhookWindow is how long after LiveKit created a webhook event (its
	// created_at) the event is accepted: as long as VerifyWebhook accepts
	// the signature of a delivery made at once. See Manager.WebhookDeadline.
	WebhookWindow = webhookSignatureTTL + webhookLeeway
)

// WebhookDeadline returns the end of ev's replay window: its created_at
// plus WebhookWindow. A webhook's signature binds its body, not the moment
// of delivery, so until then a SeenEvents store must remember ev's id, so
// that a replay is a duplicate; from then on the event is refused, so that
// a replay is never taken for a new event. Errors: ErrInvalidArgument
// (Field "id" or "created_at") for an event that lacks one (LiveKit sets
// both), ErrWebhookExpired once the deadline has passed on the Manager's
// clock (Config.Now). Call it after VerifyWebhook.
func (m *Manager) WebhookDeadline(ev *livekit.WebhookEvent) (time.Time, error) {
	if ev.GetId() == "" {
		return time.Time{}, &Error{Kind: ErrInvalidArgument, Op: "webhook", Field: "id", Msg: "the event has no id, so a replay could not be told apart"}
	}
	if ev.GetCreatedAt() <= 0 {
		return time.Time{}, &Error{Kind: ErrInvalidArgument, Op: "webhook", Field: "created_at", Msg: "the event has no creation time, so its replay window is unknown"}
	}
	deadline := time.Unix(ev.GetCreatedAt(), 0).Add(WebhookWindow)
	if !m.now().Before(deadline) {
		return time.Time{}, &Error{Kind: ErrWebhookExpired, Op: "webhook",
			Msg: "the event was created more than " + WebhookWindow.String() + " ago: refused as a replay (LiveKit's signature window)"}
	}
	return deadline, nil
}

// Now returns the time on the Manager's clock (Config.Now): the clock of
// its tokens, leases and webhook windows.
func (m *Manager) Now() time.Time { return m.now() }

// SeenEvents remembers the ids of the webhook events a server has handled,
// each until a given time, so that a replay within its window is told
// apart. Shared by replicas, it must be one store (redislimit's Store is
// one); NewMemorySeenEvents serves one process. Implementations must be
// safe for concurrent use.
type SeenEvents interface {
	// Seen records id until until and reports whether it is new: false,
	// changing nothing, while an earlier record of id has not expired.
	Seen(ctx context.Context, id string, until time.Time) (first bool, err error)
	// Forget drops the record of id, so that LiveKit's retry of a delivery
	// that failed is handled.
	Forget(ctx context.Context, id string) error
}

// memorySeen is the in-process SeenEvents.
type memorySeen struct {
	now func() time.Time

	mu      sync.Mutex
	ids     map[string]time.Time // id → until
	purgeAt int                  // len(ids) that triggers the next purge
}

// NewMemorySeenEvents returns the in-process SeenEvents: it remembers every
// id until its time has passed on now (nil means time.Now; give it the
// Manager's Config.Now), so its size follows the events of one
// WebhookWindow. It is shared with no replica and empty after a restart.
func NewMemorySeenEvents(now func() time.Time) SeenEvents {
	if now == nil {
		now = time.Now
	}
	return &memorySeen{now: now, ids: map[string]time.Time{}, purgeAt: 1024}
}

func (s *memorySeen) Seen(_ context.Context, id string, until time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if cur, ok := s.ids[id]; ok && cur.After(now) {
		return false, nil
	}
	s.ids[id] = until
	sweepDoubled(s.ids, &s.purgeAt, func(until time.Time) bool { return !until.After(now) })
	return true, nil
}

func (s *memorySeen) Forget(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.ids, id)
	return nil
}
