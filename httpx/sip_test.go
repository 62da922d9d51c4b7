package httpx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/lkgatetest"
)

// newSIPEnv is newEnv with an outbound trunk for acme and globex on the
// fake, and the allow-list (if any) of sip.
func newSIPEnv(t testing.TB, sip lkgate.SIPConfig) *env {
	return newSIPEnvNamed(t, lkgate.ScopedNames, sip)
}

// newSIPEnvNamed is newSIPEnv with the given room naming.
func newSIPEnvNamed(t testing.TB, naming lkgate.RoomNaming, sip lkgate.SIPConfig) *env {
	t.Helper()
	var mu sync.Mutex
	trunks := map[string]string{}
	sip.Trunks = lkgate.TrunkPolicyFunc(func(ctx context.Context, tenant string) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		return lkgate.TenantTrunks(trunks).OutboundTrunk(ctx, tenant)
	})
	e := newEnv(t, lkgate.Config{RoomNames: naming}, httpx.StaticKeysConfig{}).withSIP(t, sip)
	mu.Lock()
	defer mu.Unlock()
	trunks["acme"] = e.fake.AddOutboundTrunk("acme.example", "+15550000001")
	trunks["globex"] = e.fake.AddOutboundTrunk("globex.example", "+15550000002")
	return e
}

// callBody is a call presenting the trunk's number (no from_phone_number).
const callBody = `{"room_name":"support","participant_identity":"phone","participant_name":"Phone","to_phone_number":"+15550100","wait_until_answered":true}`

func TestSIPRoutes(t *testing.T) {
	e := newSIPEnv(t, lkgate.SIPConfig{})
	res := e.do(t, "POST", "/sip/call", keyAcme, callBody)
	var c httpx.CallResponse
	if err := json.Unmarshal(res.body, &c); err != nil || res.status != 200 {
		t.Fatalf("%d %s", res.status, res.body)
	}
	if c.Status != "answered" || c.RoomName != "support" || c.ParticipantIdentity != "phone" ||
		!strings.HasPrefix(c.ParticipantID, "PA_") || !strings.HasPrefix(c.SIPCallID, "SCL_") {
		t.Errorf("call %s", res.body)
	}
	if d := e.fake.Dialed(); len(d) != 1 || d[0].RoomName != "t4_acme_support" {
		t.Errorf("dialed %v, want one call into LiveKit's t4_acme_support", d)
	}
	res = e.do(t, "GET", "/livekit/rooms/support", keyAcme, "")
	if res.status != 200 || !bytes.Contains(res.body, []byte(`"kind":"sip"`)) || bytes.Contains(res.body, []byte("lkgate.tenant")) {
		t.Errorf("room: %d %s", res.status, res.body)
	}

	res = e.do(t, "POST", "/sip/transfer", keyAcme, `{"room_name":"support","participant_identity":"phone","transfer_to":"+4930999"}`)
	var tr httpx.TransferResponse
	if err := json.Unmarshal(res.body, &tr); err != nil || res.status != 200 {
		t.Fatalf("%d %s", res.status, res.body)
	}
	if tr != (httpx.TransferResponse{Status: "completed", RoomName: "support", ParticipantIdentity: "phone", TransferTo: "tel:+4930999"}) {
		t.Errorf("transfer %+v", tr)
	}

	res = e.do(t, "POST", "/sip/call", keyAcme, `{"room_name":"r2","participant_identity":"p","to_phone_number":"+15550101","ringing_timeout":20}`)
	if res.status != 200 || !bytes.Contains(res.body, []byte(`"status":"dialing"`)) {
		t.Errorf("call without waiting: %d %s", res.status, res.body)
	}
}

func TestSIPRoutesBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, route, body, field string
	}{
		{"call no room", "/sip/call", `{"participant_identity":"p","from_phone_number":"+15550000001","to_phone_number":"+15550100"}`, "room_name"},
		{"call no identity", "/sip/call", `{"room_name":"r","from_phone_number":"+15550000001","to_phone_number":"+15550100"}`, "participant_identity"},
		{"call bad name", "/sip/call", `{"room_name":"r","participant_identity":"p","participant_name":"a\u202eb","from_phone_number":"+15550000001","to_phone_number":"+15550100"}`, "participant_name"},
		{"call bad from", "/sip/call", `{"room_name":"r","participant_identity":"p","from_phone_number":"5550000001","to_phone_number":"+15550100"}`, "from_phone_number"},
		{"call bad to", "/sip/call", `{"room_name":"r","participant_identity":"p","from_phone_number":"+15550000001","to_phone_number":"+1-555-0100"}`, "to_phone_number"},
		{"call sip uri to", "/sip/call", `{"room_name":"r","participant_identity":"p","from_phone_number":"+15550000001","to_phone_number":"sip:x@evil.example"}`, "to_phone_number"},
		{"call number as number", "/sip/call", `{"room_name":"r","participant_identity":"p","from_phone_number":"+15550000001","to_phone_number":15550100}`, "to_phone_number"},
		{"call ringing negative", "/sip/call", `{"room_name":"r","participant_identity":"p","from_phone_number":"+15550000001","to_phone_number":"+15550100","ringing_timeout":-1}`, "ringing_timeout"},
		{"call ringing huge", "/sip/call", `{"room_name":"r","participant_identity":"p","from_phone_number":"+15550000001","to_phone_number":"+15550100","ringing_timeout":99999999999}`, "ringing_timeout"},
		{"call wait not bool", "/sip/call", `{"room_name":"r","participant_identity":"p","from_phone_number":"+15550000001","to_phone_number":"+15550100","wait_until_answered":"yes"}`, "wait_until_answered"},
		{"call injects trunk", "/sip/call", `{"room_name":"r","participant_identity":"p","from_phone_number":"+15550000001","to_phone_number":"+15550100","sip_trunk_id":"ST_x"}`, "sip_trunk_id"},
		{"call injects address", "/sip/call", `{"room_name":"r","participant_identity":"p","from_phone_number":"+15550000001","to_phone_number":"+15550100","trunk":{"hostname":"evil.example"}}`, "trunk"},
		{"transfer no target", "/sip/transfer", `{"room_name":"r","participant_identity":"p"}`, "transfer_to"},
		{"transfer bad target", "/sip/transfer", `{"room_name":"r","participant_identity":"p","transfer_to":"tel:12"}`, "transfer_to"},
		{"transfer injection", "/sip/transfer", `{"room_name":"r","participant_identity":"p","transfer_to":"sip:a@b.example\r\nContact: x"}`, "transfer_to"},
		{"transfer no identity", "/sip/transfer", `{"room_name":"r","transfer_to":"+15550100"}`, "participant_identity"},
		{"transfer no room", "/sip/transfer", `{"participant_identity":"p","transfer_to":"+15550100"}`, "room_name"},
		{"transfer unknown field", "/sip/transfer", `{"room_name":"r","participant_identity":"p","transfer_to":"+15550100","headers":{}}`, "headers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSIPEnv(t, lkgate.SIPConfig{})
			res := e.do(t, "POST", tc.route, keyAcme, tc.body)
			if res.status != 400 || res.problem.Code != httpx.CodeInvalidArgument || res.problem.Field != tc.field {
				t.Errorf("%d %s; want 400 on %s", res.status, res.body, tc.field)
			}
			if n := e.fake.TotalCalls(); n != 0 {
				t.Errorf("bad input reached LiveKit (%d calls)", n)
			}
		})
	}
}

