package lkgate_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

// sipEnv is a Manager and its SIP calls on a fake with one outbound trunk
// per tenant.
type sipEnv struct {
	m                *lkgate.Manager
	sip              *lkgate.SIP
	fake             *lkgatetest.Server
	acmeTrunk, gTrnk string
}

func newSIPEnv(t *testing.T, sip lkgate.SIPConfig) *sipEnv {
	t.Helper()
	return newSIPEnvOf(t, lkgate.Config{}, sip)
}

// newSIPEnvWith is newSIPEnv with the Manager's cfg and one trunk per
// tenant.
func newSIPEnvWith(t *testing.T, cfg lkgate.Config) *sipEnv {
	t.Helper()
	return newSIPEnvOf(t, cfg, lkgate.SIPConfig{})
}

// newSIPEnvOf builds the env from cfg and sip; nil sip.Trunks means one
// trunk per tenant.
func newSIPEnvOf(t *testing.T, cfg lkgate.Config, sip lkgate.SIPConfig) *sipEnv {
	t.Helper()
	fake := lkgatetest.NewServer(t)
	e := &sipEnv{fake: fake, acmeTrunk: fake.AddOutboundTrunk("acme.example:5060", "+15550000001"), gTrnk: fake.AddOutboundTrunk("globex.example:5060", "+15550000002")}
	if sip.Trunks == nil {
		sip.Trunks = lkgate.TenantTrunks(map[string]string{"acme": e.acmeTrunk, "globex": e.gTrnk})
	}
	e.m, _ = newManagerOn(t, fake, cfg)
	e.sip = fake.NewSIP(t, e.m, sip)
	return e
}

// call is a request presenting the trunk's number (no From).
func call(room, to string) lkgate.CallRequest {
	return lkgate.CallRequest{Room: room, Identity: "phone", Name: "Phone", To: to, WaitUntilAnswered: true}
}

func TestCallNewRoom(t *testing.T) {
	forEachNaming(t, testCallNewRoom)
}

