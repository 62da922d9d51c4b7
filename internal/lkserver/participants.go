package lkserver

import (
	"context"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/lkgate/lkgate"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// Join connects a real Go participant to the server with token (auto-subscribe
// off) and disconnects it in t's cleanup. It fails t if the join fails.
func (s *Server) Join(t testing.TB, token string) *lksdk.Room {
	t.Helper()
	return s.JoinWithCallback(t, token, &lksdk.RoomCallback{})
}

// JoinWithCallback is Join with room callbacks, for tests that observe
// disconnects, permission changes and other participants. The SDK calls cb on
// its own goroutines: hand results to the test over channels. opts are applied
// after WithAutoSubscribe(false), so they can turn auto-subscribe back on.
func (s *Server) JoinWithCallback(t testing.TB, token string, cb *lksdk.RoomCallback, opts ...lksdk.ConnectOption) *lksdk.Room {
	t.Helper()
	opts = append([]lksdk.ConnectOption{lksdk.WithAutoSubscribe(false)}, opts...)
	room, err := lksdk.ConnectToRoomWithToken(s.WSURL, token, cb, opts...)
	if err != nil {
		t.Fatalf("lkserver: joining %s: %s", s.WSURL, lkgate.Redact(err.Error()))
	}
	t.Cleanup(room.Disconnect)
	return room
}

// opusSilence is one 20 ms Opus frame of silence (TOC 0xf8: CELT fullband, 20 ms).
var opusSilence = []byte{0xf8, 0xff, 0xfe}

const opusFrame = 20 * time.Millisecond

// PublishAudio publishes a microphone Opus track from room's local participant
// and keeps sending silence on it until t's cleanup, so the track stays live.
func PublishAudio(t testing.TB, room *lksdk.Room) *lksdk.LocalTrackPublication {
	t.Helper()
	track, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{
		MimeType:  webrtc.MimeTypeOpus,
		ClockRate: 48000,
		Channels:  2,
	})
	if err != nil {
		t.Fatalf("lkserver: creating Opus track: %v", err)
	}
	pub, err := room.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{
		Name:   "silence",
		Source: livekit.TrackSource_MICROPHONE,
	})
	if err != nil {
		t.Fatalf("lkserver: publishing Opus track: %s", lkgate.Redact(err.Error()))
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(opusFrame)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				// Errors are expected once the server unpublishes the track or
				// the room disconnects; the test observes those through the room.
				_ = track.WriteSample(media.Sample{Data: opusSilence, Duration: opusFrame}, nil)
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = track.Close()
	})
	return pub
}
