package lkgate

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/twitchtv/twirp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
)

// SIPService is the part of LiveKit's SIP API that lkgate calls.
// *lksdk.SIPClient satisfies it, and so does the client of an
// lkgatetest.Server.
type SIPService interface {
	CreateSIPParticipant(ctx context.Context, req *livekit.CreateSIPParticipantRequest) (*livekit.SIPParticipantInfo, error)
	TransferSIPParticipant(ctx context.Context, req *livekit.TransferSIPParticipantRequest) (*emptypb.Empty, error)
}

var _ SIPService = (*lksdk.SIPClient)(nil)

// SIP places outbound calls into tenants' rooms and transfers them, with
// the tenant checks, limits and audit events of its [Manager]. It is safe
// for concurrent use.
type SIP struct {
	m   *Manager
	cfg SIPConfig
	svc SIPService // behind m's breaker
}

// Manager returns the Manager s was built from.
func (s *SIP) Manager() *Manager { return s.m }

// NewSIP returns the SIP calls of m, configured by cfg. It makes no network
// call. Errors wrap [ErrInvalidArgument] and name the faulty field, such as
// "SIPConfig.Trunks".
func NewSIP(m *Manager, cfg SIPConfig) (*SIP, error) {
	if m == nil {
		return nil, invalidArg("Manager", "is required")
	}
	if cfg.Trunks == nil {
		return nil, invalidArg("SIPConfig.Trunks", "is required: it chooses the outbound trunk of each tenant")
	}
	svc := cfg.Service
	if svc == nil {
		svc = lksdk.NewSIPClient(m.cfg.URL, m.cfg.APIKey, m.cfg.APISecret)
	}
	return &SIP{m: m, cfg: cfg, svc: guardedSIP{svc, m.breaker}}, nil
}

// MaxRingingTimeout is the longest RingingTimeout a call may ask for.
const MaxRingingTimeout = 2 * time.Minute

// defaultRingingTimeout is LiveKit's ringing timeout when a call sets none.
const defaultRingingTimeout = 30 * time.Second

// CallRequest describes an outbound call that joins a room as a SIP
// participant.
type CallRequest struct {
	// Room is the room the callee joins; it is created and claimed for the
	// tenant if it does not exist. Required.
	Room string
	// Identity is the SIP participant's identity in the room. Required.
	Identity string
	// Name is the SIP participant's display name.
	Name string
	// From is the caller number shown to the callee (E.164). Empty means
	// one of the trunk's numbers, picked by LiveKit; any other number needs
	// the approval of [SIPConfig].AllowCallerID.
	From string
	// To is the number dialed (E.164, such as "+4930123456"). Required.
	To string
	// WaitUntilAnswered makes Call return only once the callee answers, so
	// that busy, declined and unanswered calls are reported as errors.
	// Otherwise Call returns as soon as the call is placed.
	WaitUntilAnswered bool
	// RingingTimeout is how long the callee's phone may ring. Zero means
	// LiveKit's default (30 s); at most [MaxRingingTimeout].
	RingingTimeout time.Duration
}

func (r CallRequest) validate() error {
	if err := validateText("Identity", r.Identity, MaxIdentityBytes); err != nil {
		return err
	}
	if err := validateOptionalText("Name", r.Name, MaxNameBytes); err != nil {
		return err
	}
	if r.From != "" {
		if err := validateE164("From", r.From); err != nil {
			return err
		}
	}
	if err := validateE164("To", r.To); err != nil {
		return err
	}
	if r.RingingTimeout < 0 || r.RingingTimeout > MaxRingingTimeout {
		return invalidArg("RingingTimeout", "must be between 0 and %s", MaxRingingTimeout)
	}
	return nil
}

// Call is a placed outbound call.
type Call struct {
	Room     string
	Identity string
	// ParticipantSID is the SIP participant's sid in the room.
	ParticipantSID string
	// SIPCallID is LiveKit's id of the call ("SCL_...").
	SIPCallID string
	// Answered is true when the call waited for, and got, an answer.
	Answered bool
}

