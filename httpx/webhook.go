package httpx

import (
	"net/http"
	"sync"
)

// recentWebhookIDs bounds the de-duplication memory: LiveKit retries a
// failed delivery within seconds, so a few thousand ids span far longer.
const recentWebhookIDs = 4096

// WebhookResponse is the answer to LiveKit's webhook delivery.
type WebhookResponse struct {
	// Status is "ok", or "duplicate" for an event id already handled.
	Status string `json:"status"`
}

// Webhook serves POST /livekit/webhook, the URL to configure in LiveKit's
// webhook.urls. It needs no API key: LiveKit signs each event with its API
// key and secret, and the signature and body checksum are verified (401 if
// they do not match). Each event id is handled once. On participant_joined
// the join guard runs (see lkgate.Manager.GuardJoin) unless
// Config.DisableJoinGuard is set; if it cannot reach LiveKit the answer is
// 5xx, so LiveKit delivers the event again. On participant_left of a SIP
// participant, the call's concurrency slot is freed (see
// lkgate.Manager.ReleaseCall), with the same 5xx if the limit store fails.
// Then Config.OnWebhook, if set, receives the event.
func (h *Handler) Webhook(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, h.maxBody)
	ev, err := h.m.VerifyWebhook(r)
	if err != nil {
		h.fail(r.Context(), w, err, nil)
		return
	}
	if !h.seen.begin(ev.GetId()) {
		writeJSON(w, http.StatusOK, WebhookResponse{Status: "duplicate"})
		return
	}
	if !h.disableGuard {
		_, err = h.m.GuardJoin(r.Context(), ev)
	}
	if err == nil {
		err = h.m.ReleaseCall(r.Context(), ev)
	}
	if err != nil {
		h.seen.forget(ev.GetId())
		h.fail(r.Context(), w, err, nil)
		return
	}
	if h.onWebhook != nil {
		h.onWebhook(r.Context(), h.m.ResolveWebhook(ev))
	}
	writeJSON(w, http.StatusOK, WebhookResponse{Status: "ok"})
}

// eventIDs remembers the most recent webhook event ids.
type eventIDs struct {
	mu    sync.Mutex
	ids   map[string]struct{}
	order []string // ring of the ids in ids, oldest at next
	next  int
}

func newEventIDs(n int) *eventIDs {
	return &eventIDs{ids: make(map[string]struct{}, n), order: make([]string, n)}
}

// begin records id and reports whether it is new. Events without an id are
// always new.
func (e *eventIDs) begin(id string) bool {
	if id == "" {
		return true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, dup := e.ids[id]; dup {
		return false
	}
	delete(e.ids, e.order[e.next])
	e.order[e.next] = id
	e.next = (e.next + 1) % len(e.order)
	e.ids[id] = struct{}{}
	return true
}

// forget drops id so that LiveKit's retry of a failed delivery is handled.
func (e *eventIDs) forget(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.ids, id)
}
