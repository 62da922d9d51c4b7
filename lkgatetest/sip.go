package lkgatetest

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/utils/guid"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/twitchtv/twirp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/lkgate/lkgate"
)

// NewSIP returns the SIP calls of m, with cfg.Service set to a client of s
// when cfg leaves it nil. If lkgate.NewSIP refuses cfg, NewSIP fails t
// with t.Fatal, so call it from the test's goroutine.
func (s *Server) NewSIP(t testing.TB, m *lkgate.Manager, cfg lkgate.SIPConfig) *lkgate.SIP {
	t.Helper()
	if cfg.Service == nil {
		cfg.Service = lksdk.NewSIPClient(s.URL(), APIKey, APISecret)
	}
	sip, err := lkgate.NewSIP(m, cfg)
	if err != nil {
		t.Fatalf("lkgatetest: lkgate.NewSIP: %v", err)
	}
	return sip
}

// FarEnd scripts how the phone at a number behaves, for calls to it and
// transfers of calls with it. The zero value answers at once and accepts
// every transfer.
type FarEnd struct {
	// CallStatus is the final answer to the call: 0 or 200 answers; any
	// other SIP status (486 busy, 603 declined, ...) refuses the call.
	CallStatus int
	// NoAnswer makes the phone ring until the ringing timeout.
	NoAnswer bool
	// ReferStatus answers a transfer request: 0 or 202 accepts it; any
	// other status (such as 403) refuses it.
	ReferStatus int
	// NotifyStatus is what the far end reports of an accepted transfer:
	// 0 or 200 for success, any other status for a failed transfer.
	NotifyStatus int
}

// AddOutboundTrunk stores an outbound trunk to address with the given
// caller numbers, as CreateSIPOutboundTrunk would, and returns its id.
func (s *Server) AddOutboundTrunk(address string, numbers ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &livekit.SIPOutboundTrunkInfo{
		SipTrunkId: guid.New(guid.SIPTrunkPrefix), Address: address, Numbers: slices.Clone(numbers),
		Transport: livekit.SIPTransport_SIP_TRANSPORT_UDP,
	}
	s.trunks[t.SipTrunkId] = t
	return t.SipTrunkId
}

// SetFarEnd scripts the phone at number (as dialed, e.g. "+15550100").
func (s *Server) SetFarEnd(number string, f FarEnd) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.farEnds[number] = f
}

// Dialed returns copies of the CreateSIPParticipant requests that reached
// a trunk, oldest first, whatever their outcome.
func (s *Server) Dialed() []*livekit.CreateSIPParticipantRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneAll(s.dialed)
}

// Transfers returns copies of the TransferSIPParticipant requests that
// reached a SIP participant, oldest first, whatever their outcome.
func (s *Server) Transfers() []*livekit.TransferSIPParticipantRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneAll(s.transfers)
}

type sipService struct{ s *Server }

var _ livekit.SIP = sipService{}

// CreateSIPOutboundTrunk stores the trunk.
func (svc sipService) CreateSIPOutboundTrunk(ctx context.Context, req *livekit.CreateSIPOutboundTrunkRequest) (*livekit.SIPOutboundTrunkInfo, error) {
	if err := ensureSIP(ctx, true); err != nil {
		return nil, err
	}
	t := req.GetTrunk()
	if t == nil || t.SipTrunkId != "" {
		return nil, twirp.InvalidArgumentError("trunk", "trunk id must not be set")
	}
	id := svc.s.AddOutboundTrunk(t.Address, t.Numbers...)
	svc.s.mu.Lock()
	defer svc.s.mu.Unlock()
	return proto.Clone(svc.s.trunks[id]).(*livekit.SIPOutboundTrunkInfo), nil
}

