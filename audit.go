package lkgate

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"
)

// Audit actions: every state-changing operation emits one event with one
// of these, whether it succeeded, was refused or failed. A claim or a
// quota's room creation, which happens within a token, call, invite or
// guest request, emits its own event besides the request's, and so does
// lkgate's cleanup of a room it created for a claim that failed.
const (
	ActionRoomClaim         = "room.claim"              // Target: empty; SharedNames
	ActionRoomCreate        = "room.create"             // Target: empty; ScopedNames, under a room quota
	ActionRoomDelete        = "room.delete"             // Target: empty; DeleteRoom, and cleanup: a room whose claim failed, an expired guest's lobby
	ActionTokenMint         = "token.mint"              // Target: the identity
	ActionParticipantRemove = "participant.remove"      // Target: the identity
	ActionParticipantBan    = "participant.ban"         // Target: the identity
	ActionParticipantUnban  = "participant.unban"       // Target: the identity
	ActionTrackMute         = "track.mute"              // Target: the identity
	ActionPermissionsUpdate = "participant.permissions" // Target: the identity
	ActionSIPCall           = "sip.call"                // Target: the identity
	ActionSIPTransfer       = "sip.transfer"            // Target: the identity
	ActionGuestInvite       = "guest.invite"            // Target: empty
	ActionGuestWait         = "guest.wait"              // Target: the guest identity; Subject empty
	ActionGuestAdmit        = "guest.admit"             // Target: the guest identity
	ActionGuestDeny         = "guest.deny"              // Target: the guest identity
	ActionGuardRemove       = "guard.remove"            // Target: the removed identity
)

// Audit outcomes.
const (
	// OutcomeSuccess: the action was carried out.
	OutcomeSuccess = "success"
	// OutcomeRefused: lkgate refused the request (invalid, forbidden, not
	// found, conflicting or over a limit); nothing was changed.
	OutcomeRefused = "refused"
	// OutcomeFailed: LiveKit or a store failed, or the far end of a call
	// said no.
	OutcomeFailed = "failed"
)

// AuditEvent records one state-changing action. It never carries a token,
// an invite, a key or a secret.
type AuditEvent struct {
	Time time.Time
	// Tenant is the tenant acted for; empty in unauthenticated mode, and
	// for the join guard the room's owner.
	Tenant string
	// Subject is who acted within the tenant (see WithSubject); empty when
	// unknown, and "lkgate" for the join guard.
	Subject string
	// Action is one of the Action constants.
	Action string
	Room   string
	// Target is what was acted on within the room, per Action.
	Target string
	// Outcome is OutcomeSuccess, OutcomeRefused or OutcomeFailed.
	Outcome string
	// Reason is the error's kind ("forbidden", "limit exceeded", ...) when
	// the action did not succeed.
	Reason string
	// Limit names the limit that refused the action, for ErrLimited.
	Limit string
	// Details holds action-specific facts: for room.claim "existed"; for
	// room.delete "reason" ("claim_failed", "expired_lobby", or "ended"
	// for DeleteRoom); for participant.ban "duration_seconds", "until" and
	// "removed" (whether it was in the room); for
	// track.mute "muted" and "track_sid"; for sip.call "to", "from" and
	// "sip_call_id"; for sip.transfer "transfer_to"; for guest.invite
	// "expires_at"; for guard.remove "participant_tenant", and "reason"
	// "banned" for a banned identity's rejoin.
	Details map[string]string
}

// Auditor receives audit events. Audit is called synchronously on the
// request's path, after the action, so it must not block for long;
// implementations must be safe for concurrent use.
type Auditor interface {
	Audit(ctx context.Context, ev AuditEvent)
}

// AuditorFunc adapts a function to Auditor.
type AuditorFunc func(ctx context.Context, ev AuditEvent)

// Audit calls f(ctx, ev).
func (f AuditorFunc) Audit(ctx context.Context, ev AuditEvent) { f(ctx, ev) }

// NewSlogAuditor returns an Auditor writing each event as one "audit" record
// at level Info on log, which must not be nil.
func NewSlogAuditor(log *slog.Logger) Auditor {
	return AuditorFunc(func(ctx context.Context, ev AuditEvent) {
		attrs := []slog.Attr{
			slog.Time("time", ev.Time),
			slog.String("tenant", ev.Tenant),
			slog.String("subject", ev.Subject),
			slog.String("action", ev.Action),
			slog.String("room", ev.Room),
			slog.String("target", ev.Target),
			slog.String("outcome", ev.Outcome),
		}
		if ev.Reason != "" {
			attrs = append(attrs, slog.String("reason", ev.Reason))
		}
		if ev.Limit != "" {
			attrs = append(attrs, slog.String("limit", ev.Limit))
		}
		if len(ev.Details) > 0 {
			details := make([]any, 0, len(ev.Details))
			for k, v := range ev.Details {
				details = append(details, slog.String(k, v))
			}
			attrs = append(attrs, slog.Group("details", details...))
		}
		log.LogAttrs(ctx, slog.LevelInfo, "audit", attrs...)
	})
}

