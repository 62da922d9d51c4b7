package lkgatetest_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/twitchtv/twirp"

	"github.com/lkgate/lkgate/lkgatetest"
)

func Example() {
	srv := lkgatetest.NewUnstartedServer()
	// Seed before serving: alice joins "standup" with her microphone on.
	srv.AddParticipant("standup", lkgatetest.Participant{
		Identity: "alice",
		Tracks: []lkgatetest.Track{
			{Sid: "TR_mic", Source: livekit.TrackSource_MICROPHONE, Type: livekit.TrackType_AUDIO},
		},
	})
	srv.Start()
	defer srv.Close()

	// The code under test uses the real SDK client.
	rc := lksdk.NewRoomServiceClient(srv.URL(), lkgatetest.APIKey, lkgatetest.APISecret)
	ctx := context.Background()

	res, err := rc.MutePublishedTrack(ctx, &livekit.MuteRoomTrackRequest{
		Room: "standup", Identity: "alice", TrackSid: "TR_mic", Muted: true,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("muted:", res.Track.Muted)

	_, err = rc.GetParticipant(ctx, &livekit.RoomParticipantIdentity{Room: "standup", Identity: "bob"})
	var terr twirp.Error
	if errors.As(err, &terr) {
		fmt.Println("bob:", terr.Code())
	}

	// Inspect state and count round trips directly.
	fmt.Println("alice muted in state:", srv.Participants("standup")[0].Tracks[0].Muted)
	fmt.Println("LiveKit calls:", srv.TotalCalls())
	// Output:
	// muted: true
	// bob: not_found
	// alice muted in state: true
	// LiveKit calls: 2
}
