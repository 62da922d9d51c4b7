package sipstack

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/twitchtv/twirp"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

func describe(t *testing.T, what string, err error) {
	var tw twirp.Error
	st, ok := status.FromError(err)
	sip := lksdk.SIPStatusFrom(err)
	if errors.As(err, &tw) {
		t.Logf("%s: twirp code=%s msg=%q sip=%v", what, tw.Code(), tw.Msg(), sip)
	} else if ok {
		t.Logf("%s: grpc code=%s msg=%q sip=%v", what, st.Code(), st.Message(), sip)
	} else {
		t.Logf("%s: other %T %v", what, err, err)
	}
}

func TestProbe(t *testing.T) {
	s := Start(t)
	t.Logf("started in %v", s.Started)
	c := lksdk.NewSIPClient(s.LiveKit.URL, s.LiveKit.APIKey, s.LiveKit.APISecret)
	ctx := context.Background()
	run := func(name, scen string, o PeerOptions, req *livekit.CreateSIPParticipantRequest, transfer string) {
		p := StartPeer(t, scen, o)
		req.SipTrunkId = s.Trunk(t, p.Addr)
		req.SipNumber = TrunkNumber
		req.RoomName = name
		req.ParticipantIdentity = "phone"
		req.ParticipantAttributes = map[string]string{"lkgate.tenant": "acme"}
		begin := time.Now()
		info, err := c.CreateSIPParticipant(ctx, req)
		t.Logf("%s: call took %v info=%v", name, time.Since(begin), info)
		if err != nil {
			describe(t, name+" call", err)
			return
		}
		if transfer != "" {
			begin = time.Now()
			_, err = c.TransferSIPParticipant(ctx, &livekit.TransferSIPParticipantRequest{RoomName: name, ParticipantIdentity: "phone", TransferTo: transfer})
			t.Logf("%s: transfer took %v", name, time.Since(begin))
			if err != nil {
				describe(t, name+" transfer", err)
			}
			t.Logf("actions: %s", p.Actions())
		}
		rc := lksdk.NewRoomServiceClient(s.LiveKit.URL, s.LiveKit.APIKey, s.LiveKit.APISecret)
		pi, err := rc.GetParticipant(ctx, &livekit.RoomParticipantIdentity{Room: name, Identity: "phone"})
		t.Logf("participant %v %v", pi, err)
	}
	run("busy", Busy, PeerOptions{Ring: 100 * time.Millisecond}, &livekit.CreateSIPParticipantRequest{SipCallTo: "+15551230001", WaitUntilAnswered: true}, "")
	run("refer", AnswerAndRefer, PeerOptions{}, &livekit.CreateSIPParticipantRequest{SipCallTo: "+15551230002", WaitUntilAnswered: true}, "tel:+15551230009")
	run("refer403", AnswerRefuseRefer, PeerOptions{}, &livekit.CreateSIPParticipantRequest{SipCallTo: "+15551230003", WaitUntilAnswered: true}, "tel:+15551230009")
	run("notify503", AnswerAndRefer, PeerOptions{Notify: "503 Service Unavailable"}, &livekit.CreateSIPParticipantRequest{SipCallTo: "+15551230004", WaitUntilAnswered: true}, "tel:+15551230009")
	run("noanswer", AnswerAndRefer, PeerOptions{Ring: 5 * time.Second}, &livekit.CreateSIPParticipantRequest{SipCallTo: "+15551230005", WaitUntilAnswered: true, RingingTimeout: durationpb.New(2 * time.Second)}, "")
	_, err := c.CreateSIPParticipant(ctx, &livekit.CreateSIPParticipantRequest{SipTrunkId: "ST_nope", SipCallTo: "+15551230006", RoomName: "x", ParticipantIdentity: "p"})
	describe(t, "unknown trunk", err)
}