// Call dials req.To through the tenant's outbound trunk
// ([SIPConfig.Trunks]) into req.Room, which it creates or claims for the
// tenant first, after checking the numbers against [SIPConfig] and the
// tenant's limits.
//
// Errors: [ErrInvalidArgument] naming the field; [ErrForbidden] for a
// tenant without a trunk, a refused destination (Field "To") or caller
// number (Field "From"), or an identity banned from the room (Field
// "Identity", [Manager.Ban]); [ErrNotFound] for another tenant's shared name;
// [ErrCallInProgress] while a call to the same room and identity holds its
// slot; [ErrLimited]; [ErrNotConfigured] for a trunk LiveKit does not know
// or a LiveKit whose SIP service is not connected; with WaitUntilAnswered,
// [ErrBusy], [ErrDeclined], [ErrNoAnswer] or [ErrCallFailed] carrying the
// SIP status.
func (s *SIP) Call(ctx context.Context, tenant string, req CallRequest) (*Call, error) {
	o := operation{op: "call", action: ActionSIPCall, tenant: tenant, room: req.Room, target: req.Identity,
		details: map[string]string{"to": req.To}}
	if req.From != "" { // else the trunk's number
		o.details["from"] = req.From
	}
	if req.WaitUntilAnswered {
		o.extra = cmp.Or(req.RingingTimeout, defaultRingingTimeout) // the callee's time, not LiveKit's
	}
	m := s.m
	return runResult(ctx, m, o, func(ctx context.Context, a *auditRecord) (*Call, error) {
		ref, err := m.resolve(tenant, req.Room)
		if err != nil {
			return nil, err
		}
		if err := req.validate(); err != nil {
			return nil, err
		}
		if allow := s.cfg.AllowDestination; allow != nil && !allow(tenant, req.To) {
			return nil, &Error{Kind: ErrForbidden, Field: "To", Msg: "this number may not be dialed"}
		}
		if allow := s.cfg.AllowCallerID; req.From != "" && (allow == nil || !allow(tenant, req.From)) {
			return nil, &Error{Kind: ErrForbidden, Field: "From", Msg: "this caller number may not be presented (leave it empty to present the trunk's)"}
		}
		if err := m.checkBan(ctx, ref, req.Identity); err != nil {
			return nil, err
		}
		trunk, err := s.trunk(ctx, tenant)
		if err != nil {
			return nil, err
		}
		slot, release, err := m.takeCallSlot(ctx, tenant, ref.lk, req.Identity)
		if err != nil {
			return nil, err
		}
		lkreq := &livekit.CreateSIPParticipantRequest{
			SipTrunkId:          trunk,
			SipCallTo:           req.To,
			SipNumber:           req.From,
			RoomName:            ref.lk,
			ParticipantIdentity: req.Identity,
			ParticipantName:     req.Name,
			WaitUntilAnswered:   req.WaitUntilAnswered,
		}
		if req.RingingTimeout > 0 {
			lkreq.RingingTimeout = durationpb.New(req.RingingTimeout)
		}
		// LiveKit would create a missing room for the call with its defaults;
		// creating it first gives it Config.Room, and claims a shared name.
		if err := m.prepareRoom(ctx, ref, true, nil); err != nil {
			release()
			return nil, masked(err)
		}
		attrs := map[string]string{}
		if ref.checked() {
			attrs[TenantAttribute] = tenant
		}
		if slot != nil {
			attrs[CallAttribute] = slot.id
		}
		if len(attrs) > 0 {
			lkreq.ParticipantAttributes = attrs
		}
		info, err := s.svc.CreateSIPParticipant(ctx, lkreq)
		if err != nil {
			release()
			err = sipError("call", req.Room, err)
			m.logFailure(ctx, slog.LevelInfo, "call failed", err, slog.String("room", req.Room), slog.String("tenant", tenant))
			return nil, err
		}
		m.log.InfoContext(ctx, "call placed", "room", req.Room, "tenant", tenant, "sip_call_id", info.GetSipCallId())
		a.set("sip_call_id", info.GetSipCallId())
		return &Call{
			Room: ref.name, Identity: info.GetParticipantIdentity(), ParticipantSID: info.GetParticipantId(),
			SIPCallID: info.GetSipCallId(), Answered: req.WaitUntilAnswered,
		}, nil
	})
}

