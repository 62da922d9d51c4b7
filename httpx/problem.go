package httpx

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
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
	// RetryAfter is the Retry-After header of a 429, in seconds.
	RetryAfter int `json:"retry_after,omitempty"`
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
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeNotConfigured        = "not_configured"
	CodeLiveKitError         = "livekit_error"
	CodeLiveKitUnavailable   = "livekit_unavailable"
	CodeLiveKitTimeout       = "livekit_timeout"
	CodeInternal             = "internal"
	// Outcomes of SIP calls and transfers, reported by the far end (409,
	// with sip_status when LiveKit reports one).
	CodeSIPBusy            = "sip_busy"
	CodeSIPDeclined        = "sip_declined"
	CodeSIPNoAnswer        = "sip_no_answer"
	CodeSIPCallFailed      = "sip_call_failed"
	CodeSIPTransferRefused = "sip_transfer_refused"
	CodeSIPTransferFailed  = "sip_transfer_failed"
	// Refusals by a tenant's limit (429 with Retry-After): the code names
	// the limit, "<limit>_exceeded".
	CodeMaxRoomsExceeded              = lkgate.LimitMaxRooms + "_exceeded"
	CodeTokenRateExceeded             = lkgate.LimitTokenRate + "_exceeded"
	CodeSIPCallRateExceeded           = lkgate.LimitSIPCallRate + "_exceeded"
	CodeMaxConcurrentSIPCallsExceeded = lkgate.LimitMaxConcurrentSIPCalls + "_exceeded"
	CodeInviteRateExceeded            = lkgate.LimitInviteRate + "_exceeded"
	CodeGuestWaitRateExceeded         = lkgate.LimitGuestWaitRate + "_exceeded"
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
	{lkgate.ErrConflict, http.StatusConflict, CodeConflict},
	{lkgate.ErrNotConfigured, http.StatusNotImplemented, CodeNotConfigured},
	{lkgate.ErrUpstream, http.StatusBadGateway, CodeLiveKitError},
	{lkgate.ErrUnavailable, http.StatusServiceUnavailable, CodeLiveKitUnavailable},
	{lkgate.ErrTimeout, http.StatusGatewayTimeout, CodeLiveKitTimeout},
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

// problemFor converts an lkgate error into a problem. Only lkgate's own
// messages reach the body: they are built to be safe to show.
func problemFor(err error, fields fieldNames) Problem {
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
				p.Field = e.Field
				if name, ok := fields[e.Field]; ok {
					p.Field = name
				}
				p.Detail = p.Field + ": " + e.Msg
			}
			p.SIPStatus = e.SIPStatus
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
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="lkgate"`)
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
	body, err := json.Marshal(v)
	if err != nil {
		status, contentType = http.StatusInternalServerError, "application/problem+json"
		body, _ = json.Marshal(newProblem(status, CodeInternal, "response encoding failed"))
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
