package lkgate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/livekit/protocol/utils/xtwirp"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/twitchtv/twirp"
	"google.golang.org/grpc/status"
)

// Sentinel errors. Every error returned by lkgate matches exactly one of them
// with errors.Is (ErrCallInProgress also ErrConflict, which it refines), and
// is an *Error carrying the details.
var (
	// ErrInvalidArgument: the request is malformed; Error.Field names the culprit.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrUnauthenticated: no tenant was given and unauthenticated mode is off.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrForbidden: the tenant may not do this (for tokens: another tenant owns the room).
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound: the room, participant or track does not exist, or the
	// room belongs to another tenant (indistinguishable on purpose).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the current state forbids the operation (for example a
	// room whose metadata cannot carry an owner, or a refused remote unmute).
	ErrConflict = errors.New("conflict")
	// ErrCallInProgress: a call to the same room and identity still holds
	// its concurrent-call slot (Limits.MaxConcurrentSIPCalls), so a new one
	// would replace its participant. It refines ErrConflict, which it also
	// matches.
	ErrCallInProgress = fmt.Errorf("%w: call in progress", ErrConflict)
	// ErrUnavailable: LiveKit could not be reached or is overloaded; retrying may help.
	ErrUnavailable = errors.New("livekit unavailable")
	// ErrTimeout: LiveKit did not answer within the deadline.
	ErrTimeout = errors.New("livekit timeout")
	// ErrUpstream: LiveKit answered with an unexpected error, such as an
	// internal error or a refusal of lkgate's own API credentials.
	ErrUpstream = errors.New("livekit error")
	// ErrNotConfigured: the operation needs configuration the host or
	// LiveKit lacks: a trunk LiveKit does not know or a trunk policy that
	// names none, LiveKit's SIP service not connected, or a tenant's
	// limits that LimitConfig.Tenant got wrong.
	ErrNotConfigured = errors.New("not configured")
	// ErrLimited: one of the tenant's limits (Config.Limits) refuses the
	// operation, before anything was done; Error.Limit names the limit and
	// Error.RetryAfter says when to try again.
	ErrLimited = errors.New("limit exceeded")
	// ErrWebhookExpired: a signed webhook event is older than WebhookWindow
	// (see Manager.WebhookDeadline): a replay, or a delivery LiveKit held
	// back too long.
	ErrWebhookExpired = errors.New("webhook expired")

	// Call and transfer outcomes, reported by the far end of a SIP call.
	// Error.SIPStatus carries the SIP status when LiveKit reports one.

	// ErrBusy: the callee is busy (SIP 486 or 600).
	ErrBusy = errors.New("callee busy")
	// ErrDeclined: the callee declined the call (SIP 403, 603, 607, 608).
	ErrDeclined = errors.New("call declined")
	// ErrNoAnswer: nobody answered before the ringing timeout (or SIP 408,
	// 480, 487).
	ErrNoAnswer = errors.New("no answer")
	// ErrCallFailed: the call failed with another SIP status.
	ErrCallFailed = errors.New("call failed")
	// ErrTransferRefused: the far end refused the transfer (REFER answered
	// with an error such as 403).
	ErrTransferRefused = errors.New("transfer refused")
	// ErrTransferFailed: the far end accepted the transfer, then reported it
	// failed (NOTIFY with a non-2xx status), or never answered the REFER.
	// The call stays up.
	ErrTransferFailed = errors.New("transfer failed")
)

// Error is the one error type lkgate returns. It matches its Kind with
// errors.Is; LiveKit's transport errors (twirp, gRPC) are converted into it
// and never exposed, and any token in an upstream message is redacted.
type Error struct {
	// Kind is one of the sentinel errors above.
	Kind error
	// Op is the operation that failed, such as "token" or "ensure room".
	Op string
	// Room is the room concerned, when there is one.
	Room string
	// Field names the request field at fault for ErrInvalidArgument,
	// using the Go field name of the request struct (for example "Room").
	Field string
	// SIPStatus is the SIP status code reported by LiveKit, or 0.
	SIPStatus int
	// Limit names the exhausted limit (such as LimitTokenRate) for
	// ErrLimited.
	Limit string
	// RetryAfter is when an ErrLimited operation may succeed again, or,
	// for ErrUnavailable while lkgate has stopped calling an unreachable
	// LiveKit (Config.BreakerFailures), when it calls LiveKit again: in
	// whole seconds, at least one.
	RetryAfter time.Duration
	// Msg is a human-readable explanation, safe to show to callers.
	Msg string
}