// trunk asks the policy for the tenant's trunk.
func (s *SIP) trunk(ctx context.Context, tenant string) (string, error) {
	id, err := s.cfg.Trunks.OutboundTrunk(ctx, tenant)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return "", e
		}
		s.m.logFailure(ctx, slog.LevelWarn, "trunk policy failed", err, slog.String("tenant", tenant))
		return "", &Error{Kind: ErrUnavailable, Msg: "the outbound trunk could not be resolved"}
	}
	if id == "" || strings.ContainsFunc(id, isControlOrSpace) {
		return "", &Error{Kind: ErrNotConfigured, Msg: "the trunk policy returned no valid trunk id"}
	}
	return id, nil
}

// TransferRequest asks for a SIP participant's call to be transferred.
type TransferRequest struct {
	Room     string
	Identity string
	// TransferTo is an E.164 number (sent as a tel: URI), a tel: URI, or a
	// sip: URI if [SIPConfig].AllowSIPTransfer approves it.
	TransferTo string
}

// sipURI is a sip: or sips: URI without a display name or angle brackets:
// optional user info, a host name or IPv4 address, an optional port and
// URI parameters. Anything that could end the Refer-To header (spaces,
// '<', '>', '"', line breaks) is refused: LiveKit copies the target into
// the header as it is.
var sipURI = regexp.MustCompile(`^sips?:([A-Za-z0-9\-_.!~*'()&=+$,;?/%]+@)?[A-Za-z0-9]([A-Za-z0-9\-.]*[A-Za-z0-9])?(:[0-9]{1,5})?(;[A-Za-z0-9\-_.!~*'()&=+$%]+)*$`)

// maxTransferTarget bounds transfer targets; real ones are far shorter.
const maxTransferTarget = 256

// validate checks TransferTo and returns it as sent in the REFER:
// "tel:+E164" for a number (given bare or as a tel: URI), or a sip: URI
// unchanged. number is the E.164 number of a tel: target, empty for a sip:
// URI, and tells which policy applies.
func (r TransferRequest) validate() (target, number string, err error) {
	to := r.TransferTo
	const field = "TransferTo"
	if to == "" {
		return "", "", invalidArg(field, "is required")
	}
	if len(to) > maxTransferTarget {
		return "", "", invalidArg(field, "is %d bytes long; the limit is %d", len(to), maxTransferTarget)
	}
	lower := strings.ToLower(to)
	switch {
	case strings.HasPrefix(to, "+"):
		if err := validateE164(field, to); err != nil {
			return "", "", err
		}
		return "tel:" + to, to, nil
	case strings.HasPrefix(lower, "tel:"):
		n := to[len("tel:"):]
		if !e164.MatchString(n) {
			return "", "", invalidArg(field, "a tel: URI must hold an E.164 number such as tel:+4930123456")
		}
		return "tel:" + n, n, nil
	case strings.HasPrefix(lower, "sip:"), strings.HasPrefix(lower, "sips:"):
		if !sipURI.MatchString(to) {
			return "", "", invalidArg(field, "is not a valid sip: URI (give it without display name or angle brackets)")
		}
		return to, "", nil
	}
	return "", "", invalidArg(field, "must be an E.164 number, a tel: URI or a sip: URI")
}