// Under SharedNames a call into another tenant's room is refused before
// anything is dialed, with the 404 of a missing room: the caller learns
// nothing of the name's owner.
func TestSIPRoutesCrossTenant(t *testing.T) {
	e := newSIPEnvNamed(t, lkgate.SharedNames, lkgate.SIPConfig{})
	if res := e.do(t, "POST", "/sip/call", keyAcme, callBody); res.status != 200 {
		t.Fatalf("%d %s", res.status, res.body)
	}
	missingRoom := e.do(t, "GET", "/livekit/rooms/nowhere", keyGlobex, "")
	e.fake.ResetCalls()
	// globex calls into acme's room: refused before anything is dialed.
	res := e.do(t, "POST", "/sip/call", keyGlobex, strings.Replace(callBody, "+15550000001", "+15550000002", 1))
	if res.status != 404 || missingRoom.status != 404 || !bytes.Equal(res.body, missingRoom.body) {
		t.Errorf("call into another tenant's room: %d %s (missing room: %d %s)", res.status, res.body, missingRoom.status, missingRoom.body)
	}
	if len(e.fake.Dialed()) != 1 || e.fake.Calls("CreateSIPParticipant") != 0 {
		t.Error("globex's call was dialed")
	}
	// globex transfers acme's caller: the room does not exist for globex.
	res = e.do(t, "POST", "/sip/transfer", keyGlobex, `{"room_name":"support","participant_identity":"phone","transfer_to":"+15550100"}`)
	missing := e.do(t, "POST", "/sip/transfer", keyGlobex, `{"room_name":"nowhere","participant_identity":"phone","transfer_to":"+15550100"}`)
	if res.status != 404 || !bytes.Equal(res.body, missing.body) {
		t.Errorf("transfer in another tenant's room: %d %s (missing room: %s)", res.status, res.body, missing.body)
	}
	if len(e.fake.Transfers()) != 0 {
		t.Error("globex's transfer reached LiveKit")
	}
}

// Under ScopedNames both tenants call into their own "support": each call
// is dialed into the tenant's own LiveKit room, and neither tenant reaches
// the other's caller.
func TestSIPRoutesScopedNames(t *testing.T) {
	e := newSIPEnv(t, lkgate.SIPConfig{})
	for _, tc := range []struct{ key, body string }{
		{keyAcme, callBody},
		{keyGlobex, strings.NewReplacer("+15550000001", "+15550000002", `"phone"`, `"phone2"`).Replace(callBody)},
	} {
		res := e.do(t, "POST", "/sip/call", tc.key, tc.body)
		if c := decodeBody[httpx.CallResponse](t, res); res.status != 200 || c.RoomName != "support" {
			t.Fatalf("call: %d %s", res.status, res.body)
		}
	}
	d := e.fake.Dialed()
	if len(d) != 2 || d[0].RoomName != "t4_acme_support" || d[1].RoomName != "t6_globex_support" {
		t.Fatalf("dialed %v", d)
	}
	for _, tc := range []struct{ tenant, identity string }{{"acme", "phone"}, {"globex", "phone2"}} {
		ps := e.fake.Participants(e.lkRoom(t, tc.tenant, "support"))
		if len(ps) != 1 || ps[0].Identity != tc.identity || ps[0].Attributes[lkgate.TenantAttribute] != tc.tenant {
			t.Errorf("%s's support holds %v", tc.tenant, ps)
		}
	}
	// acme's caller is not in globex's support.
	res := e.do(t, "POST", "/sip/transfer", keyGlobex, `{"room_name":"support","participant_identity":"phone","transfer_to":"+15550100"}`)
	if res.status != 404 || len(e.fake.Transfers()) != 0 {
		t.Errorf("globex transfers acme's caller: %d %s", res.status, res.body)
	}
}

