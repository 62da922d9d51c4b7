package integration

import (
	"testing"

	"github.com/lkgate/lkgate/internal/contract"
	"github.com/lkgate/lkgate/internal/lkserver"
)

// The contract suite against a real livekit-server; lkgatetest runs the same
// suite against the fake.
func TestContractRealServer(t *testing.T) {
	srv := lkserver.Shared(t)
	contract.Run(t, contract.Target{
		URL: srv.URL, APIKey: srv.APIKey, APISecret: srv.APISecret,
		Join: func(t *testing.T, room, identity string, attributes map[string]string) {
			joinAs(t, srv, room, identity, attributes)
		},
		Publish: func(t *testing.T, room, identity string) string {
			lkserver.PublishAudio(t, joinAs(t, srv, room, identity, nil))
			return waitForTracks(t, srv, room, identity, 1).Tracks[0].Sid
		},
		JoinToken: func(t *testing.T, room, identity, token string) {
			srv.Join(t, token)
			waitForParticipant(t, srv, room, identity)
		},
	})
}
