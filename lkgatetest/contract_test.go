package lkgatetest_test

import (
	"fmt"
	"testing"

	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate/internal/contract"
	"github.com/lkgate/lkgate/lkgatetest"
)

// The fake passes the same contract suite as a real livekit-server
// (internal/integration runs it there).
func TestContract(t *testing.T) {
	fake := lkgatetest.NewServer(t)
	contract.Run(t, contract.Target{
		URL: fake.URL(), APIKey: lkgatetest.APIKey, APISecret: lkgatetest.APISecret,
		Join: func(t *testing.T, room, identity string, attributes map[string]string) {
			fake.AddParticipant(room, lkgatetest.Participant{Identity: identity, Attributes: attributes})
		},
		Publish: func(t *testing.T, room, identity string) string {
			p := fake.AddParticipant(room, lkgatetest.Participant{Identity: identity, Tracks: []lkgatetest.Track{
				{Source: livekit.TrackSource_MICROPHONE, Type: livekit.TrackType_AUDIO},
			}})
			return p.Tracks[0].Sid
		},
		JoinToken: func(t *testing.T, _, _, token string) {
			if _, err := fake.Join(token); err != nil {
				t.Fatal(err)
			}
		},
	})
}

// The fake's SIP passes the SIP contract suite that internal/integration
// runs against livekit-server, livekit-sip and sipp.
func TestSIPContract(t *testing.T) {
	fake := lkgatetest.NewServer(t)
	trunk := fake.AddOutboundTrunk("pbx.example:5060", contract.TrunkNumber)
	farEnds := map[contract.FarEnd]lkgatetest.FarEnd{
		contract.Answers:         {},
		contract.IsBusy:          {CallStatus: 486},
		contract.RefusesTransfer: {ReferStatus: 403},
		contract.FailsTransfer:   {NotifyStatus: 503},
	}
	contract.RunSIP(t, contract.SIPTarget{
		URL: fake.URL(), APIKey: lkgatetest.APIKey, APISecret: lkgatetest.APISecret,
		Phone: func(t *testing.T, far contract.FarEnd) (string, string) {
			number := fmt.Sprintf("+1555010%d", far)
			fake.SetFarEnd(number, farEnds[far])
			return trunk, number
		},
		Transferred: func(t *testing.T) string {
			tr := fake.Transfers()
			if len(tr) == 0 {
				return "(none)"
			}
			return tr[len(tr)-1].TransferTo
		},
	})
}