func TestSIPRoutesFailures(t *testing.T) {
	for _, tc := range []struct {
		name      string
		far       lkgatetest.FarEnd
		route     string
		status    int
		code      string
		sipStatus int
	}{
		{"busy", lkgatetest.FarEnd{CallStatus: 486}, "/sip/call", 409, httpx.CodeSIPBusy, 486},
		{"declined", lkgatetest.FarEnd{CallStatus: 603}, "/sip/call", 409, httpx.CodeSIPDeclined, 603},
		{"no answer", lkgatetest.FarEnd{NoAnswer: true}, "/sip/call", 409, httpx.CodeSIPNoAnswer, 0},
		{"other status", lkgatetest.FarEnd{CallStatus: 500}, "/sip/call", 409, httpx.CodeSIPCallFailed, 500},
		{"transfer refused", lkgatetest.FarEnd{ReferStatus: 403}, "/sip/transfer", 409, httpx.CodeSIPTransferRefused, 0},
		{"transfer failed", lkgatetest.FarEnd{NotifyStatus: 503}, "/sip/transfer", 409, httpx.CodeSIPTransferFailed, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSIPEnv(t, lkgate.SIPConfig{})
			e.fake.SetFarEnd("+15550100", tc.far)
			if tc.route == "/sip/transfer" {
				if res := e.do(t, "POST", "/sip/call", keyAcme, callBody); res.status != 200 {
					t.Fatalf("%d %s", res.status, res.body)
				}
			}
			body := callBody
			if tc.route == "/sip/transfer" {
				body = `{"room_name":"support","participant_identity":"phone","transfer_to":"tel:+4930999"}`
			}
			res := e.do(t, "POST", tc.route, keyAcme, body)
			if res.status != tc.status || res.problem.Code != tc.code || res.problem.SIPStatus != tc.sipStatus {
				t.Errorf("%d %s; want %d %s sip_status %d", res.status, res.body, tc.status, tc.code, tc.sipStatus)
			}
		})
	}
	t.Run("refused destination", func(t *testing.T) {
		e := newSIPEnv(t, lkgate.SIPConfig{AllowDestination: lkgate.AllowPrefixes(map[string][]string{"acme": {"+49"}})})
		res := e.do(t, "POST", "/sip/call", keyAcme, callBody)
		if res.status != 403 || res.problem.Field != "to_phone_number" || e.fake.TotalCalls() != 0 {
			t.Errorf("%d %s", res.status, res.body)
		}
	})
	t.Run("refused caller number", func(t *testing.T) {
		e := newSIPEnv(t, lkgate.SIPConfig{AllowCallerID: lkgate.AllowCallerIDs(map[string][]string{"acme": {"+4930111111"}})})
		for _, from := range []string{"+15550000001", "+4930222222"} {
			res := e.do(t, "POST", "/sip/call", keyAcme, strings.Replace(callBody, `"to_phone_number"`, `"from_phone_number":"`+from+`","to_phone_number"`, 1))
			if res.status != 403 || res.problem.Code != httpx.CodeForbidden || res.problem.Field != "from_phone_number" || e.fake.TotalCalls() != 0 {
				t.Errorf("from %s: %d %s, want 403 forbidden on from_phone_number", from, res.status, res.body)
			}
		}
		res := e.do(t, "POST", "/sip/call", keyAcme, strings.Replace(callBody, `"to_phone_number"`, `"from_phone_number":"+4930111111","to_phone_number"`, 1))
		if d := e.fake.Dialed(); res.status != 200 || len(d) != 1 || d[0].SipNumber != "+4930111111" {
			t.Errorf("an approved caller number: %d %s, dialed %v", res.status, res.body, d)
		}
	})
	t.Run("call in progress", func(t *testing.T) {
		e := newFullEnv(t, lkgate.ScopedNames) // acme: one call at a time
		if res := e.do(t, "POST", "/sip/call", keyAcme, callBody); res.status != 200 {
			t.Fatalf("%d %s", res.status, res.body)
		}
		res := e.do(t, "POST", "/sip/call", keyAcme, callBody)
		if res.status != 409 || res.problem.Code != httpx.CodeSIPCallInProgress || res.problem.Field != "participant_identity" || len(e.fake.Dialed()) != 1 {
			t.Errorf("the same participant again: %d %s, %d dialed; want 409 %s and 1", res.status, res.body, len(e.fake.Dialed()), httpx.CodeSIPCallInProgress)
		}
	})
}
