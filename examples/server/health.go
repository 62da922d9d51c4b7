package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate"
)

// defaultWebhookMaxSilence is LKGATE_WEBHOOK_MAX_SILENCE's default.
const defaultWebhookMaxSilence = 2 * time.Minute

// parseWebhookMaxSilence reads LKGATE_WEBHOOK_MAX_SILENCE: a Go duration,
// 0 to turn the check off, empty for the default.
func parseWebhookMaxSilence(raw string) (time.Duration, error) {
	if raw == "" {
		return defaultWebhookMaxSilence, nil
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("LKGATE_WEBHOOK_MAX_SILENCE must be a duration such as 2m, or 0 to turn the check off, got %q", raw)
	}
	return d, nil
}

// roomLister is the LiveKit call the webhook check makes, on every room
// (lkgate's Manager lists one tenant's).
type roomLister interface {
	ListRooms(ctx context.Context, req *livekit.ListRoomsRequest) (*livekit.ListRoomsResponse, error)
}

// webhookHealth tells whether LiveKit's webhooks reach this server. LiveKit
// sends room_started as it creates a room, and nothing periodic: a quiet
// room sends no event for hours. So the check is per room: a room that
// appears while this server runs and that no webhook names within
// maxSilence means LiveKit's webhooks do not arrive (no webhook.urls, a
// wrong URL or key), and the join guard and call slots, which depend on
// them, are blind. Rooms open when the server started are not judged: their
// events came before it. It is per process: replicas behind a load balancer
// each see a share of the events, so a room whose few events all reached
// another replica can look unannounced; run one replica's check, or turn
// it off (LKGATE_WEBHOOK_MAX_SILENCE=0).
type webhookHealth struct {
	rooms      roomLister
	maxSilence time.Duration
	route      string // the webhook URL's path, for the reason
	log        *slog.Logger
	now        func() time.Time
	stop       context.CancelFunc
	done       chan struct{}

	mu          sync.Mutex
	listed      bool                 // a listing succeeded: rooms appearing later are judged
	known       map[string]bool      // sids of the last listing
	announced   map[string]time.Time // room sid → when a webhook last named it
	pending     map[string]pendingRoom
	lastWebhook time.Time
	checked     time.Time
	listFailing bool
	reason      string // why webhooks look broken; "" when they do not
}

// pendingRoom is a room that appeared while the server ran and that no
// webhook has named yet.
type pendingRoom struct {
	name string
	seen time.Time
}

// newHealth is the check of cfg's server, on LiveKit's room service; it
// judges nothing while cfg.webhookMaxSilence is 0.
func newHealth(cfg config, log *slog.Logger) *webhookHealth {
	rooms := lkgate.NewRoomService(cfg.manager.URL, cfg.manager.APIKey, cfg.manager.APISecret)
	return newWebhookHealth(rooms, cfg.webhookMaxSilence, cfg.apiBase()+"/livekit/webhook", log, time.Now)
}

func newWebhookHealth(rooms roomLister, maxSilence time.Duration, route string, log *slog.Logger, now func() time.Time) *webhookHealth {
	return &webhookHealth{rooms: rooms, maxSilence: maxSilence, route: route, log: log, now: now,
		known: map[string]bool{}, announced: map[string]time.Time{}, pending: map[string]pendingRoom{}}
}

// interval is how often start checks: a quarter of maxSilence, at most 30 s.
func (h *webhookHealth) interval() time.Duration { return min(h.maxSilence/4, 30*time.Second) }

// start checks once, so that every room appearing from then on is
// judged, then every interval until Close; with a maxSilence of 0, never.
func (h *webhookHealth) start() {
	if h.maxSilence == 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.stop, h.done = cancel, make(chan struct{})
	h.check(ctx)
	go func() {
		defer close(h.done)
		tick := time.NewTicker(h.interval())
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			h.check(ctx)
		}
	}()
}

// Close stops the checks.
func (h *webhookHealth) Close() error {
	if h.stop != nil {
		h.stop()
		<-h.done
	}
	return nil
}