// CreateSIPParticipant dials through the trunk and, when the far end
// answers, joins the callee to the room (creating it if needed) as a SIP
// participant with the attributes livekit-sip sets. Without a SipNumber the
// call presents the trunk's first number (LiveKit picks one of them at
// random).
func (svc sipService) CreateSIPParticipant(ctx context.Context, req *livekit.CreateSIPParticipantRequest) (*livekit.SIPParticipantInfo, error) {
	if err := ensureSIP(ctx, false); err != nil {
		return nil, err
	}
	s := svc.s
	s.mu.Lock()
	trunk := s.trunks[req.SipTrunkId]
	if trunk == nil {
		s.mu.Unlock()
		return nil, serverError(twirp.NotFound, "requested sip trunk does not exist")
	}
	if req.SipNumber == "" && len(trunk.Numbers) == 0 {
		s.mu.Unlock()
		return nil, twirp.InternalError("no numbers on outbound trunk")
	}
	s.dialed = append(s.dialed, proto.Clone(req).(*livekit.CreateSIPParticipantRequest))
	far := s.farEnds[req.SipCallTo]
	s.mu.Unlock()

	switch {
	case far.NoAnswer && req.WaitUntilAnswered:
		return nil, serverError(twirp.Canceled, "canceled")
	case far.NoAnswer:
		return svc.placed(req, trunk, ""), nil
	case far.CallStatus != 0 && far.CallStatus != 200 && req.WaitUntilAnswered:
		return nil, sipFailure(far.CallStatus)
	case far.CallStatus != 0 && far.CallStatus != 200:
		return svc.placed(req, trunk, ""), nil
	}
	return svc.placed(req, trunk, "active"), nil
}

// placed returns the answer to a placed call; with a callStatus, the
// callee joins the room.
func (svc sipService) placed(req *livekit.CreateSIPParticipantRequest, trunk *livekit.SIPOutboundTrunkInfo, callStatus string) *livekit.SIPParticipantInfo {
	callID := guid.New(guid.SIPCallPrefix)
	info := &livekit.SIPParticipantInfo{RoomName: req.RoomName, ParticipantIdentity: req.ParticipantIdentity, SipCallId: callID}
	if callStatus == "" {
		info.ParticipantId = guid.New(guid.ParticipantPrefix)
		return info
	}
	attrs := maps.Clone(req.ParticipantAttributes)
	if attrs == nil {
		attrs = map[string]string{}
	}
	maps.Copy(attrs, map[string]string{
		"sip.callID": callID, "sip.callStatus": callStatus, "sip.phoneNumber": req.SipCallTo,
		"sip.trunkID": trunk.SipTrunkId, "sip.trunkPhoneNumber": cmp.Or(req.SipNumber, trunk.Numbers[0]),
	})
	p := svc.s.AddParticipant(req.RoomName, Participant{
		Identity: req.ParticipantIdentity, Name: req.ParticipantName, Metadata: req.ParticipantMetadata,
		Attributes: attrs, Kind: livekit.ParticipantInfo_SIP,
	})
	info.ParticipantId = p.Sid
	return info
}

// sipFailure is a failed INVITE as LiveKit reports it: a gRPC status with
// the SIP status in its details, carried through twirp by xtwirp.
func sipFailure(code int) error {
	sipStatus := &livekit.SIPStatus{Code: livekit.SIPStatusCode(code)}
	// livekit-sip v1.0.0 reports a refused INVITE as unavailable whatever
	// the status: only the details tell busy from declined.
	st := status.New(codes.Unavailable, "INVITE failed: "+sipStatus.Error())
	if withDetails, err := st.WithDetails(sipStatus); err == nil {
		st = withDetails
	}
	return st.Err()
}

// TransferSIPParticipant sends the far end of the participant's call a
// REFER; on success the call ends and the participant leaves the room.
func (svc sipService) TransferSIPParticipant(ctx context.Context, req *livekit.TransferSIPParticipantRequest) (*emptypb.Empty, error) {
	if err := ensureSIP(ctx, false); err != nil {
		return nil, err
	}
	if err := ensureAdmin(ctx, req.RoomName); err != nil {
		return nil, err
	}
	s := svc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.participantLocked(req.RoomName, req.ParticipantIdentity)
	if p == nil || p.Kind != livekit.ParticipantInfo_SIP {
		return nil, serverError(twirp.NotFound, "participant does not exist")
	}
	s.transfers = append(s.transfers, proto.Clone(req).(*livekit.TransferSIPParticipantRequest))
	far := s.farEnds[p.Attributes["sip.phoneNumber"]]
	switch {
	case far.ReferStatus != 0 && far.ReferStatus != 202:
		return nil, serverError(twirp.PermissionDenied, "SIP REFER was denied")
	case far.NotifyStatus != 0 && far.NotifyStatus != 200:
		return nil, serverError(twirp.Canceled, "call transfer failed")
	}
	r := s.rooms[req.RoomName]
	r.participants = slices.DeleteFunc(r.participants, func(q *livekit.ParticipantInfo) bool { return q == p })
	return &emptypb.Empty{}, nil
}

