package lkgate

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"time"
)

// InviteRequest describes a guest invite for [Guests.Invite].
type InviteRequest struct {
	// Org is the tenant the invite is for. Empty means the caller's
	// tenant; with a tenant, any other Org is refused ([ErrForbidden]). In
	// unauthenticated mode it is recorded as given (empty means the
	// guest's room is not ownership-checked either).
	Org string
	// Room is the room the guest may be admitted to. Required.
	Room string
	// Duration is how long the invite can be redeemed. Zero means
	// [GuestConfig.DefaultInviteDuration]; a duration outside
	// [MinInviteDuration, MaxInviteDuration], or negative, is refused.
	Duration time.Duration
	// AllowAll lets every admin of the tenant admit or deny the guest.
	AllowAll bool
	// AllowedAdmins are the subjects who may admit or deny the guest when
	// AllowAll is false. Empty means the inviting subject alone (the
	// caller's [WithSubject]); a caller without a subject must then name
	// the admins or set AllowAll ([ErrInvalidArgument] on AllowedAdmins).
	AllowedAdmins []string
}

// Invite is a guest invite, as [Guests.Invite] returns it.
type Invite struct {
	// URL is [GuestConfig.InviteBaseURL] + "/join?invite_token=" + Token.
	// Treat it as a secret: it is the guest's credential until it expires.
	URL string
	// Token is the encrypted invite (a compact JWE).
	Token     string
	ExpiresAt time.Time
}

// String describes the invite without its URL and token, which are the
// guest's credential (see [Token.String]).
func (i Invite) String() string {
	return fmt.Sprintf("lkgate.Invite{URL: [REDACTED], Token: [REDACTED], ExpiresAt: %s}", i.ExpiresAt.Format(time.RFC3339))
}

// GoString is String, so that %#v does not print the token either.
func (i Invite) GoString() string { return i.String() }

// Format prints String for every verb, so that none reaches the token.
func (i Invite) Format(f fmt.State, verb rune) { formatRedacted(f, verb, i.String()) }

// LogValue logs the invite without its URL and token.
func (i Invite) LogValue() slog.Value {
	return slog.GroupValue(slog.String("url", "[REDACTED]"), slog.String("token", "[REDACTED]"), slog.Time("expires_at", i.ExpiresAt))
}

// MarshalJSON encodes the invite without its URL and token, as LogValue
// logs it. To hand the invite to its guest, encode i.URL itself.
func (i Invite) MarshalJSON() ([]byte, error) { return marshalLogValue(i.LogValue()) }

// Invite creates a guest invite for req.Room on behalf of the caller's
// subject ([WithSubject]), who alone may admit the guest unless req names
// the admins or allows all; under SharedNames the room must be the
// tenant's (it is claimed if missing, as for [Manager.Token]).
//
// Errors: [ErrInvalidArgument] (Field names the InviteRequest field) before
// any LiveKit call; [ErrForbidden] for another tenant's Org; [ErrNotFound]
// for another tenant's room; [ErrUnauthenticated]; [ErrLimited]; LiveKit
// failures as for [Manager.Token].
func (g *Guests) Invite(ctx context.Context, tenant string, req InviteRequest) (*Invite, error) {
	m := g.m
	return runResult(ctx, m, operation{op: "guest invite", action: ActionGuestInvite, tenant: tenant, room: req.Room}, func(ctx context.Context, a *auditRecord) (*Invite, error) {
		ref, err := m.resolve(tenant, req.Room)
		if err != nil {
			return nil, err
		}
		if ref.checked() && req.Org == "" {
			req.Org = tenant
		}
		ttl, admins, err := req.validate(&g.cfg, SubjectFrom(ctx))
		if err != nil {
			return nil, err
		}
		if ref.checked() && req.Org != tenant {
			return nil, &Error{Kind: ErrForbidden, Field: "Org", Msg: "must be your own tenant (or left out)"}
		}
		if err := m.allowFor(ctx, tenant, LimitInviteRate, func(l Limits) Rate { return l.InviteRate }); err != nil {
			return nil, err
		}
		if m.cfg.RoomNames == SharedNames && ref.checked() {
			if err := m.prepareRoom(ctx, ref, false, nil); err != nil {
				return nil, masked(err)
			}
		}
		now := m.now()
		exp := now.Add(ttl).Unix()
		tok, err := g.seal(sealed{
			Typ: sealedInvite, Iss: sealedIssuer, Org: req.Org, Room: req.Room,
			AllowAll: req.AllowAll, Admins: admins,
			Iat: now.Unix(), Exp: &exp, Jti: randomID(),
		})
		if err != nil {
			return nil, &Error{Kind: ErrUpstream, Msg: "encrypting the invite failed"}
		}
		m.log.InfoContext(ctx, "guest invite created", "tenant", tenant, "room", req.Room, "expires", time.Unix(exp, 0))
		expires := time.Unix(exp, 0).UTC()
		a.set("expires_at", expires.Format(time.RFC3339))
		return &Invite{
			URL:       g.baseURL + "/join?" + url.Values{"invite_token": {tok}}.Encode(),
			Token:     tok,
			ExpiresAt: expires,
		}, nil
	})
}

// validate checks r against cfg and returns the invite's lifetime and its
// admins: r.AllowedAdmins, or subject when it names none and AllowAll is
// off.
func (r *InviteRequest) validate(cfg *GuestConfig, subject string) (time.Duration, []string, error) {
	if err := validateOptionalText("Org", r.Org, MaxTenantBytes); err != nil {
		return 0, nil, err
	}
	if len(r.AllowedAdmins) > MaxAllowedAdmins {
		return 0, nil, invalidArg("AllowedAdmins", "has %d entries; the limit is %d", len(r.AllowedAdmins), MaxAllowedAdmins)
	}
	for _, a := range r.AllowedAdmins {
		if err := validateText("AllowedAdmins", a, MaxAdminBytes); err != nil {
			return 0, nil, err
		}
	}
	admins := slices.Clone(r.AllowedAdmins)
	if !r.AllowAll && len(admins) == 0 {
		// Never widened to every admin: a caller with no subject must say
		// who may admit.
		if subject == "" {
			return 0, nil, invalidArg("AllowedAdmins", "names nobody, not every admin is allowed, and the caller has no subject to default to: name the admins or allow all")
		}
		if err := validateText("AllowedAdmins", subject, MaxAdminBytes); err != nil {
			return 0, nil, invalidArg("AllowedAdmins", "names nobody, and the caller's subject cannot stand in (an admin is a name of at most %d bytes): name the admins or allow all", MaxAdminBytes)
		}
		admins = []string{subject}
	}
	switch d := r.Duration; {
	case d < 0:
		return 0, nil, invalidArg("Duration", "must not be negative")
	case d == 0:
		return cfg.DefaultInviteDuration, admins, nil
	case d < cfg.MinInviteDuration:
		return 0, nil, invalidArg("Duration", "is below the minimum of %s (%d seconds)", cfg.MinInviteDuration, int64(cfg.MinInviteDuration/time.Second))
	case d > cfg.MaxInviteDuration:
		return 0, nil, invalidArg("Duration", "is above the maximum of %s (%d seconds)", cfg.MaxInviteDuration, int64(cfg.MaxInviteDuration/time.Second))
	}
	return r.Duration, admins, nil
}
