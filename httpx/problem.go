package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lkgate/lkgate"
)

// Problem is the RFC 9457 problem-details body of every error response,
// served as application/problem+json. Code is stable and meant for
// programs; Detail is for people and may change.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Code is a stable machine-readable code such as "invalid_argument".
	Code string `json:"code"`
	// Field is the request field at fault, as spelled in the request.
	Field string `json:"field,omitempty"`
	// SIPStatus is the SIP status reported by LiveKit, when there is one.
	SIPStatus int `json:"sip_status,omitempty"`
	// Limit names the exhausted limit of a 429 (such as "token_rate").
	Limit string `json:"limit,omitempty"`
	// RetryAfter is the Retry-After header of a 429, or of a 503 while
	// lkgate has stopped calling an unreachable LiveKit, in seconds.
	RetryAfter int `json:"retry_after,omitempty"`
	// Permission names the permission a 403 permission_denied lacks (such
	// as "moderate", see Permission.String).
	Permission string `json:"permission,omitempty"`
}

// Stable problem codes.
const (
	CodeInvalidArgument      = "invalid_argument"
	CodeUnauthenticated      = "unauthenticated"
	CodeForbidden            = "forbidden"
	CodeNotFound             = "not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeConflict             = "conflict"
	CodePayloadTooLarge      = "payload_too_large"
	CodeRequestTimeout       = "request_timeout"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeNotConfigured        = "not_configured"
	CodeLiveKitError         = "livekit_error"
	CodeLiveKitUnavailable   = "livekit_unavailable"
	CodeLiveKitTimeout       = "livekit_timeout"
	CodeInternal             = "internal"
	// CodePermissionDenied (403): the principal lacks the route's
	// Permission, named in the problem's permission.
	CodePermissionDenied = "permission_denied"
	// CodeHostNotAllowed (421): the request's Host is not one this server
	// serves (Unauthenticated's DNS-rebinding check, ErrHostNotAllowed).
	CodeHostNotAllowed = "host_not_allowed"
	// Outcomes of SIP calls and transfers, reported by the far end (409,
	// with sip_status when LiveKit reports one).
	CodeSIPBusy            = "sip_busy"
	CodeSIPDeclined        = "sip_declined"
	CodeSIPNoAnswer        = "sip_no_answer"
	CodeSIPCallFailed      = "sip_call_failed"
	CodeSIPTransferRefused = "sip_transfer_refused"
	CodeSIPTransferFailed  = "sip_transfer_failed"
	// CodeSIPCallInProgress (409): a call to the same room and identity is
	// in progress ([lkgate.ErrCallInProgress]); nothing was dialed.
	CodeSIPCallInProgress = "sip_call_in_progress"
	// Refusals by a tenant's limit (429 with Retry-After): the code names
	// the limit, "<limit>_exceeded".
	CodeMaxRoomsExceeded              = lkgate.LimitMaxRooms + "_exceeded"
	CodeTokenRateExceeded             = lkgate.LimitTokenRate + "_exceeded"
	CodeSIPCallRateExceeded           = lkgate.LimitSIPCallRate + "_exceeded"
	CodeMaxConcurrentSIPCallsExceeded = lkgate.LimitMaxConcurrentSIPCalls + "_exceeded"
	CodeInviteRateExceeded            = lkgate.LimitInviteRate + "_exceeded"
	CodeGuestWaitRateExceeded         = lkgate.LimitGuestWaitRate + "_exceeded"
	// Guests waiting at once, for one room or any of the tenant's: every
	// waiting guest holds a lobby room in LiveKit.
	CodeMaxWaitingGuestsPerRoomExceeded = lkgate.LimitMaxWaitingGuestsPerRoom + "_exceeded"
	CodeMaxWaitingGuestsExceeded        = lkgate.LimitMaxWaitingGuests + "_exceeded"
	// CodeMaxBansExceeded: the tenant's bans in force at once, which the
	// ban sweep reads.
	CodeMaxBansExceeded = lkgate.LimitMaxBans + "_exceeded"
	// CodeWebhookExpired (401): a webhook event older than
	// [lkgate.WebhookWindow], refused as a replay ([lkgate.ErrWebhookExpired]).
	CodeWebhookExpired = "webhook_expired"
)

var kinds = []struct {
	err    error
	status int
	code   string
}{
	{lkgate.ErrInvalidArgument, http.StatusBadRequest, CodeInvalidArgument},
	{lkgate.ErrUnauthenticated, http.StatusUnauthorized, CodeUnauthenticated},
	{lkgate.ErrForbidden, http.StatusForbidden, CodeForbidden},
	{lkgate.ErrNotFound, http.StatusNotFound, CodeNotFound},
	// Before ErrConflict, which it refines.
	{lkgate.ErrCallInProgress, http.StatusConflict, CodeSIPCallInProgress},
	{lkgate.ErrConflict, http.StatusConflict, CodeConflict},
	{lkgate.ErrNotConfigured, http.StatusNotImplemented, CodeNotConfigured},
	{lkgate.ErrUpstream, http.StatusBadGateway, CodeLiveKitError},
	{lkgate.ErrUnavailable, http.StatusServiceUnavailable, CodeLiveKitUnavailable},
	{lkgate.ErrTimeout, http.StatusGatewayTimeout, CodeLiveKitTimeout},
	// 401, as for a signature past its expiry: a 4xx LiveKit does not retry.
	{lkgate.ErrWebhookExpired, http.StatusUnauthorized, CodeWebhookExpired},
	// The far end of a call answered, and its answer was no: the request
	// was valid and LiveKit worked, so these are neither 4xx input errors
	// nor 5xx failures (which proxies retry and operators get paged for).
	{lkgate.ErrBusy, http.StatusConflict, CodeSIPBusy},
	{lkgate.ErrDeclined, http.StatusConflict, CodeSIPDeclined},
	{lkgate.ErrNoAnswer, http.StatusConflict, CodeSIPNoAnswer},
	{lkgate.ErrCallFailed, http.StatusConflict, CodeSIPCallFailed},
	{lkgate.ErrTransferRefused, http.StatusConflict, CodeSIPTransferRefused},
	{lkgate.ErrTransferFailed, http.StatusConflict, CodeSIPTransferFailed},
}