// ensureSIP checks the SIP grant: admin for trunks, call for calls.
func ensureSIP(ctx context.Context, admin bool) error {
	g := grantsFrom(ctx)
	if g == nil || g.SIP == nil || (admin && !g.SIP.Admin) || (!admin && !g.SIP.Call) {
		return errPermissionDenied()
	}
	return nil
}

//lint:ignore SA1019 livekit.SIP still declares the deprecated method
func (sipService) ListSIPTrunk(context.Context, *livekit.ListSIPTrunkRequest) (*livekit.ListSIPTrunkResponse, error) {
	return nil, errUnimplemented("ListSIPTrunk")
}

func (sipService) CreateSIPInboundTrunk(context.Context, *livekit.CreateSIPInboundTrunkRequest) (*livekit.SIPInboundTrunkInfo, error) {
	return nil, errUnimplemented("CreateSIPInboundTrunk")
}

func (sipService) UpdateSIPInboundTrunk(context.Context, *livekit.UpdateSIPInboundTrunkRequest) (*livekit.SIPInboundTrunkInfo, error) {
	return nil, errUnimplemented("UpdateSIPInboundTrunk")
}

func (sipService) UpdateSIPOutboundTrunk(context.Context, *livekit.UpdateSIPOutboundTrunkRequest) (*livekit.SIPOutboundTrunkInfo, error) {
	return nil, errUnimplemented("UpdateSIPOutboundTrunk")
}

func (sipService) GetSIPInboundTrunk(context.Context, *livekit.GetSIPInboundTrunkRequest) (*livekit.GetSIPInboundTrunkResponse, error) {
	return nil, errUnimplemented("GetSIPInboundTrunk")
}

func (sipService) GetSIPOutboundTrunk(context.Context, *livekit.GetSIPOutboundTrunkRequest) (*livekit.GetSIPOutboundTrunkResponse, error) {
	return nil, errUnimplemented("GetSIPOutboundTrunk")
}

func (sipService) ListSIPInboundTrunk(context.Context, *livekit.ListSIPInboundTrunkRequest) (*livekit.ListSIPInboundTrunkResponse, error) {
	return nil, errUnimplemented("ListSIPInboundTrunk")
}

func (sipService) ListSIPOutboundTrunk(context.Context, *livekit.ListSIPOutboundTrunkRequest) (*livekit.ListSIPOutboundTrunkResponse, error) {
	return nil, errUnimplemented("ListSIPOutboundTrunk")
}

//lint:ignore SA1019 livekit.SIP still declares the deprecated method
func (sipService) DeleteSIPTrunk(context.Context, *livekit.DeleteSIPTrunkRequest) (*livekit.SIPTrunkInfo, error) {
	return nil, errUnimplemented("DeleteSIPTrunk")
}

func (sipService) CreateSIPDispatchRule(context.Context, *livekit.CreateSIPDispatchRuleRequest) (*livekit.SIPDispatchRuleInfo, error) {
	return nil, errUnimplemented("CreateSIPDispatchRule")
}

func (sipService) UpdateSIPDispatchRule(context.Context, *livekit.UpdateSIPDispatchRuleRequest) (*livekit.SIPDispatchRuleInfo, error) {
	return nil, errUnimplemented("UpdateSIPDispatchRule")
}

func (sipService) ListSIPDispatchRule(context.Context, *livekit.ListSIPDispatchRuleRequest) (*livekit.ListSIPDispatchRuleResponse, error) {
	return nil, errUnimplemented("ListSIPDispatchRule")
}

func (sipService) DeleteSIPDispatchRule(context.Context, *livekit.DeleteSIPDispatchRuleRequest) (*livekit.SIPDispatchRuleInfo, error) {
	return nil, errUnimplemented("DeleteSIPDispatchRule")
}