// Error formats the error as "lkgate: op: room "r": field: msg".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("lkgate: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	if e.Room != "" {
		fmt.Fprintf(&b, "room %q: ", e.Room)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	if e.Msg != "" {
		b.WriteString(e.Msg)
	} else {
		b.WriteString(e.Kind.Error())
	}
	return b.String()
}

// Unwrap returns Kind, so errors.Is(err, ErrNotFound) works.
func (e *Error) Unwrap() error { return e.Kind }

func invalidArg(field, format string, args ...any) *Error {
	return &Error{Kind: ErrInvalidArgument, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// withContext fills Op and Room on an *Error that does not have them yet.
func withContext(err error, op, room string) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	c := *e
	if c.Op == "" {
		c.Op = op
	}
	if c.Room == "" {
		c.Room = room
	}
	return &c
}

// contextError is the error of an operation whose ctx ended while it was
// doing something.
func contextError(err error, doing string) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Kind: ErrTimeout, Msg: "deadline exceeded while " + doing}
	}
	return &Error{Kind: ErrUnavailable, Msg: "canceled while " + doing}
}

// fromLiveKit converts an error from the LiveKit SDK into an *Error.
// It never keeps the original error: its text may carry tokens.
func fromLiveKit(op, room string, err error) error {
	if err == nil {
		return nil
	}
	if own := (*Error)(nil); errors.As(err, &own) {
		return withContext(own, op, room) // the breaker's refusal
	}
	e := &Error{Op: op, Room: room}
	if st := lksdk.SIPStatusFrom(err); st != nil {
		e.SIPStatus = int(st.Code)
	}
	var netErr net.Error
	code, msg, answered := liveKitCode(err)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		e.Kind, e.Msg = ErrTimeout, "LiveKit did not answer before the deadline"
	case errors.Is(err, context.Canceled):
		e.Kind, e.Msg = ErrUnavailable, "request canceled before LiveKit answered"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		e.Kind, e.Msg = ErrUnavailable, "LiveKit closed the connection mid-call"
	case errors.As(err, &netErr) && netErr.Timeout():
		e.Kind, e.Msg = ErrTimeout, "LiveKit did not answer in time"
	case netErr != nil:
		e.Kind, e.Msg = ErrUnavailable, "LiveKit is unreachable"
	case code == twirp.Unauthenticated:
		e.Kind, e.Msg = ErrUpstream, "LiveKit refused lkgate's API key or secret"
	case answered:
		e.Kind, e.Msg = kindOf(code), upstreamMsg(kindOf(code), msg)
	default:
		e.Kind, e.Msg = ErrUpstream, upstreamMsg(ErrUpstream, err.Error())
	}
	return e
}

func upstreamMsg(kind error, msg string) string {
	msg = Redact(msg)
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	if kind == ErrUpstream && msg == "" {
		return "LiveKit returned an error"
	}
	return "LiveKit: " + msg
}

// liveKitCode returns the code, as twirp spells it, and the message of an
// error LiveKit answered with, over twirp or gRPC; ok is false for errors
// of lkgate's own (context, network).
func liveKitCode(err error) (code twirp.ErrorCode, msg string, ok bool) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "", "", false
	}
	var twerr twirp.Error
	if errors.As(err, &twerr) {
		return twerr.Code(), twerr.Msg(), true
	}
	if st, ok := status.FromError(err); ok {
		return xtwirp.ErrorCodeFromGRPC(st.Code()), st.Message(), true
	}
	return "", "", false
}

// kindOf maps LiveKit's answer to a sentinel. Unauthenticated (a refusal of
// lkgate's own credentials), internal, unknown, canceled and the rest are
// ErrUpstream.
func kindOf(code twirp.ErrorCode) error {
	switch code {
	case twirp.NotFound:
		return ErrNotFound
	case twirp.InvalidArgument, twirp.OutOfRange, twirp.Malformed:
		return ErrInvalidArgument
	case twirp.AlreadyExists, twirp.FailedPrecondition, twirp.Aborted:
		return ErrConflict
	case twirp.PermissionDenied:
		return ErrForbidden
	case twirp.Unavailable, twirp.ResourceExhausted:
		return ErrUnavailable
	case twirp.DeadlineExceeded:
		return ErrTimeout
	}
	return ErrUpstream
}
