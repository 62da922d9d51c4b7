package lkgatetest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/twitchtv/twirp"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

// NewSIP dials through the fake even when the Manager's URL names another
// LiveKit, as for a Manager given the fake's RoomService; a config
// lkgate.NewSIP refuses fails the test.
func TestNewSIP(t *testing.T) {
	srv := lkgatetest.NewServer(t)
	trunk := srv.AddOutboundTrunk("pbx.example", "+15550000000")
	m, err := lkgate.New(lkgate.Config{URL: "http://elsewhere.invalid", APIKey: lkgatetest.APIKey, APISecret: lkgatetest.APISecret,
		RoomService: lkgate.NewRoomService(srv.URL(), lkgatetest.APIKey, lkgatetest.APISecret)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	sip := srv.NewSIP(t, m, lkgate.SIPConfig{Trunks: lkgate.StaticTrunk(trunk)})
	_, err = sip.Call(context.Background(), "acme", lkgate.CallRequest{Room: "r", Identity: "phone", To: "+15550100"})
	if d := srv.Dialed(); err != nil || len(d) != 1 || d[0].SipTrunkId != trunk {
		t.Errorf("dialed %v (%v), want one call through %s", d, err, trunk)
	}

	tb := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.NewSIP(tb, m, lkgate.SIPConfig{})
		t.Error("NewSIP returned with a config lkgate.NewSIP refuses")
	}()
	<-done
	if !strings.Contains(tb.msg, "SIPConfig.Trunks") {
		t.Errorf("failure %q does not say what NewSIP refused", tb.msg)
	}
}

func TestSIPNeedsSIPGrants(t *testing.T) {
	srv := lkgatetest.NewServer(t)
	trunk := srv.AddOutboundTrunk("pbx.example", "+15550000000")
	raw := livekit.NewSIPProtobufClient(srv.URL(), http.DefaultClient)
	for name, grant := range map[string]*auth.SIPGrant{"no SIP grant": nil, "admin only": {Admin: true}} {
		tok := auth.NewAccessToken(lkgatetest.APIKey, lkgatetest.APISecret).SetVideoGrant(&auth.VideoGrant{RoomAdmin: true, Room: "r"})
		if grant != nil {
			tok.SetSIPGrant(grant)
		}
		jwt, err := tok.ToJWT()
		if err != nil {
			t.Fatal(err)
		}
		ctx, err := twirp.WithHTTPRequestHeaders(context.Background(), http.Header{"Authorization": {"Bearer " + jwt}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = raw.CreateSIPParticipant(ctx, &livekit.CreateSIPParticipantRequest{SipTrunkId: trunk, SipCallTo: "+15550100", RoomName: "r", ParticipantIdentity: "p"})
		wantErr(t, err, twirp.Unauthenticated, "")
		if name == "admin only" {
			continue
		}
		_, err = raw.CreateSIPOutboundTrunk(ctx, &livekit.CreateSIPOutboundTrunkRequest{Trunk: &livekit.SIPOutboundTrunkInfo{Address: "x"}})
		wantErr(t, err, twirp.Unauthenticated, "")
	}
	if len(srv.Dialed()) != 0 {
		t.Error("a refused request was dialed")
	}
}

func TestSIPUnimplementedAndRecorded(t *testing.T) {
	srv := lkgatetest.NewServer(t)
	sc := lksdk.NewSIPClient(srv.URL(), lkgatetest.APIKey, lkgatetest.APISecret)
	ctx := context.Background()
	_, err := sc.ListSIPDispatchRule(ctx, &livekit.ListSIPDispatchRuleRequest{})
	wantErr(t, err, twirp.Unimplemented, "")
	tr, err := sc.CreateSIPOutboundTrunk(ctx, &livekit.CreateSIPOutboundTrunkRequest{Trunk: &livekit.SIPOutboundTrunkInfo{Address: "pbx.example", Numbers: []string{"+15550000000"}}})
	if err != nil || tr.SipTrunkId == "" || tr.Address != "pbx.example" {
		t.Fatalf("%v %v", tr, err)
	}
	if _, err := sc.CreateSIPParticipant(ctx, &livekit.CreateSIPParticipantRequest{SipTrunkId: tr.SipTrunkId, SipCallTo: "+15550100", RoomName: "r", ParticipantIdentity: "p"}); err != nil {
		t.Fatal(err)
	}
	d := srv.Dialed()
	d[0].SipCallTo = "changed"
	if srv.Dialed()[0].SipCallTo != "+15550100" {
		t.Error("Dialed returned the stored request, not a copy")
	}
	if ps := srv.Participants("r"); len(ps) != 1 || ps[0].Kind != livekit.ParticipantInfo_SIP || ps[0].Attributes["sip.callStatus"] != "active" {
		t.Errorf("participants %v", ps)
	}
	if srv.Calls("CreateSIPParticipant") != 1 || srv.Calls("ListSIPDispatchRule") != 1 {
		t.Error("SIP calls not counted")
	}
}

// A call without a caller number presents the trunk's; a trunk with none
// (which CreateSIPOutboundTrunk refuses, but AddOutboundTrunk allows) has
// nothing to present, as the server reports.
func TestSIPCallerNumberFromTrunk(t *testing.T) {
	srv := lkgatetest.NewServer(t)
	sc := lksdk.NewSIPClient(srv.URL(), lkgatetest.APIKey, lkgatetest.APISecret)
	ctx := context.Background()
	call := func(trunk string) error {
		_, err := sc.CreateSIPParticipant(ctx, &livekit.CreateSIPParticipantRequest{SipTrunkId: trunk, SipCallTo: "+15550100", RoomName: "r", ParticipantIdentity: "p"})
		return err
	}
	if err := call(srv.AddOutboundTrunk("pbx.example", "+15550000007")); err != nil {
		t.Fatal(err)
	}
	if ps := srv.Participants("r"); len(ps) != 1 || ps[0].Attributes["sip.trunkPhoneNumber"] != "+15550000007" {
		t.Errorf("participants %v", ps)
	}
	wantErr(t, call(srv.AddOutboundTrunk("bare.example")), twirp.Internal, "no numbers on outbound trunk")
	if n := len(srv.Dialed()); n != 1 {
		t.Errorf("%d calls dialed, want 1", n)
	}
}
