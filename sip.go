package lkgate

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/utils/xtwirp"
	"github.com/livekit/protocol/webhook"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/twitchtv/twirp"
	"google.golang.org/grpc/status"
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
	// the approval of Config.SIP.AllowCallerID.
	From string
	// To is the number dialed (E.164, such as "+4930123456"). Required.
	To string
	// WaitUntilAnswered makes Call return only once the callee answers, so
	// that busy, declined and unanswered calls are reported as errors.
	// Otherwise Call returns as soon as the call is placed.
	WaitUntilAnswered bool
	// RingingTimeout is how long the callee's phone may ring. Zero means
	// LiveKit's default (30 s); at most MaxRingingTimeout.
	RingingTimeout time.Duration
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

// Call dials req.To through the tenant's outbound trunk and brings the
// callee into req.Room as a SIP participant carrying TenantAttribute.
//
// Everything is checked before LiveKit is called: the numbers (E.164), the
// destination (Config.SIP.AllowDestination), the caller number
// (Config.SIP.AllowCallerID), the trunk (Config.SIP.Trunks) and the
// tenant's limits. Under Limits.MaxConcurrentSIPCalls a call holds a slot
// of its own until its SIP participant leaves, and a call to a room and
// identity whose call still holds its slot is refused rather than dialed:
// LiveKit would replace that participant, hanging up its call. Then the
// room is created with Config.Room (under ScopedNames, one idempotent
// CreateRoom in the tenant's namespace; under SharedNames, ensured and
// claimed exactly as for a token), so that nothing is ever dialed into
// another tenant's room, and the call is placed (CreateSIPParticipant).
//
// Errors: ErrNotConfigured without SIP configuration, for a trunk LiveKit
// does not know, or when LiveKit's SIP service is not connected;
// ErrInvalidArgument naming the field; ErrForbidden for a tenant without a
// trunk, or a refused destination (Field "To") or caller number (Field
// "From"); ErrNotFound for another tenant's shared name; ErrCallInProgress
// for the room and identity of a call in progress; ErrLimited; with
// WaitUntilAnswered, ErrBusy, ErrDeclined, ErrNoAnswer or ErrCallFailed
// carrying the SIP status.
func (m *Manager) Call(ctx context.Context, tenant string, req CallRequest) (*Call, error) {
	call, err := m.call(ctx, tenant, req)
	ev := AuditEvent{Tenant: tenant, Action: ActionSIPCall, Room: req.Room, Target: req.Identity,
		Details: map[string]string{"to": req.To}}
	if req.From != "" { // else the trunk's number
		ev.Details["from"] = req.From
	}
	if call != nil {
		ev.Details["sip_call_id"] = call.SIPCallID
	}
	m.audit(ctx, ev, err)
	return call, err
}

