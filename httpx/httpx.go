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

// DefaultMaxBodyBytes caps request bodies when Config.MaxBodyBytes is zero.
const DefaultMaxBodyBytes = 64 << 10

// Config configures a Handler. Authenticator is required.
type Config struct {
	// Authenticator resolves the principal of every request except guest
	// room-auth. Use NewStaticKeys for fixed API keys, or Unauthenticated
	// together with lkgate.Config.AllowUnauthenticated.
	Authenticator Authenticator
	// MaxBodyBytes caps request bodies. Zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Logger receives one line per request (method, path without query,
	// status, duration) and the failures that are not the client's (5xx,
	// the webhook id store's), redacted (lkgate.Manager.Redact) and
	// aggregated: the first of a kind at once, then at most one line per
	// 10 s per kind counting the others ("repeated"). Nil discards.
	// Tokens, API keys and query strings are never logged.
	Logger *slog.Logger
	// OnWebhook receives every verified LiveKit webhook event, once per
	// event id, after the join guard has run, with its room resolved to
	// the tenant and the room name the tenant knows
	// (lkgate.Manager.ResolveWebhook). Nil ignores them.
	OnWebhook func(ctx context.Context, ev lkgate.WebhookEvent)
	// DisableJoinGuard stops POST /livekit/webhook from removing
	// participants who joined another tenant's room.
	DisableJoinGuard bool
	// SeenEvents remembers the ids of handled webhook events for their
	// replay window (lkgate.WebhookWindow). Replicas behind one webhook
	// URL must share one (redislimit's Store). Nil means
	// lkgate.NewMemorySeenEvents on the Manager's clock.
	SeenEvents lkgate.SeenEvents
	// Observer is told of every answered request, for metrics (see the
	// otelmetrics package). Nil observes nothing.
	Observer Observer
}

// Observer is told of every request once it is answered. route is the
// pattern of the route as Handler lists it, such as "POST /livekit/token",
// wherever the host mounted it, or "" when no route matched, so that its
// values stay few. It is called on the request's
// goroutine and must be safe for concurrent use.
type Observer interface {
	ObserveRequest(ctx context.Context, route string, status int, elapsed time.Duration)
}

// Handler serves lkgate's HTTP API. Its routes, relative to where it is
// mounted, with the Permission each needs:
//
//	POST   /livekit/token             PermTokens
//	GET    /livekit/rooms             PermRooms
//	GET    /livekit/rooms/{room_name} PermRooms
//	DELETE /livekit/participant       PermModerate
//	POST   /livekit/participant/mute  PermModerate
//	POST   /livekit/webhook           (no API key: signed by LiveKit)
//	POST   /livekit/guest/invite      PermGuests
//	POST   /livekit/guest/room-auth   (no API key: the invite is the credential;
//	                                   also at /livekit/guest/room-auth/)
//	POST   /livekit/guest/admit       PermGuests
//	GET    /livekit/guest/waiting     PermGuests
//	POST   /sip/call                  PermSIP
//	POST   /sip/transfer              PermSIP
//	GET    /openapi.yaml              (no API key: this API's OpenAPI document)
//
// Mount it under a prefix with http.StripPrefix, or mount the exported
// per-route methods (such as Token) on your own mux, at paths of your
// choosing. Each checks its own permission and serves as ServeHTTP does:
// it logs, tells the Observer (under the route's pattern above, wherever it
// is mounted), turns a panic into a 500 problem and answers a method other
// than its own with a 405 problem. Room reads the room name from the last
// wildcard of the pattern you mount it under, whatever its name
// ("GET /rooms/{id}"), or from the path's last segment. Guest room-auth and
// the webhook must stay reachable without the host's session (see the
// package documentation). It is safe for concurrent use.
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
}

// New returns a Handler serving m.
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
	h := &Handler{m: m, auth: cfg.Authenticator, maxBody: cfg.MaxBodyBytes, log: cfg.Logger, mux: http.NewServeMux(),
		seen: cfg.SeenEvents, onWebhook: cfg.OnWebhook, disableGuard: cfg.DisableJoinGuard, observer: cfg.Observer}
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
	h.route("POST", "/livekit/token", h.Token)
	h.route("GET", "/livekit/rooms", h.ListRooms)
	h.route("GET", "/livekit/rooms/{room_name}", h.Room)
	h.route("DELETE", "/livekit/participant", h.RemoveParticipant)
	h.route("POST", "/livekit/participant/mute", h.Mute)
	h.route("POST", "/livekit/webhook", h.Webhook)
	h.route("POST", "/livekit/guest/invite", h.GuestInvite)
	h.route("POST", "/livekit/guest/room-auth", h.GuestRoomAuth)
	// The published guest API lists room-auth with a trailing slash; {$}
	// keeps the pattern from matching everything below it.
	h.route("POST", "/livekit/guest/room-auth/{$}", h.GuestRoomAuth)
	h.route("POST", "/livekit/guest/admit", h.GuestAdmit)
	h.route("GET", "/livekit/guest/waiting", h.GuestWaiting)
	h.route("POST", "/sip/call", h.Call)
	h.route("POST", "/sip/transfer", h.Transfer)
	h.route("GET", "/openapi.yaml", h.OpenAPIDocument)
	return h, nil
}

func (h *Handler) route(method, path string, fn http.HandlerFunc) {
	h.mux.HandleFunc(method+" "+path, fn)
}

// ServeHTTP implements http.Handler. A path it has no route for is a 404
// problem, and a method its path has no route for a 405 problem with an
// Allow header.
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
// route reads its body or calls LiveKit. The returned request carries the
// principal's subject for lkgate's audit events.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request, need Permission) (Principal, *http.Request, bool) {
	p, err := h.auth.Authenticate(r)
	if errors.Is(err, ErrHostNotAllowed) {
		writeProblem(w, newProblem(http.StatusMisdirectedRequest, CodeHostNotAllowed, "this server does not serve the host "+strconv.Quote(r.Host)))
		return Principal{}, r, false
	}
	if err != nil {
		refusal := &AuthError{Detail: "missing or invalid credentials", Challenge: bearerChallenge}
		errors.As(err, &refusal) // the Authenticator's own wording, if it chose one
		writeChallenge(w, newProblem(http.StatusUnauthorized, CodeUnauthenticated, cmp.Or(refusal.Detail, "authentication required")), refusal.Challenge)
		return Principal{}, r, false
	}
	if !p.Permissions.Has(need) {
		prob := newProblem(http.StatusForbidden, CodePermissionDenied, "this route needs the permission "+strconv.Quote(need.String())+", which the caller's credentials do not carry")
		prob.Permission = need.String()
		writeProblem(w, prob)
		return Principal{}, r, false
	}
	if p.Subject != "" {
		r = r.WithContext(lkgate.WithSubject(r.Context(), p.Subject))
	}
	return p, r, true
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
