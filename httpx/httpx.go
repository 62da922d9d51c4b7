package httpx

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/internal/faillog"
)

// DefaultMaxBodyBytes caps request bodies when [Config].MaxBodyBytes is zero.
const DefaultMaxBodyBytes = 64 << 10

// Config configures [New]; only Authenticator is required.
type Config struct {
	// Authenticator resolves the principal of every request except guest
	// room-auth, the webhook and the OpenAPI document: [NewStaticKeys] for
	// fixed API keys, or [Unauthenticated] together with
	// [lkgate.Config].AllowUnauthenticated.
	Authenticator Authenticator
	// MaxBodyBytes caps request bodies. Zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Logger receives one line per request (method, path without query,
	// status, duration) and the failures that are not the client's (5xx,
	// the webhook id store's), redacted ([lkgate.Manager.Redact]) and
	// aggregated: the first of a kind at once, then at most one line per
	// 10 s per kind counting the others ("repeated"). Nil discards.
	// Tokens, API keys and query strings are never logged.
	Logger *slog.Logger
	// OnWebhook receives every verified LiveKit webhook event, once per
	// event id, after the join guard has run, with its room resolved to
	// the tenant and the room name the tenant knows
	// ([lkgate.Manager.ResolveWebhook]). It runs before LiveKit is
	// answered: hand slow work off. To send each tenant its own events,
	// pass [github.com/lkgate/lkgate/forward.Forwarder.Forward]. Nil
	// ignores them.
	OnWebhook func(ctx context.Context, ev lkgate.WebhookEvent)
	// DisableJoinGuard stops POST /livekit/webhook from removing
	// participants who joined another tenant's room.
	DisableJoinGuard bool
	// SeenEvents remembers the ids of handled webhook events for their
	// replay window ([lkgate.WebhookWindow]). Replicas behind one webhook
	// URL must share one (redislimit's Store). Nil means
	// [lkgate.NewMemorySeenEvents] on the Manager's clock.
	SeenEvents lkgate.SeenEvents
	// Observer is told of every answered request, for metrics (see the
	// otelmetrics package). Nil observes nothing.
	Observer Observer
	// Guests serves the guest routes (/livekit/guest/...); nil leaves
	// them out, so that they answer 404.
	Guests *lkgate.Guests
	// SIP serves the SIP routes (/sip/...) and frees the slot of an ended
	// call on the webhook ([lkgate.SIP.ReleaseCall]), for the host's own
	// calls too; nil leaves the routes out, so that they answer 404.
	SIP *lkgate.SIP
}

// Observer is told of every answered request, on the request's goroutine,
// and must be safe for concurrent use. route is the route's pattern as the
// package documentation lists it ("POST /livekit/token"), wherever the
// host mounted it, or "" when no route matched, so that its values stay
// few.
type Observer interface {
	ObserveRequest(ctx context.Context, route string, status int, elapsed time.Duration)
}

// Handler serves lkgate's HTTP API, the routes of the package
// documentation, each needing the [Permission] that names it; it is safe
// for concurrent use.
//
// Mount it under a prefix with [http.StripPrefix], or mount its per-route
// methods (such as [Handler.Token]) on your own mux at paths of your
// choosing. Each checks its own permission and serves as
// [Handler.ServeHTTP] does: it logs, tells the [Observer] (under the
// route's own pattern, wherever it is mounted), turns a panic into a 500
// problem and answers a method other than its own with a 405 problem; a
// guest or SIP method of a Handler without [Config].Guests or
// [Config].SIP answers 404. Guest room-auth and the webhook must stay
// reachable without the host's session (see the package documentation).
type Handler struct {
	m       *lkgate.Manager
	auth    Authenticator
	maxBody int64
	log     *slog.Logger
	mux     *http.ServeMux
	// failures writes the lines of failures that are not the client's,
	// redacted and aggregated (see fail).
	failures *faillog.Log

	seen         lkgate.SeenEvents
	onWebhook    func(ctx context.Context, ev lkgate.WebhookEvent)
	disableGuard bool
	observer     Observer
	guests       *lkgate.Guests // nil: no guest routes
	sip          *lkgate.SIP    // nil: no SIP routes
}