// fieldNames maps lkgate's Go field names to a route's JSON names.
type fieldNames map[string]string

// name is the JSON name of lkgate's field. A field in a list item, such
// as "Agents[1].AgentName", is named from its list's and its own entries
// ("Agents", "Agents.AgentName"): "room_config.agents[1].agent_name". A
// field without an entry keeps its Go name.
func (f fieldNames) name(field string) string {
	if name, ok := f[field]; ok {
		return name
	}
	list, rest, indexed := strings.Cut(field, "[")
	index, sub, closed := strings.Cut(rest, "]")
	listName, okList := f[list]
	full, okSub := f[list+sub]
	if indexed && closed && okList && okSub && strings.HasPrefix(full, listName) {
		return listName + "[" + index + "]" + full[len(listName):]
	}
	return field
}

// ProblemFor returns the [Problem] the Handler answers for err, an error
// of a Manager method, for hosts whose own handlers call the Manager: the
// status and Code of err's kind ([lkgate.ErrNotFound] is 404 not_found),
// lkgate's own message as Detail, lkgate's name for the field at fault
// (such as "Room"), and for an error that is no [*lkgate.Error] a 500
// "internal error" that never shows its text.
func ProblemFor(err error) Problem { return problemFor(err, nil) }

// WriteError answers err as the Handler does, with [ProblemFor](err) as
// application/problem+json and its Retry-After and WWW-Authenticate
// headers, and logs nothing: a 5xx is for the host to log.
func WriteError(w http.ResponseWriter, err error) { writeProblem(w, ProblemFor(err)) }

// problemFor converts an lkgate error into a problem. Only lkgate's own
// messages reach the body: they are built to be safe to show.
func problemFor(err error, fields fieldNames) Problem {
	if bad := (*fieldError)(nil); errors.As(err, &bad) { // a route's own check
		return fieldProblem(bad.field, bad.msg)
	}
	var e *lkgate.Error
	if !errors.As(err, &e) {
		return newProblem(http.StatusInternalServerError, CodeInternal, "internal error")
	}
	if errors.Is(err, lkgate.ErrLimited) {
		p := newProblem(http.StatusTooManyRequests, e.Limit+"_exceeded", e.Msg)
		p.Limit, p.RetryAfter = e.Limit, int(e.RetryAfter/time.Second)
		return p
	}
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			p := newProblem(k.status, k.code, e.Msg)
			if e.Field != "" {
				p.Field = fields.name(e.Field)
				p.Detail = p.Field + ": " + e.Msg
			}
			p.SIPStatus = e.SIPStatus
			p.RetryAfter = int(e.RetryAfter / time.Second)
			return p
		}
	}
	return newProblem(http.StatusInternalServerError, CodeInternal, "internal error")
}

func newProblem(status int, code, detail string) Problem {
	return Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Code: code, Detail: detail}
}

func fieldProblem(field, detail string) Problem {
	p := newProblem(http.StatusBadRequest, CodeInvalidArgument, field+": "+detail)
	p.Field = field
	return p
}

func writeProblem(w http.ResponseWriter, p Problem) {
	writeChallenge(w, p, bearerChallenge)
}

// writeChallenge writes p with challenge as the WWW-Authenticate header of
// a 401, or none when challenge is empty.
func writeChallenge(w http.ResponseWriter, p Problem, challenge string) {
	if p.Status == http.StatusUnauthorized && challenge != "" {
		w.Header().Set("WWW-Authenticate", challenge)
	}
	if p.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	writeJSONType(w, p.Status, "application/problem+json", p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	writeJSONType(w, status, "application/json", v)
}

func writeJSONType(w http.ResponseWriter, status int, contentType string, v any) {
	e := encoders.Get().(*encoder)
	defer e.put()
	// Encode writes what json.Marshal returns, and a newline.
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil {
		status, contentType = http.StatusInternalServerError, "application/problem+json"
		e.buf.Reset()
		_ = e.enc.Encode(newProblem(status, CodeInternal, "response encoding failed"))
	}
	// The three values share one allocation; each is capped, so that
	// appending to one cannot overwrite the next.
	values := []string{contentType, "no-store", "nosniff"}
	h := w.Header()
	h["Content-Type"] = values[0:1:1]
	h["Cache-Control"] = values[1:2:2]
	h["X-Content-Type-Options"] = values[2:3:3]
	w.WriteHeader(status)
	_, _ = w.Write(e.buf.Bytes())
}

// encoder is a reusable buffer for a JSON answer.
type encoder struct {
	buf bytes.Buffer
	enc *json.Encoder // writes buf; escapes HTML, as json.Marshal does
}

var encoders = sync.Pool{New: func() any {
	e := &encoder{}
	e.enc = json.NewEncoder(&e.buf)
	return e
}}

// maxPooledAnswer bounds the buffers kept for reuse: a large room list's
// is left to the garbage collector.
const maxPooledAnswer = 64 << 10

func (e *encoder) put() {
	if e.buf.Cap() <= maxPooledAnswer {
		encoders.Put(e)
	}
}