// Transfer transfers the call of a SIP participant in the tenant's room (a
// SIP REFER) and returns the target as sent, such as "tel:+4930123456",
// once LiveKit reports the new call connected.
//
// Errors: [ErrInvalidArgument] naming the field; [ErrForbidden] for a
// refused target; [ErrNotFound] for a missing or foreign room or an unknown
// participant; [ErrConflict] for a participant that is not on a SIP call;
// [ErrTransferRefused] when the far end refuses the REFER;
// [ErrTransferFailed] when the transfer was attempted and failed.
func (s *SIP) Transfer(ctx context.Context, tenant string, req TransferRequest) (string, error) {
	o := operation{op: "transfer call", action: ActionSIPTransfer, tenant: tenant, room: req.Room, target: req.Identity}
	return runResult(ctx, s.m, o, func(ctx context.Context, a *auditRecord) (string, error) {
		m := s.m
		target, number, terr := req.validate()
		if terr == nil {
			a.set("transfer_to", target) // only a valid target: it cannot carry a password
		}
		if _, err := m.resolve(tenant, req.Room); err != nil {
			return "", err
		}
		if terr != nil {
			return "", terr
		}
		if number != "" {
			if allow := s.cfg.AllowDestination; allow != nil && !allow(tenant, number) {
				return "", &Error{Kind: ErrForbidden, Field: "TransferTo", Msg: "this number may not be dialed"}
			}
		} else if allow := s.cfg.AllowSIPTransfer; allow == nil || !allow(tenant, target) {
			return "", &Error{Kind: ErrForbidden, Field: "TransferTo", Msg: "transfers to this SIP URI are not allowed"}
		}
		ref, p, err := m.participant(ctx, tenant, req.Room, req.Identity, o.op)
		if err != nil {
			return "", err
		}
		if p.GetKind() != livekit.ParticipantInfo_SIP {
			return "", &Error{Kind: ErrConflict, Field: "Identity", Msg: "the participant is not on a SIP call"}
		}
		_, err = s.svc.TransferSIPParticipant(ctx, &livekit.TransferSIPParticipantRequest{
			RoomName: ref.lk, ParticipantIdentity: req.Identity, TransferTo: target,
		})
		if err != nil {
			err = sipError(o.op, req.Room, err)
			m.logFailure(ctx, slog.LevelInfo, "transfer failed", err, slog.String("room", req.Room), slog.String("tenant", tenant))
			return "", err
		}
		m.log.InfoContext(ctx, "call transferred", "room", req.Room, "tenant", tenant, "identity", req.Identity)
		return target, nil
	})
}

// sipError converts an error of CreateSIPParticipant or
// TransferSIPParticipant. Call outcomes are classified by the SIP status
// LiveKit attaches (its gRPC code for a busy callee is "unavailable", which
// would otherwise read as LiveKit being down); transfer outcomes, which
// livekit-sip v1.0.0 reports without a SIP status, by code.
func sipError(op, room string, err error) error {
	out := fromLiveKit(op, room, err)
	var e *Error
	if !errors.As(out, &e) {
		return out
	}
	code, msg, remote := liveKitCode(err)
	transfer := op != "call"
	switch {
	case !remote:
		return e // our own deadline or cancellation, or the network
	case code == twirp.Internal && strings.Contains(msg, "sip not connected"):
		// The only sign of a LiveKit without SIP (no Redis) is this message.
		e.Kind, e.Msg = ErrNotConfigured, "LiveKit's SIP service is not connected (it needs Redis and livekit-sip)"
	case transfer && code == twirp.Canceled:
		// A failing NOTIFY, and also livekit-sip v1.0.0 losing the far
		// end's answer to its REFER in a race: either way the call was not
		// transferred and stays up.
		e.Kind, e.Msg = ErrTransferFailed, "the transfer failed after the far end was asked to make it"
	case transfer && code == twirp.DeadlineExceeded:
		e.Kind, e.Msg = ErrTransferFailed, "the far end did not answer the transfer request"
	case transfer && (code == twirp.PermissionDenied || e.SIPStatus >= 300):
		e.Kind, e.Msg = ErrTransferRefused, "the far end refused the transfer"
	case transfer && code == twirp.NotFound:
		e.Kind, e.Msg = ErrNotFound, "participant not found"
	case !transfer && e.SIPStatus != 0:
		e.Msg, e.Kind = callOutcome(e.SIPStatus)
	case !transfer && code == twirp.NotFound:
		// CreateSIPParticipant creates missing rooms, so only the trunk
		// can be missing.
		e.Kind, e.Msg = ErrNotConfigured, "the tenant's outbound trunk does not exist in LiveKit"
	case !transfer && code == twirp.Canceled:
		// LiveKit cancels the INVITE when the ringing timeout ends.
		e.Kind, e.Msg = ErrNoAnswer, "the callee did not answer"
	}
	return e
}

// callOutcome classifies the SIP status of a failed call: a message and
// the sentinel it matches.
func callOutcome(sipStatus int) (string, error) {
	switch sipStatus {
	case 486, 600:
		return "the callee is busy", ErrBusy
	case 403, 603, 607, 608:
		return "the callee declined the call", ErrDeclined
	case 408, 480, 487:
		return "the callee did not answer", ErrNoAnswer
	}
	return "the call failed at the far end", ErrCallFailed
}