// closers closes each in turn, returning the first error.
type closers []io.Closer

func (cs closers) Close() error {
	var first error
	for _, c := range cs {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// received notes a webhook handled (httpx.Config.OnWebhook).
func (h *webhookHealth) received(_ context.Context, ev lkgate.WebhookEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	h.lastWebhook = now
	if sid := ev.Event.GetRoom().GetSid(); sid != "" {
		h.announced[sid] = now
		delete(h.pending, sid)
	}
	h.judge(now)
}

// check lists LiveKit's rooms and judges the new ones.
func (h *webhookHealth) check(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, err := h.rooms.ListRooms(ctx, &livekit.ListRoomsRequest{})
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		if !h.listFailing && ctx.Err() == nil {
			h.log.Warn("webhook health: cannot list LiveKit's rooms; the check waits for LiveKit", "error", lkgate.Redact(err.Error()))
		}
		h.listFailing = true
		return
	}
	h.listFailing = false
	now := h.now()
	listed := make(map[string]bool, len(res.GetRooms()))
	for _, r := range res.GetRooms() {
		sid := r.GetSid()
		listed[sid] = true
		if _, ok := h.announced[sid]; h.listed && !h.known[sid] && !ok {
			if _, ok := h.pending[sid]; !ok {
				h.pending[sid] = pendingRoom{name: r.GetName(), seen: now}
			}
		}
	}
	for sid := range h.pending {
		if !listed[sid] {
			delete(h.pending, sid)
		}
	}
	for sid, at := range h.announced {
		if !listed[sid] && now.Sub(at) > 2*h.maxSilence {
			delete(h.announced, sid)
		}
	}
	h.known, h.listed, h.checked = listed, true, now
	h.judge(now)
}

// judge sets the reason from the pending rooms, logging each change.
func (h *webhookHealth) judge(now time.Time) {
	var overdue *pendingRoom
	for _, p := range h.pending {
		if now.Sub(p.seen) > h.maxSilence && (overdue == nil || p.seen.Before(overdue.seen)) {
			overdue = &p
		}
	}
	was := h.reason
	h.reason = ""
	if overdue != nil {
		h.reason = fmt.Sprintf("LiveKit room %q appeared %s ago and no webhook has named it in LKGATE_WEBHOOK_MAX_SILENCE (%s): "+
			"LiveKit's webhooks are not reaching this server, so the join guard and call slots miss events. "+
			"Check that LiveKit's webhook.urls includes this server's %s and that webhook.api_key is LIVEKIT_API_KEY",
			overdue.name, now.Sub(overdue.seen).Round(time.Second), h.maxSilence, h.route)
	}
	switch {
	case was == "" && h.reason != "":
		h.log.Warn("webhook health: degraded", "reason", h.reason)
	case was != "" && h.reason == "":
		h.log.Info("webhook health: webhooks arrive again")
	}
}

// healthStatus is the body of GET /healthz.
type healthStatus struct {
	// Status is "ok", or "degraded" (503) when LiveKit's webhooks look
	// like they do not arrive.
	Status string `json:"status"`
	// Reason says why, when degraded.
	Reason string `json:"reason,omitempty"`
	// LastWebhook is when a webhook was last handled.
	LastWebhook *time.Time `json:"last_webhook,omitempty"`
	// CheckedAt is when LiveKit's rooms were last listed.
	CheckedAt *time.Time `json:"checked_at,omitempty"`
}

// ServeHTTP serves GET /healthz: 200 ok, or 503 degraded with the reason.
func (h *webhookHealth) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	h.mu.Lock()
	st := healthStatus{Status: "ok", Reason: h.reason, LastWebhook: timeOrNil(h.lastWebhook), CheckedAt: timeOrNil(h.checked)}
	h.mu.Unlock()
	code := http.StatusOK
	if st.Reason != "" {
		st.Status, code = "degraded", http.StatusServiceUnavailable
	}
	writeHealth(w, code, st)
}

func writeHealth(w http.ResponseWriter, code int, st healthStatus) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(st)
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