func testCallNewRoom(t *testing.T, naming lkgate.RoomNaming) {
	e := newSIPEnvWith(t, lkgate.Config{RoomNames: naming})
	c, err := e.sip.Call(context.Background(), "acme", call("support", "+4930123456"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Answered || c.Room != "support" || c.Identity != "phone" || !strings.HasPrefix(c.ParticipantSID, "PA_") || !strings.HasPrefix(c.SIPCallID, "SCL_") {
		t.Errorf("call %+v", c)
	}
	// Under SharedNames ensure (ListRooms, CreateRoom, UpdateRoomMetadata);
	// under ScopedNames create and record the owner; then dial.
	want := map[string]int{"ListRooms": 1, "CreateRoom": 1, "UpdateRoomMetadata": 1, "CreateSIPParticipant": 1}
	if naming == lkgate.ScopedNames {
		want["ListRooms"] = 0
	}
	total := 0
	for method, n := range want {
		if got := e.fake.Calls(method); got != n {
			t.Errorf("%s calls = %d, want %d", method, got, n)
		}
		total += n
	}
	if got := e.fake.TotalCalls(); got != total {
		t.Errorf("total LiveKit calls = %d, want %d", got, total)
	}
	lk := lkName(t, e.m, "acme", "support")
	room, _ := e.fake.Room(lk)
	if !strings.Contains(room.Metadata, `"auth_id":"acme"`) {
		t.Errorf("room not claimed before dialing: %q", room.Metadata)
	}
	d := e.fake.Dialed()
	// Without a concurrency limit a call holds no slot, so it carries no
	// CallAttribute.
	if len(d) != 1 || d[0].SipTrunkId != e.acmeTrunk || d[0].SipCallTo != "+4930123456" || d[0].SipNumber != "" || d[0].RoomName != lk ||
		!cmp.Equal(d[0].ParticipantAttributes, map[string]string{lkgate.TenantAttribute: "acme"}) || d[0].ParticipantName != "Phone" || !d[0].WaitUntilAnswered {
		t.Errorf("dialed %v", d)
	}
	ps := e.fake.Participants(lk)
	if len(ps) != 1 || ps[0].Kind != livekit.ParticipantInfo_SIP || ps[0].Attributes[lkgate.TenantAttribute] != "acme" ||
		ps[0].Attributes["sip.trunkPhoneNumber"] != "+15550000001" {
		t.Errorf("participants %v", ps)
	}

	// A room the tenant owns: one look-up (an idempotent create under
	// ScopedNames), then the call.
	e.fake.ResetCalls()
	if _, err := e.sip.Call(context.Background(), "acme", call("support", "+4930123457")); err != nil {
		t.Fatal(err)
	}
	first := map[lkgate.RoomNaming]string{lkgate.ScopedNames: "CreateRoom", lkgate.SharedNames: "ListRooms"}[naming]
	if e.fake.Calls(first) != 1 || e.fake.Calls("CreateSIPParticipant") != 1 || e.fake.TotalCalls() != 2 {
		t.Errorf("calls into an owned room: %d in all, want %s and CreateSIPParticipant", e.fake.TotalCalls(), first)
	}
}

func TestCallWithoutWaiting(t *testing.T) {
	e := newSIPEnv(t, lkgate.SIPConfig{})
	req := call("r", "+4930123456")
	req.WaitUntilAnswered, req.RingingTimeout = false, 5*time.Second
	c, err := e.sip.Call(context.Background(), "acme", req)
	if err != nil || c.Answered {
		t.Fatalf("%+v %v", c, err)
	}
	if d := e.fake.Dialed(); d[0].RingingTimeout.AsDuration() != 5*time.Second || d[0].WaitUntilAnswered {
		t.Errorf("dialed %v", d[0])
	}
}

// A call never reaches another tenant's room: under SharedNames its name
// is refused as a missing room would be, under ScopedNames the same name
// is the caller's own room.
func TestCallIntoAnotherTenantsRoomIsNeverDialed(t *testing.T) {
	forEachNaming(t, func(t *testing.T, naming lkgate.RoomNaming) {
		e := newSIPEnvWith(t, lkgate.Config{RoomNames: naming})
		if err := token(e.m, "globex", "theirs"); err != nil {
			t.Fatal(err)
		}
		theirs := lkName(t, e.m, "globex", "theirs")
		e.fake.AddParticipant(theirs, lkgatetest.Participant{Identity: "g", Attributes: map[string]string{lkgate.TenantAttribute: "globex"}})
		_, err := e.sip.Call(context.Background(), "acme", call("theirs", "+4930123456"))
		if naming == lkgate.SharedNames {
			if !errors.Is(err, lkgate.ErrNotFound) {
				t.Fatalf("err %v, want ErrNotFound", err)
			}
		} else if err != nil {
			t.Fatal(err)
		}
		for _, d := range e.fake.Dialed() {
			if d.RoomName == theirs {
				t.Errorf("dialed into another tenant's room: %v", d)
			}
		}
		if ps := e.fake.Participants(theirs); len(ps) != 1 {
			t.Errorf("globex's room has %v", ps)
		}
	})
}

func TestCallRefusesBadInputBeforeLiveKit(t *testing.T) {
	allowUS := lkgate.AllowPrefixes(map[string][]string{"acme": {"+1"}})
	for _, tc := range []struct {
		name  string
		edit  func(*lkgate.CallRequest)
		field string
		kind  error
	}{
		{"no room", func(r *lkgate.CallRequest) { r.Room = "" }, "Room", lkgate.ErrInvalidArgument},
		{"no identity", func(r *lkgate.CallRequest) { r.Identity = "" }, "Identity", lkgate.ErrInvalidArgument},
		{"control in name", func(r *lkgate.CallRequest) { r.Name = "a\nb" }, "Name", lkgate.ErrInvalidArgument},
		{"from without plus", func(r *lkgate.CallRequest) { r.From = "15550000001" }, "From", lkgate.ErrInvalidArgument},
		{"from with spaces", func(r *lkgate.CallRequest) { r.From = "+1 555 0000001" }, "From", lkgate.ErrInvalidArgument},
		{"from not the tenant's", func(r *lkgate.CallRequest) { r.From = "+4930999999" }, "From", lkgate.ErrForbidden},
		{"from another tenant's", func(r *lkgate.CallRequest) { r.From = "+15550000002" }, "From", lkgate.ErrForbidden},
		{"to with spaces", func(r *lkgate.CallRequest) { r.To = "+1 555 0100" }, "To", lkgate.ErrInvalidArgument},
		{"to too long", func(r *lkgate.CallRequest) { r.To = "+1234567890123456" }, "To", lkgate.ErrInvalidArgument},
		{"to leading zero", func(r *lkgate.CallRequest) { r.To = "+0123456" }, "To", lkgate.ErrInvalidArgument},
		{"to as sip uri", func(r *lkgate.CallRequest) { r.To = "sip:evil@attacker.example" }, "To", lkgate.ErrInvalidArgument},
		{"negative ringing", func(r *lkgate.CallRequest) { r.RingingTimeout = -time.Second }, "RingingTimeout", lkgate.ErrInvalidArgument},
		{"long ringing", func(r *lkgate.CallRequest) { r.RingingTimeout = time.Hour }, "RingingTimeout", lkgate.ErrInvalidArgument},
		{"not allowed destination", func(r *lkgate.CallRequest) { r.To = "+4930123456" }, "To", lkgate.ErrForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSIPEnv(t, lkgate.SIPConfig{AllowDestination: allowUS, AllowCallerID: lkgate.AllowCallerIDs(map[string][]string{
				"acme": {"+15550000001"}, "globex": {"+15550000002"},
			})})
			req := call("r", "+15550100")
			tc.edit(&req)
			_, err := e.sip.Call(context.Background(), "acme", req)
			var le *lkgate.Error
			if !errors.Is(err, tc.kind) || !errors.As(err, &le) || le.Field != tc.field {
				t.Fatalf("err %v, want %v on %s", err, tc.kind, tc.field)
			}
			if n := e.fake.TotalCalls(); n != 0 {
				t.Errorf("%d LiveKit calls for a refused request", n)
			}
		})
	}
}

// Without AllowCallerID a call presents its trunk's number and no other,
// not even that number given explicitly; with AllowCallerIDs each tenant
// presents its own numbers only. A refused number never reaches LiveKit.
func TestCallerID(t *testing.T) {
	ctx := context.Background()
	withFrom := func(from string) lkgate.CallRequest {
		req := call("r", "+15550100")
		req.From = from
		return req
	}
	wantRefused := func(t *testing.T, e *sipEnv, tenant, from string) {
		t.Helper()
		e.fake.ResetCalls()
		_, err := e.sip.Call(ctx, tenant, withFrom(from))
		var le *lkgate.Error
		if !errors.Is(err, lkgate.ErrForbidden) || !errors.As(err, &le) || le.Field != "From" {
			t.Errorf("%s presenting %s: %v, want ErrForbidden on From", tenant, from, err)
		}
		if n := e.fake.TotalCalls(); n != 0 {
			t.Errorf("%s presenting %s: %d LiveKit calls", tenant, from, n)
		}
	}
	t.Run("default: the trunk's number only", func(t *testing.T) {
		e := newSIPEnv(t, lkgate.SIPConfig{})
		for _, from := range []string{"+4930999999", "+15550000001"} {
			wantRefused(t, e, "acme", from)
		}
		if _, err := e.sip.Call(ctx, "acme", withFrom("")); err != nil {
			t.Fatal(err)
		}
		d := e.fake.Dialed()
		ps := e.fake.Participants(lkName(t, e.m, "acme", "r"))
		if len(d) != 1 || d[0].SipNumber != "" || len(ps) != 1 || ps[0].Attributes["sip.trunkPhoneNumber"] != "+15550000001" {
			t.Errorf("dialed %v, participants %v; want no SipNumber and the trunk's number shown", d, ps)
		}
	})
	t.Run("AllowCallerIDs", func(t *testing.T) {
		numbers := map[string][]string{"acme": {"+4930111111", "+4930222222"}, "globex": {"+15550000002"}}
		log := &auditLog{}
		e := newSIPEnvOf(t, lkgate.Config{Auditor: log}, lkgate.SIPConfig{AllowCallerID: lkgate.AllowCallerIDs(numbers)})
		numbers["acme"][0], numbers["initech"] = "+4930999999", []string{"+4930999999"} // copied: no effect
		for _, from := range []string{"+4930111111", "+4930222222", ""} {
			if _, err := e.sip.Call(ctx, "acme", withFrom(from)); err != nil {
				t.Fatalf("acme presenting %q: %v", from, err)
			}
		}
		if d := e.fake.Dialed(); len(d) != 3 || d[0].SipNumber != "+4930111111" || d[1].SipNumber != "+4930222222" || d[2].SipNumber != "" {
			t.Errorf("dialed %v", d)
		}
		// The audit records a caller number given, not the trunk's.
		evs := log.take()
		if len(evs) != 3 || evs[0].Details["from"] != "+4930111111" {
			t.Fatalf("audit events %+v", evs)
		}
		if from, ok := evs[2].Details["from"]; ok {
			t.Errorf("the audit of a call without From records from %q", from)
		}
		wantRefused(t, e, "acme", "+15550000002")   // globex's
		wantRefused(t, e, "acme", "+4930999999")    // set in the map after the fact
		wantRefused(t, e, "globex", "+4930111111")  // acme's
		wantRefused(t, e, "acme", "+49301111110")   // a longer number with an allowed prefix
		wantRefused(t, e, "initech", "+4930999999") // a tenant missing from the map
	})
}

func TestCallTrunkPolicy(t *testing.T) {
	ctx := context.Background()
	t.Run("tenant without trunk", func(t *testing.T) {
		e := newSIPEnv(t, lkgate.SIPConfig{})
		_, err := e.sip.Call(ctx, "initech", call("r", "+15550100"))
		if !errors.Is(err, lkgate.ErrForbidden) || e.fake.TotalCalls() != 0 {
			t.Errorf("err %v, %d calls", err, e.fake.TotalCalls())
		}
	})
	t.Run("each tenant its own trunk", func(t *testing.T) {
		e := newSIPEnv(t, lkgate.SIPConfig{})
		for _, tenant := range []string{"acme", "globex"} {
			if _, err := e.sip.Call(ctx, tenant, call(tenant+"-room", "+15550100")); err != nil {
				t.Fatal(err)
			}
		}
		d := e.fake.Dialed()
		if d[0].SipTrunkId != e.acmeTrunk || d[1].SipTrunkId != e.gTrnk {
			t.Errorf("trunks %s %s", d[0].SipTrunkId, d[1].SipTrunkId)
		}
	})
	t.Run("static trunk", func(t *testing.T) {
		fake := lkgatetest.NewServer(t)
		id := fake.AddOutboundTrunk("pbx.example:5060", "+15550000001")
		m, err := lkgate.New(lkgate.Config{URL: fake.URL(), APIKey: lkgatetest.APIKey, APISecret: lkgatetest.APISecret})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		// No Service: the SDK's client for the Manager's URL.
		sip, err := lkgate.NewSIP(m, lkgate.SIPConfig{Trunks: lkgate.StaticTrunk(id)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sip.Call(ctx, "anyone", call("r", "+15550100")); err != nil || fake.Dialed()[0].SipTrunkId != id {
			t.Errorf("err %v", err)
		}
	})
	t.Run("policy failure", func(t *testing.T) {
		e := newSIPEnv(t, lkgate.SIPConfig{Trunks: lkgate.TrunkPolicyFunc(func(context.Context, string) (string, error) {
			return "", errors.New("db down: password=hunter2")
		})})
		_, err := e.sip.Call(ctx, "acme", call("r", "+15550100"))
		if !errors.Is(err, lkgate.ErrUnavailable) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("err %v", err)
		}
	})
	t.Run("unknown trunk", func(t *testing.T) {
		e := newSIPEnv(t, lkgate.SIPConfig{Trunks: lkgate.StaticTrunk("ST_missing")})
		_, err := e.sip.Call(ctx, "acme", call("r", "+15550100"))
		if !errors.Is(err, lkgate.ErrNotConfigured) {
			t.Errorf("err %v, want ErrNotConfigured", err)
		}
	})
}

// SIP exists only with its trunk policy, on a Manager.
func TestNewSIPValidates(t *testing.T) {
	m, _ := newManager(t, lkgate.Config{})
	for _, tc := range []struct {
		m     *lkgate.Manager
		cfg   lkgate.SIPConfig
		field string
	}{
		{m, lkgate.SIPConfig{}, "SIPConfig.Trunks"},
		{m, lkgate.SIPConfig{AllowDestination: func(string, string) bool { return true }}, "SIPConfig.Trunks"},
		{nil, lkgate.SIPConfig{Trunks: lkgate.StaticTrunk("ST_x")}, "Manager"},
	} {
		sip, err := lkgate.NewSIP(tc.m, tc.cfg)
		var le *lkgate.Error
		if sip != nil || !errors.Is(err, lkgate.ErrInvalidArgument) || !errors.As(err, &le) || le.Field != tc.field {
			t.Errorf("NewSIP(%v, %+v) = %v, %v; want ErrInvalidArgument on %s", tc.m != nil, tc.cfg, sip, err, tc.field)
		}
	}
}

func TestCallOutcomes(t *testing.T) {
	for _, tc := range []struct {
		far    lkgatetest.FarEnd
		kind   error
		status int
	}{
		{lkgatetest.FarEnd{CallStatus: 486}, lkgate.ErrBusy, 486},
		{lkgatetest.FarEnd{CallStatus: 600}, lkgate.ErrBusy, 600},
		{lkgatetest.FarEnd{CallStatus: 603}, lkgate.ErrDeclined, 603},
		{lkgatetest.FarEnd{CallStatus: 480}, lkgate.ErrNoAnswer, 480},
		{lkgatetest.FarEnd{NoAnswer: true}, lkgate.ErrNoAnswer, 0},
		{lkgatetest.FarEnd{CallStatus: 404}, lkgate.ErrCallFailed, 404},
	} {
		t.Run(tc.kind.Error(), func(t *testing.T) {
			e := newSIPEnv(t, lkgate.SIPConfig{})
			e.fake.SetFarEnd("+15550100", tc.far)
			_, err := e.sip.Call(context.Background(), "acme", call("r", "+15550100"))
			var le *lkgate.Error
			if !errors.Is(err, tc.kind) || !errors.As(err, &le) || le.SIPStatus != tc.status {
				t.Fatalf("err %v (%+v), want %v with SIP status %d", err, le, tc.kind, tc.status)
			}
			if len(e.fake.Participants(lkName(t, e.m, "acme", "r"))) != 0 {
				t.Error("a refused callee joined the room")
			}
		})
	}
}

// sipCall places an answered call into room for acme and returns the env.
func sipCall(t *testing.T, sip lkgate.SIPConfig, far lkgatetest.FarEnd) *sipEnv {
	t.Helper()
	e := newSIPEnv(t, sip)
	e.fake.SetFarEnd("+15550100", far)
	if _, err := e.sip.Call(context.Background(), "acme", call("r", "+15550100")); err != nil {
		t.Fatal(err)
	}
	e.fake.ResetCalls()
	return e
}

func TestTransfer(t *testing.T) {
	ctx := context.Background()
	e := sipCall(t, lkgate.SIPConfig{}, lkgatetest.FarEnd{})
	target, err := e.sip.Transfer(ctx, "acme", lkgate.TransferRequest{Room: "r", Identity: "phone", TransferTo: "+4930999"})
	if err != nil || target != "tel:+4930999" {
		t.Fatalf("%q %v", target, err)
	}
	for method, want := range map[string]int{"ListRooms": 0, "GetParticipant": 1, "TransferSIPParticipant": 1} {
		if got := e.fake.Calls(method); got != want {
			t.Errorf("%s calls = %d, want %d", method, got, want)
		}
	}
	if tr := e.fake.Transfers(); len(tr) != 1 || tr[0].TransferTo != "tel:+4930999" || tr[0].ParticipantIdentity != "phone" {
		t.Errorf("transfers %v", tr)
	}
}

func TestTransferOutcomes(t *testing.T) {
	for _, tc := range []struct {
		far  lkgatetest.FarEnd
		kind error
	}{
		{lkgatetest.FarEnd{ReferStatus: 403}, lkgate.ErrTransferRefused},
		{lkgatetest.FarEnd{NotifyStatus: 503}, lkgate.ErrTransferFailed},
	} {
		t.Run(tc.kind.Error(), func(t *testing.T) {
			e := sipCall(t, lkgate.SIPConfig{}, tc.far)
			_, err := e.sip.Transfer(context.Background(), "acme", lkgate.TransferRequest{Room: "r", Identity: "phone", TransferTo: "tel:+4930999"})
			if !errors.Is(err, tc.kind) {
				t.Fatalf("err %v, want %v", err, tc.kind)
			}
		})
	}
}

func TestTransferRefusals(t *testing.T) {
	ctx := context.Background()
	sipOK := func(_, uri string) bool { return strings.HasSuffix(uri, "@pbx.example") }
	for _, tc := range []struct {
		name   string
		tenant string
		req    lkgate.TransferRequest
		kind   error
		field  string
		calls  int // LiveKit calls made before the refusal
	}{
		{"no target", "acme", lkgate.TransferRequest{Room: "r", Identity: "phone"}, lkgate.ErrInvalidArgument, "TransferTo", 0},
		{"bad number", "acme", lkgate.TransferRequest{Room: "r", Identity: "phone", TransferTo: "+49 30"}, lkgate.ErrInvalidArgument, "TransferTo", 0},
		{"bad tel", "acme", lkgate.TransferRequest{Room: "r", Identity: "phone", TransferTo: "tel:555"}, lkgate.ErrInvalidArgument, "TransferTo", 0},
		{"header injection", "acme", lkgate.TransferRequest{Room: "r", Identity: "phone", TransferTo: "sip:a@pbx.example>\r\nX: y"}, lkgate.ErrInvalidArgument, "TransferTo", 0},
		{"display name", "acme", lkgate.TransferRequest{Room: "r", Identity: "phone", TransferTo: `"A" <sip:a@pbx.example>`}, lkgate.ErrInvalidArgument, "TransferTo", 0},
		{"other scheme", "acme", lkgate.TransferRequest{Room: "r", Identity: "phone", TransferTo: "http://x"}, lkgate.ErrInvalidArgument, "TransferTo", 0},
		{"sip uri not allowed", "acme", lkgate.TransferRequest{Room: "r", Identity: "phone", TransferTo: "sip:a@evil.example"}, lkgate.ErrForbidden, "TransferTo", 0},
		{"no identity", "acme", lkgate.TransferRequest{Room: "r", TransferTo: "+4930999"}, lkgate.ErrInvalidArgument, "Identity", 0},
		{"another tenant's room", "globex", lkgate.TransferRequest{Room: "r", Identity: "phone", TransferTo: "+4930999"}, lkgate.ErrNotFound, "", 1},
		{"missing room", "acme", lkgate.TransferRequest{Room: "nope", Identity: "phone", TransferTo: "+4930999"}, lkgate.ErrNotFound, "", 1},
		{"unknown participant", "acme", lkgate.TransferRequest{Room: "r", Identity: "ghost", TransferTo: "+4930999"}, lkgate.ErrNotFound, "", 1},
		{"not a SIP participant", "acme", lkgate.TransferRequest{Room: "r", Identity: "alice", TransferTo: "+4930999"}, lkgate.ErrConflict, "Identity", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := sipCall(t, lkgate.SIPConfig{AllowSIPTransfer: sipOK}, lkgatetest.FarEnd{})
			e.fake.AddParticipant(lkName(t, e.m, "acme", "r"), lkgatetest.Participant{Identity: "alice", Attributes: map[string]string{lkgate.TenantAttribute: "acme"}})
			_, err := e.sip.Transfer(context.Background(), tc.tenant, tc.req)
			var le *lkgate.Error
			if !errors.Is(err, tc.kind) || !errors.As(err, &le) || le.Field != tc.field {
				t.Fatalf("err %v, want %v on %q", err, tc.kind, tc.field)
			}
			if n := e.fake.TotalCalls(); n != tc.calls || len(e.fake.Transfers()) != 0 {
				t.Errorf("%d LiveKit calls, %d transfers; want %d calls, none", n, len(e.fake.Transfers()), tc.calls)
			}
		})
	}
	t.Run("allowed sip uri", func(t *testing.T) {
		e := sipCall(t, lkgate.SIPConfig{AllowSIPTransfer: sipOK}, lkgatetest.FarEnd{})
		target, err := e.sip.Transfer(ctx, "acme", lkgate.TransferRequest{Room: "r", Identity: "phone", TransferTo: "sip:desk@pbx.example"})
		if err != nil || target != "sip:desk@pbx.example" {
			t.Errorf("%q %v", target, err)
		}
	})
	t.Run("destination allow-list applies to transfers", func(t *testing.T) {
		e := sipCall(t, lkgate.SIPConfig{AllowDestination: lkgate.AllowPrefixes(map[string][]string{"acme": {"+1555"}})}, lkgatetest.FarEnd{})
		_, err := e.sip.Transfer(ctx, "acme", lkgate.TransferRequest{Room: "r", Identity: "phone", TransferTo: "tel:+900123"})
		if !errors.Is(err, lkgate.ErrForbidden) || e.fake.TotalCalls() != 0 {
			t.Errorf("err %v", err)
		}
	})
}

func TestSIPErrorsFromLiveKit(t *testing.T) {
	ctx := context.Background()
	t.Run("sip not connected", func(t *testing.T) {
		e := newSIPEnv(t, lkgate.SIPConfig{})
		e.fake.SetError("CreateSIPParticipant", twirp.NewError(twirp.Internal, "twirp error unknown: sip not connected (redis required)"))
		_, err := e.sip.Call(ctx, "acme", call("r", "+15550100"))
		if !errors.Is(err, lkgate.ErrNotConfigured) {
			t.Errorf("err %v, want ErrNotConfigured", err)
		}
	})
	t.Run("other internal error", func(t *testing.T) {
		e := newSIPEnv(t, lkgate.SIPConfig{})
		e.fake.SetError("CreateSIPParticipant", twirp.NewError(twirp.Internal, "boom"))
		_, err := e.sip.Call(ctx, "acme", call("r", "+15550100"))
		if !errors.Is(err, lkgate.ErrUpstream) {
			t.Errorf("err %v, want ErrUpstream", err)
		}
	})
}
