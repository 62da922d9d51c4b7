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

// Webhook serves POST /livekit/webhook, the URL to set in LiveKit's
// webhook.urls: it handles each event that LiveKit signed
// ([lkgate.Manager.VerifyWebhook]) once within [lkgate.WebhookWindow],
// runs [lkgate.Manager.GuardJoin], with [Config].SIP
// [lkgate.SIP.ReleaseCall], [lkgate.Manager.IndexRoomEvent] and
// [lkgate.Manager.RecordUsage], then passes
// it to [Config].OnWebhook (see "Webhooks" in the package documentation).
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
	if err == nil && h.sip != nil {
		err = h.sip.ReleaseCall(ctx, ev)
	}
	if err == nil {
		// Before RecordUsage: an index failure's retry records no usage
		// twice, and the index takes duplicates.
		err = h.m.IndexRoomEvent(ctx, ev)
	}
	if err == nil {
		// After the dedupe: one record per session, whatever LiveKit retries.
		err = h.m.RecordUsage(ctx, ev)
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