// New returns a Handler serving m, with the guest and SIP routes only when
// cfg has Guests and SIP, or an error naming the faulty Config field.
func New(m *lkgate.Manager, cfg Config) (*Handler, error) {
	if m == nil {
		return nil, errors.New("httpx: New needs a Manager")
	}
	if cfg.Authenticator == nil {
		return nil, errors.New("httpx: Config.Authenticator is required (use Unauthenticated() to opt out)")
	}
	if cfg.MaxBodyBytes < 0 {
		return nil, errors.New("httpx: Config.MaxBodyBytes must not be negative")
	}
	// Guests or calls of another Manager would act with its LiveKit, limits
	// and audit trail behind this Handler's routes.
	if cfg.Guests != nil && cfg.Guests.Manager() != m {
		return nil, errors.New("httpx: Config.Guests was built from another Manager than New's")
	}
	if cfg.SIP != nil && cfg.SIP.Manager() != m {
		return nil, errors.New("httpx: Config.SIP was built from another Manager than New's")
	}
	h := &Handler{m: m, auth: cfg.Authenticator, maxBody: cfg.MaxBodyBytes, log: cfg.Logger, mux: http.NewServeMux(),
		seen: cfg.SeenEvents, onWebhook: cfg.OnWebhook, disableGuard: cfg.DisableJoinGuard, observer: cfg.Observer,
		guests: cfg.Guests, sip: cfg.SIP}
	if h.seen == nil {
		h.seen = lkgate.NewMemorySeenEvents(m.Now)
	}
	if h.maxBody == 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.failures = faillog.New(h.log, m.Now, m.Redact)
	h.mux.HandleFunc(tokenRoute.pattern, h.Token)
	h.mux.HandleFunc(listRoomsRoute.pattern, h.ListRooms)
	h.mux.HandleFunc(roomRoute.pattern, h.Room)
	h.mux.HandleFunc(deleteRoomRoute.pattern, h.DeleteRoom)
	h.mux.HandleFunc(removeRoute.pattern, h.RemoveParticipant)
	h.mux.HandleFunc(unbanRoute.pattern, h.Unban)
	h.mux.HandleFunc(muteRoute.pattern, h.Mute)
	h.mux.HandleFunc("POST /livekit/webhook", h.Webhook)
	if guestsOn(h) {
		h.mux.HandleFunc(inviteRoute.pattern, h.GuestInvite)
		h.mux.HandleFunc(roomAuthRoute.pattern, h.GuestRoomAuth)
		// The published guest API lists room-auth with a trailing slash;
		// {$} keeps the pattern from matching everything below it.
		h.mux.HandleFunc("POST /livekit/guest/room-auth/{$}", h.GuestRoomAuth)
		h.mux.HandleFunc(admitRoute.pattern, h.GuestAdmit)
		h.mux.HandleFunc(waitingRoute.pattern, h.GuestWaiting)
	}
	if sipOn(h) {
		h.mux.HandleFunc(callRoute.pattern, h.Call)
		h.mux.HandleFunc(transferRoute.pattern, h.Transfer)
	}
	h.mux.HandleFunc("GET /openapi.yaml", h.OpenAPIDocument)
	return h, nil
}

// ServeHTTP serves the request's route, or answers a 404 problem for a
// path without one and a 405 problem with an Allow header for a method its
// path lacks.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Each route logs, observes and recovers on its own (see serve).
	if _, pattern := h.mux.Handler(r); pattern == "" {
		h.serve(w, r, "", h.noRoute)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// noRoute answers a request no route matches with a problem, letting the
// mux decide between 404 and 405 (and the Allow header).
func (h *Handler) noRoute(w http.ResponseWriter, r *http.Request) {
	verdict := &headerOnly{header: http.Header{}}
	h.mux.ServeHTTP(verdict, r)
	if verdict.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", verdict.header.Get("Allow"))
		writeProblem(w, newProblem(http.StatusMethodNotAllowed, CodeMethodNotAllowed, r.Method+" is not allowed here"))
		return
	}
	writeProblem(w, newProblem(http.StatusNotFound, CodeNotFound, "no such route"))
}

// headerOnly keeps the status and headers of a response and drops its body.
type headerOnly struct {
	header http.Header
	status int
}

func (c *headerOnly) Header() http.Header         { return c.header }
func (c *headerOnly) Write(b []byte) (int, error) { return len(b), nil }
func (c *headerOnly) WriteHeader(status int)      { c.status = status }

// authenticate resolves the principal and checks that it holds need, the
// route's permission, or writes the refusal (401, 421 or 403) before the
// route reads its body or calls LiveKit. The returned context is the
// request's, carrying the principal's subject for lkgate's audit events.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request, need Permission) (Principal, context.Context, bool) {
	p, err := h.auth.Authenticate(r)
	if errors.Is(err, ErrHostNotAllowed) {
		writeProblem(w, newProblem(http.StatusMisdirectedRequest, CodeHostNotAllowed, "this server does not serve the host "+strconv.Quote(r.Host)))
		return Principal{}, nil, false
	}
	if err != nil {
		refusal := &AuthError{Detail: "missing or invalid credentials", Challenge: bearerChallenge}
		errors.As(err, &refusal) // the Authenticator's own wording, if it chose one
		writeChallenge(w, newProblem(http.StatusUnauthorized, CodeUnauthenticated, cmp.Or(refusal.Detail, "authentication required")), refusal.Challenge)
		return Principal{}, nil, false
	}
	if !p.Permissions.Has(need) {
		prob := newProblem(http.StatusForbidden, CodePermissionDenied, "this route needs the permission "+strconv.Quote(need.String())+", which the caller's credentials do not carry")
		prob.Permission = need.String()
		writeProblem(w, prob)
		return Principal{}, nil, false
	}
	ctx := r.Context()
	if p.Subject != "" {
		ctx = lkgate.WithSubject(ctx, p.Subject)
	}
	return p, ctx, true
}

// fail writes err as a problem and logs failures that are not the
// client's: redacted by the Manager (lkgate.Manager.Redact) and aggregated
// per problem code, so that an outage writes its first failure at once
// and then one line per 10 s with the count ("repeated") and the last
// error, instead of a line per request.
func (h *Handler) fail(ctx context.Context, w http.ResponseWriter, err error, fields fieldNames) {
	p := problemFor(err, fields)
	// lkgate's messages redact secret-shaped text; this also catches the
	// Manager's own secrets, should LiveKit ever echo one.
	p.Detail = h.m.Redact(p.Detail)
	if p.Status >= 500 {
		h.failures.Failure(ctx, slog.LevelWarn, "operation failed", p.Code, err, slog.Int("status", p.Status))
	}
	writeProblem(w, p)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
