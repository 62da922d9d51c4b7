package lkgatetest_test

import (
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