type subjectKey struct{}

// WithSubject returns a context naming who acts within the tenant (a user
// id or an API key's name). It is the one way a Manager learns the
// subject: every audit event carries it, [Guests.Admit] and [Guests.Deny]
// check it against the guest's invite, and [Guests.Invite] makes it the
// guest's admin when the request names none. httpx sets it from the
// authenticated Principal.
func WithSubject(ctx context.Context, subject string) context.Context {
	return context.WithValue(ctx, subjectKey{}, subject)
}

// SubjectFrom returns the subject set by WithSubject, or "".
func SubjectFrom(ctx context.Context) string {
	s, _ := ctx.Value(subjectKey{}).(string)
	return s
}

// audit emits ev with its time, subject and outcome filled from ctx and
// err.
func (m *Manager) audit(ctx context.Context, ev AuditEvent, err error) {
	ev.Time = m.now()
	if ev.Subject == "" {
		ev.Subject = SubjectFrom(ctx)
	}
	// A refused request's fields are the caller's, unvalidated: bound them.
	ev.Tenant, ev.Subject, ev.Room, ev.Target = clip(ev.Tenant), clip(ev.Subject), clip(ev.Room), clip(ev.Target)
	for k, v := range ev.Details {
		ev.Details[k] = clip(v)
	}
	ev.Outcome = OutcomeSuccess
	if err != nil {
		ev.Outcome = OutcomeFailed
		for _, kind := range []error{ErrInvalidArgument, ErrUnauthenticated, ErrForbidden, ErrNotFound, ErrConflict, ErrLimited, ErrNotConfigured} {
			if errors.Is(err, kind) {
				ev.Outcome = OutcomeRefused
				break
			}
		}
		var e *Error
		if errors.As(err, &e) {
			ev.Reason, ev.Limit = e.Kind.Error(), e.Limit
		} else {
			ev.Reason = "error"
		}
	}
	m.auditor.Audit(ctx, ev)
}

// maxAuditField bounds each string of an audit event.
const maxAuditField = 256

func clip(s string) string {
	if len(s) <= maxAuditField {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.ToValidUTF8(s[:maxAuditField], "\uFFFD") + "..."
}

// operation describes one Manager operation for run: the context its
// errors get, and the audit event it emits.
type operation struct {
	op                   string // Error.Op
	action               string // AuditEvent.Action; empty for a read, which is not audited
	tenant, room, target string
	// details are known before the body runs, so that even a refusal by
	// the tenant check records them.
	details map[string]string
	// extra lengthens the deadline beyond Config.RequestTimeout: a call's
	// ringing time is the callee's, not LiveKit's.
	extra time.Duration
	// tenantless operations carry their tenant inside the request (a
	// guest's invite): run checks no tenant mode, and the body names the
	// tenant on its record, or drops the record.
	tenantless bool
}

// auditRecord is the audit event of one run, which the body completes:
// Target, Details, or the tenant and room of a tenantless operation.
type auditRecord struct {
	AuditEvent
	dropped bool
}

// set records an action-specific fact (AuditEvent.Details).
func (a *auditRecord) set(key, value string) {
	if a.Details == nil {
		a.Details = map[string]string{}
	}
	a.Details[key] = value
}

// drop skips the event of a tenantless run that acted on no tenant's
// behalf: an invite that does not open (so that junk cannot flood the
// audit trail), a join the guard lets stand.
func (a *auditRecord) drop() { a.dropped = true }

// run is the one way a Manager operation runs: it checks the tenant mode,
// bounds body by the operation's deadline, gives body's error the
// operation's op and room, and emits exactly one audit event for its
// outcome. A room name refused as invalid is not echoed into the error.
// The events of what lkgate does within an operation (a claim, a room it
// creates or deletes) call audit directly.
func (m *Manager) run(ctx context.Context, o operation, body func(context.Context, *auditRecord) error) error {
	a := &auditRecord{AuditEvent: AuditEvent{Tenant: o.tenant, Action: o.action, Room: o.room, Target: o.target, Details: o.details}}
	err := func() error {
		if !o.tenantless {
			if _, err := m.tenantMode(o.tenant); err != nil {
				return err
			}
		}
		ctx := m.withBudget(ctx, m.cfg.RequestTimeout+o.extra)
		defer ctx.cancel()
		return body(ctx, a)
	}()
	if err != nil {
		room := o.room
		if e := (*Error)(nil); errors.As(err, &e) && e.Kind == ErrInvalidArgument && e.Field == "Room" {
			room = ""
		}
		err = withContext(err, o.op, room)
	}
	if o.action != "" && !a.dropped {
		m.audit(ctx, a.AuditEvent, err)
	}
	return err
}

// runResult is run for an operation that returns a value.
func runResult[T any](ctx context.Context, m *Manager, o operation, body func(context.Context, *auditRecord) (T, error)) (T, error) {
	var v T
	err := m.run(ctx, o, func(ctx context.Context, a *auditRecord) (err error) {
		v, err = body(ctx, a)
		return err
	})
	return v, err
}
