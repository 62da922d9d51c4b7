package httpx

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/lkgate/lkgate"
)

// webhookClockSkew is how far apart the clocks of replicas and of their
// SeenEvents store (Redis's) may be, as for leases: an id is remembered
// that long past its window, so that no clock forgets it while another
// still accepts the event.
const webhookClockSkew = 30 * time.Second

// WebhookResponse is the answer to LiveKit's webhook delivery.
type WebhookResponse struct {
	// Status is "ok", or "duplicate" for an event id already handled.
	Status string `json:"status"`
}

// Webhook serves POST /livekit/webhook, the URL to configure in LiveKit's
// webhook.urls. It needs no API key: LiveKit signs each event with its API
// key and secret, and the signature and body checksum are verified (401 if
// they do not match).
//
// A signature stays valid for minutes, so a captured delivery could be
// sent again: an event created more than lkgate.WebhookWindow ago is
// refused (401 webhook_expired), one without an id or creation time too
// (400), and within the window each event id is handled once (a replay
// answers 200 "duplicate"), remembered in Config.SeenEvents until 30 s
// past the window, for clocks a little apart. If that store fails, the
// answer is 503, so LiveKit delivers the event again rather than have it
// handled twice or lost.
//
// On participant_joined the join guard runs (see lkgate.Manager.GuardJoin)
// unless Config.DisableJoinGuard is set; if it cannot reach LiveKit the
// answer is 5xx, so LiveKit delivers the event again. On participant_left
// of a SIP participant, the call's concurrency slot is freed (see
// lkgate.Manager.ReleaseCall), with the same 5xx if the limit store fails.
// Then Config.OnWebhook, if set, receives the event.
func (h *Handler) Webhook(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, "POST /livekit/webhook", h.webhook)
}

func (h *Handler) webhook(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	body, p, ok := h.readBody(w, r)
	if !ok {
		writeProblem(w, p)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	ev, err := h.m.VerifyWebhook(r)
	if err != nil {
		h.fail(ctx, w, err, nil)
		return
	}
	until, err := h.m.WebhookDeadline(ev)
	if err != nil {
		h.fail(ctx, w, err, nil)
		return
	}
	first, err := h.seen.Seen(ctx, ev.GetId(), until.Add(webhookClockSkew))
	if err != nil {
		h.failures.Failure(ctx, slog.LevelError, "webhook id store failed", "", err, slog.String("event", ev.GetId()))
		h.fail(ctx, w, &lkgate.Error{Kind: lkgate.ErrUnavailable, Op: "webhook", Msg: "the webhook id store is unavailable"}, nil)
		return
	}
	if !first {
		writeJSON(w, http.StatusOK, WebhookResponse{Status: "duplicate"})
		return
	}
	if !h.disableGuard {
		_, err = h.m.GuardJoin(ctx, ev)
	}
	if err == nil {
		err = h.m.ReleaseCall(ctx, ev)
	}
	if err != nil {
		if ferr := h.seen.Forget(context.WithoutCancel(ctx), ev.GetId()); ferr != nil {
			// LiveKit's retry will be taken for a duplicate.
			h.failures.Failure(ctx, slog.LevelError, "webhook id store failed: the event's retry will be dropped", "", ferr, slog.String("event", ev.GetId()))
		}
		h.fail(ctx, w, err, nil)
		return
	}
	if h.onWebhook != nil {
		h.onWebhook(ctx, h.m.ResolveWebhook(ev))
	}
	writeJSON(w, http.StatusOK, WebhookResponse{Status: "ok"})
}