func (m *Manager) call(ctx context.Context, tenant string, req CallRequest) (*Call, error) {
	budget := m.cfg.RequestTimeout
	if req.WaitUntilAnswered {
		// Ringing is the callee's time, not LiveKit's.
		budget += cmp.Or(req.RingingTimeout, defaultRingingTimeout)
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	const op = "call"
	if m.cfg.SIP.Trunks == nil {
		return nil, errSIPOff(op, req.Room)
	}
	ref, err := m.resolve(tenant, req.Room)
	if err != nil {
		return nil, withContext(err, op, req.Room)
	}
	if err := validateCall(req); err != nil {
		return nil, withContext(err, op, req.Room)
	}
	if allow := m.cfg.SIP.AllowDestination; allow != nil && !allow(tenant, req.To) {
		return nil, &Error{Kind: ErrForbidden, Op: op, Room: req.Room, Field: "To", Msg: "this number may not be dialed"}
	}
	if allow := m.cfg.SIP.AllowCallerID; req.From != "" && (allow == nil || !allow(tenant, req.From)) {
		return nil, &Error{Kind: ErrForbidden, Op: op, Room: req.Room, Field: "From", Msg: "this caller number may not be presented (leave it empty to present the trunk's)"}
	}
	trunk, err := m.trunk(ctx, tenant)
	if err != nil {
		return nil, withContext(err, op, req.Room)
	}
	slot, release, err := m.takeCallSlot(ctx, tenant, ref.lk, req.Identity)
	if err != nil {
		return nil, withContext(err, op, req.Room)
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
		return nil, withContext(masked(err), op, req.Room)
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
	info, err := m.sip.CreateSIPParticipant(ctx, lkreq)
	if err != nil {
		release()
		err = sipError(op, req.Room, err)
		m.logFailure(ctx, slog.LevelInfo, "call failed", err, slog.String("room", req.Room), slog.String("tenant", tenant))
		return nil, err
	}
	m.log.InfoContext(ctx, "call placed", "room", req.Room, "tenant", tenant, "sip_call_id", info.GetSipCallId())
	return &Call{
		Room: ref.name, Identity: info.GetParticipantIdentity(), ParticipantSID: info.GetParticipantId(),
		SIPCallID: info.GetSipCallId(), Answered: req.WaitUntilAnswered,
	}, nil
}

func validateCall(req CallRequest) error {
	if err := validateText("Identity", req.Identity, MaxIdentityBytes); err != nil {
		return err
	}
	if err := validateOptionalText("Name", req.Name, MaxNameBytes); err != nil {
		return err
	}
	if req.From != "" {
		if err := validateE164("From", req.From); err != nil {
			return err
		}
	}
	if err := validateE164("To", req.To); err != nil {
		return err
	}
	if req.RingingTimeout < 0 || req.RingingTimeout > MaxRingingTimeout {
		return invalidArg("RingingTimeout", "must be between 0 and %s", MaxRingingTimeout)
	}
	return nil
}

// trunk asks the policy for the tenant's trunk.
func (m *Manager) trunk(ctx context.Context, tenant string) (string, error) {
	id, err := m.cfg.SIP.Trunks.OutboundTrunk(ctx, tenant)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return "", e
		}
		m.logFailure(ctx, slog.LevelWarn, "trunk policy failed", err, slog.String("tenant", tenant))
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
	// sip: URI if Config.SIP.AllowSIPTransfer approves it.
	TransferTo string
}

// TransferCall transfers the call of a SIP participant in the tenant's room
// (a SIP REFER) and returns the target as sent, such as "tel:+4930123456".
// It returns only once LiveKit reports the transfer complete: the far end
// accepted the REFER and reported the new call connected.
//
// LiveKit calls: GetParticipant, TransferSIPParticipant (and ListRooms
// first, under SharedNames).
// Errors: ErrNotConfigured without SIP configuration; ErrInvalidArgument
// naming the field; ErrForbidden for a refused target; ErrNotFound for a
// missing or foreign room or an unknown participant; ErrConflict for a
// participant that is not on a SIP call; ErrTransferRefused when the far
// end refuses the REFER; ErrTransferFailed when the transfer was attempted
// and failed.
func (m *Manager) TransferCall(ctx context.Context, tenant string, req TransferRequest) (string, error) {
	target, err := m.transferCall(ctx, tenant, req)
	ev := AuditEvent{Tenant: tenant, Action: ActionSIPTransfer, Room: req.Room, Target: req.Identity}
	// Only a valid target is recorded: it cannot carry a password.
	if t, _, terr := transferTarget(req.TransferTo); terr == nil {
		ev.Details = map[string]string{"transfer_to": t}
	}
	m.audit(ctx, ev, err)
	return target, err
}

func (m *Manager) transferCall(ctx context.Context, tenant string, req TransferRequest) (string, error) {
	ctx, cancel := m.withDeadline(ctx)
	defer cancel()
	const op = "transfer call"
	if m.cfg.SIP.Trunks == nil {
		return "", errSIPOff(op, req.Room)
	}
	if _, err := m.resolve(tenant, req.Room); err != nil {
		return "", withContext(err, op, req.Room)
	}
	target, number, err := transferTarget(req.TransferTo)
	if err != nil {
		return "", withContext(err, op, req.Room)
	}
	if number != "" {
		if allow := m.cfg.SIP.AllowDestination; allow != nil && !allow(tenant, number) {
			return "", &Error{Kind: ErrForbidden, Op: op, Room: req.Room, Field: "TransferTo", Msg: "this number may not be dialed"}
		}
	} else if allow := m.cfg.SIP.AllowSIPTransfer; allow == nil || !allow(tenant, target) {
		return "", &Error{Kind: ErrForbidden, Op: op, Room: req.Room, Field: "TransferTo", Msg: "transfers to this SIP URI are not allowed"}
	}
	ref, p, err := m.participant(ctx, tenant, req.Room, req.Identity, op)
	if err != nil {
		return "", err
	}
	if p.GetKind() != livekit.ParticipantInfo_SIP {
		return "", &Error{Kind: ErrConflict, Op: op, Room: req.Room, Field: "Identity", Msg: "the participant is not on a SIP call"}
	}
	_, err = m.sip.TransferSIPParticipant(ctx, &livekit.TransferSIPParticipantRequest{
		RoomName: ref.lk, ParticipantIdentity: req.Identity, TransferTo: target,
	})
	if err != nil {
		err = sipError(op, req.Room, err)
		m.logFailure(ctx, slog.LevelInfo, "transfer failed", err, slog.String("room", req.Room), slog.String("tenant", tenant))
		return "", err
	}
	m.log.InfoContext(ctx, "call transferred", "room", req.Room, "tenant", tenant, "identity", req.Identity)
	return target, nil
}

func errSIPOff(op, room string) error {
	return &Error{Kind: ErrNotConfigured, Op: op, Room: room, Msg: "SIP is not configured (Config.SIP.Trunks is nil)"}
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
	code, msg, remote := upstreamCode(err)
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

// upstreamCode returns the code, as twirp spells it, and message of an
// error LiveKit answered with; remote is false for errors of our own
// (context, network).
func upstreamCode(err error) (code twirp.ErrorCode, msg string, remote bool) {
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

// CallAttribute is set on the SIP participant of a call that holds a
// concurrent-call slot (Limits.MaxConcurrentSIPCalls): the call's own id,
// by which ReleaseCall frees that call's slot and no other.
const CallAttribute = reservedAttributePrefix + "call"

// callSlot is one call's hold on its tenant's concurrent calls: one of the
// tenant's slots (key, held by room, identity and call id) and the only
// slot of its room and identity (line, held by the call id), which makes a
// second call to the same participant a refusal rather than a replacement.
type callSlot struct{ tenant, room, identity, id string }

func (s callSlot) key() string    { return limitKey(LimitMaxConcurrentSIPCalls, s.tenant) }
func (s callSlot) holder() string { return s.room + "\x00" + s.identity + "\x00" + s.id }
func (s callSlot) line() string   { return s.key() + "\x00" + s.room + "\x00" + s.identity }

// takeCallSlot takes a slot for a call to identity in the LiveKit room
// room, under the tenant's MaxConcurrentSIPCalls (slot is nil without that
// limit), then one event of its call rate, so that a call refused by the
// rate holds no slot. release frees the slot of a call that did not start.
func (m *Manager) takeCallSlot(ctx context.Context, tenant, room, identity string) (slot *callSlot, release func(), err error) {
	l, err := m.limitsOf(ctx, tenant)
	if err != nil {
		return nil, nil, err
	}
	release = func() {}
	if l.MaxConcurrentSIPCalls > 0 {
		s := callSlot{tenant: tenant, room: room, identity: identity, id: rand.Text()}
		if err := m.acquireCall(ctx, s, l.MaxConcurrentSIPCalls); err != nil {
			return nil, nil, err
		}
		slot, release = &s, func() { m.freeCallSlot(ctx, s) }
	}
	if err := m.allow(ctx, tenant, LimitSIPCallRate, l.SIPCallRate); err != nil {
		release()
		return nil, nil, err
	}
	return slot, release, nil
}

// acquireCall takes s's line, then one of the tenant's max slots. Before
// either refuses, the settled slots are reconciled with LiveKit.
func (m *Manager) acquireCall(ctx context.Context, s callSlot, max int) error {
	acquire := func(key, holder string, n int, line *callSlot) (bool, error) {
		ok, err := m.limits.Acquire(ctx, key, holder, n, sipCallLease)
		if err == nil && !ok && m.reconcileCalls(ctx, s.tenant, line) {
			ok, err = m.limits.Acquire(ctx, key, holder, n, sipCallLease)
		}
		return ok, err
	}
	ok, err := acquire(s.line(), s.id, 1, &s)
	if err != nil {
		return m.limitStoreError(ctx, LimitMaxConcurrentSIPCalls, err)
	}
	if !ok {
		return &Error{Kind: ErrCallInProgress, Field: "Identity", Msg: "a call to this participant is in progress; it must end before another is placed"}
	}
	ok, err = acquire(s.key(), s.holder(), max, nil)
	if err != nil || !ok {
		m.freeCallSlot(ctx, s)
	}
	if err != nil {
		return m.limitStoreError(ctx, LimitMaxConcurrentSIPCalls, err)
	}
	if !ok {
		return limited(LimitMaxConcurrentSIPCalls, QuotaRetryAfter,
			"the tenant has %d SIP calls in progress, its limit (max_concurrent_sip_calls)", max)
	}
	return nil
}

// releaseCallSlot frees both of s's slots; freeing a free slot is no error.
func (m *Manager) releaseCallSlot(ctx context.Context, s callSlot) error {
	return errors.Join(m.limits.Release(ctx, s.key(), s.holder()), m.limits.Release(ctx, s.line(), s.id))
}

// freeCallSlot frees s's slots for a call that did not start, even if
// ctx is done; a failure leaves them to their lease or a reconcile.
func (m *Manager) freeCallSlot(ctx context.Context, s callSlot) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := m.releaseCallSlot(ctx, s); err != nil {
		m.logFailure(ctx, slog.LevelWarn, "could not release a SIP call slot; its lease will expire", err)
	}
}

// callSettle is how old a slot must be before a reconcile may free it: a
// call being dialed (ringing up to MaxRingingTimeout) may not have joined
// its room yet.
const callSettle = MaxRingingTimeout + time.Minute

// reconcileCalls frees the slots of calls whose participant is gone, which
// a lost or unconfigured participant_left webhook leaves held: the
// tenant's settled slots and, when line is set, the settled holder of its
// room and identity (a release that failed halfway may leave it alone). A
// call is gone when no participant of its room carries its CallAttribute.
// It runs only when a call is about to be refused, and costs one
// ListParticipants per room with a settled slot. It reports whether it
// freed any.
func (m *Manager) reconcileCalls(ctx context.Context, tenant string, line *callSlot) bool {
	settledBefore := m.now().Add(sipCallLease - callSettle)
	calls := map[callSlot]bool{}
	held, err := m.limits.Holders(ctx, limitKey(LimitMaxConcurrentSIPCalls, tenant))
	if err != nil {
		return false
	}
	for holder, expires := range held {
		room, rest, ok := strings.Cut(holder, "\x00")
		identity, id, ok2 := strings.Cut(rest, "\x00")
		if ok && ok2 && expires.Before(settledBefore) {
			calls[callSlot{tenant: tenant, room: room, identity: identity, id: id}] = true
		}
	}
	if line != nil {
		ids, err := m.limits.Holders(ctx, line.line())
		if err != nil {
			return false
		}
		for id, expires := range ids {
			if expires.Before(settledBefore) {
				calls[callSlot{tenant: tenant, room: line.room, identity: line.identity, id: id}] = true
			}
		}
	}
	byRoom := map[string][]callSlot{}
	for s := range calls {
		byRoom[s.room] = append(byRoom[s.room], s)
	}
	freed := false
	for room, slots := range byRoom {
		res, err := m.rooms.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: room})
		if err != nil && !errors.Is(fromLiveKit("list participants", room, err), ErrNotFound) {
			continue
		}
		live := map[string]bool{}
		for _, p := range res.GetParticipants() {
			if id := p.GetAttributes()[CallAttribute]; id != "" {
				live[p.GetIdentity()+"\x00"+id] = true
			}
		}
		for _, s := range slots {
			if !live[s.identity+"\x00"+s.id] && m.releaseCallSlot(ctx, s) == nil {
				freed = true
			}
		}
	}
	return freed
}

// ReleaseCall frees the concurrent-call slot (Limits.MaxConcurrentSIPCalls)
// of a SIP call whose participant left, fed LiveKit's participant_left
// webhooks (httpx does it). Only the call named by the participant's
// CallAttribute is freed, so the late or repeated event of an earlier call
// with the same room and identity frees nothing; other events are ignored.
// Without it, slots of ended calls are freed when a call would otherwise
// be refused, by checking LiveKit for calls that settled at least three
// minutes ago.
func (m *Manager) ReleaseCall(ctx context.Context, ev *livekit.WebhookEvent) error {
	ctx, cancel := m.withDeadline(ctx)
	defer cancel()
	p, room := ev.GetParticipant(), ev.GetRoom()
	if ev.GetEvent() != webhook.EventParticipantLeft || p == nil || room == nil || p.GetKind() != livekit.ParticipantInfo_SIP {
		return nil
	}
	id := p.GetAttributes()[CallAttribute]
	if id == "" {
		return nil // a call placed without a slot, or not by lkgate
	}
	tenant, ok := p.GetAttributes()[TenantAttribute]
	if !ok {
		if tenant, _, ok = ParseScopedRoomName(room.GetName()); !ok {
			tenant, _ = ownerOf(room.GetMetadata())
		}
	}
	if err := m.releaseCallSlot(ctx, callSlot{tenant: tenant, room: room.GetName(), identity: p.GetIdentity(), id: id}); err != nil {
		return m.limitStoreError(ctx, LimitMaxConcurrentSIPCalls, err)
	}
	return nil
}
