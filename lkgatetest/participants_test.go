package lkgatetest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/lkgate/lkgate/lkgatetest"
)

// mic and camera are the tracks most tests seed.
func mic() lkgatetest.Track {
	return lkgatetest.Track{Sid: "TR_mic", Source: livekit.TrackSource_MICROPHONE, Type: livekit.TrackType_AUDIO, Name: "mic"}
}

func camera() lkgatetest.Track {
	return lkgatetest.Track{Source: livekit.TrackSource_CAMERA, Type: livekit.TrackType_VIDEO}
}

func TestAddParticipant(t *testing.T) {
	srv, rc := newFake(t)
	now, clock := frozenClock()
	srv.SetClock(clock)

	got := srv.AddParticipant("r", lkgatetest.Participant{
		Identity:   "alice",
		Name:       "Alice",
		Metadata:   "md",
		Attributes: map[string]string{"k": "v"},
		Kind:       livekit.ParticipantInfo_SIP,
		Tracks:     []lkgatetest.Track{mic(), camera()},
	})
	want := &livekit.ParticipantInfo{
		Identity:   "alice",
		Name:       "Alice",
		Metadata:   "md",
		Attributes: map[string]string{"k": "v"},
		Kind:       livekit.ParticipantInfo_SIP,
		State:      livekit.ParticipantInfo_ACTIVE,
		JoinedAt:   now.Unix(),
		JoinedAtMs: now.UnixMilli(),
		Permission: &livekit.ParticipantPermission{CanSubscribe: true, CanPublish: true, CanPublishData: true},
		Tracks: []*livekit.TrackInfo{
			{Sid: "TR_mic", Source: livekit.TrackSource_MICROPHONE, Type: livekit.TrackType_AUDIO, Name: "mic"},
			{Source: livekit.TrackSource_CAMERA, Type: livekit.TrackType_VIDEO},
		},
		IsPublisher: true,
	}
	ignoreSids := cmp.Options{
		protocmp.Transform(),
		protocmp.IgnoreFields(&livekit.ParticipantInfo{}, "sid"),
		protocmp.IgnoreFields(&livekit.TrackInfo{}, "sid"),
	}
	if diff := cmp.Diff(want, got, ignoreSids); diff != "" {
		t.Fatalf("AddParticipant (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(got.Sid, "PA_") || got.Tracks[0].Sid != "TR_mic" || !strings.HasPrefix(got.Tracks[1].Sid, "TR_") {
		t.Fatalf("sids = %q, %q, %q", got.Sid, got.Tracks[0].Sid, got.Tracks[1].Sid)
	}

	// A join creates the room with defaults and empty metadata.
	room, ok := srv.Room("r")
	if !ok || room.Metadata != "" || room.EmptyTimeout != 300 || room.DepartureTimeout != 20 || room.NumParticipants != 1 || room.NumPublishers != 1 {
		t.Fatalf("room = %v, %v", room, ok)
	}

	fetched, err := rc.GetParticipant(context.Background(), &livekit.RoomParticipantIdentity{Room: "r", Identity: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, fetched, protocmp.Transform()); diff != "" {
		t.Fatalf("GetParticipant (-added +fetched):\n%s", diff)
	}
}

func TestAddParticipantReplacesIdentity(t *testing.T) {
	srv, _ := newFake(t)
	first := srv.AddParticipant("r", lkgatetest.Participant{Identity: "alice", Metadata: "first"})
	srv.AddParticipant("r", lkgatetest.Participant{Identity: "bob"})
	second := srv.AddParticipant("r", lkgatetest.Participant{Identity: "alice", Metadata: "second"})
	if first.Sid == second.Sid {
		t.Fatal("rejoin kept the sid")
	}
	ps := srv.Participants("r")
	if len(ps) != 2 || ps[0].Identity != "bob" || ps[1].Metadata != "second" {
		t.Fatalf("participants = %v, want bob then the second alice", ps)
	}
}

func TestListParticipants(t *testing.T) {
	srv, rc := newFake(t)
	ctx := context.Background()

	res, err := rc.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: "missing"})
	if err != nil || len(res.Participants) != 0 {
		t.Fatalf("unknown room: %v, %v; want empty list, no error", res, err)
	}

	srv.AddParticipant("r", lkgatetest.Participant{Identity: "alice"})
	srv.AddParticipant("r", lkgatetest.Participant{Identity: "ghost", Permission: &livekit.ParticipantPermission{Hidden: true}})
	res, err = rc.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(srv.Participants("r"), res.Participants, protocmp.Transform()); diff != "" {
		t.Fatalf("ListParticipants (-stored +listed):\n%s", diff)
	}
	if len(res.Participants) != 2 {
		t.Fatalf("got %d participants, want 2 (hidden ones are listed)", len(res.Participants))
	}
}

func TestGetParticipantNotFound(t *testing.T) {
	srv, rc := newFake(t)
	srv.AddParticipant("r", lkgatetest.Participant{Identity: "alice"})
	for _, req := range []*livekit.RoomParticipantIdentity{
		{Room: "r", Identity: "bob"},
		{Room: "missing", Identity: "alice"},
	} {
		_, err := rc.GetParticipant(context.Background(), req)
		wantErr(t, err, twirp.NotFound, "twirp error unknown: participant does not exist")
	}
}

func TestRemoveParticipant(t *testing.T) {
	srv, rc := newFake(t)
	ctx := context.Background()
	srv.AddParticipant("r", lkgatetest.Participant{Identity: "alice"})

	_, err := rc.RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: "r", Identity: "bob"})
	wantErr(t, err, twirp.NotFound, "participant not found")
	_, err = rc.RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: "missing", Identity: "alice"})
	wantErr(t, err, twirp.NotFound, "participant not found")

	if _, err := rc.RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: "r", Identity: "alice"}); err != nil {
		t.Fatal(err)
	}
	if ps := srv.Participants("r"); len(ps) != 0 {
		t.Fatalf("participants after removal = %v", ps)
	}
}

func TestMutePublishedTrack(t *testing.T) {
	srv, rc := newFake(t)
	ctx := context.Background()
	srv.AddParticipant("r", lkgatetest.Participant{Identity: "alice", Tracks: []lkgatetest.Track{mic()}})

	for _, req := range []*livekit.MuteRoomTrackRequest{
		{Room: "r", Identity: "bob", TrackSid: "TR_mic", Muted: true},
		{Room: "missing", Identity: "alice", TrackSid: "TR_mic", Muted: true},
	} {
		_, err := rc.MutePublishedTrack(ctx, req)
		wantErr(t, err, twirp.Unavailable, "twirp error unknown: no response from servers")
	}

	res, err := rc.MutePublishedTrack(ctx, &livekit.MuteRoomTrackRequest{Room: "r", Identity: "alice", TrackSid: "TR_unknown", Muted: true})
	if err != nil || res.Track != nil {
		t.Fatalf("unknown track: %v, %v; want nil track, no error", res, err)
	}

	res, err = rc.MutePublishedTrack(ctx, &livekit.MuteRoomTrackRequest{Room: "r", Identity: "alice", TrackSid: "TR_mic", Muted: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Track.Muted || res.Track.Sid != "TR_mic" {
		t.Fatalf("track = %v, want TR_mic muted", res.Track)
	}
	if !srv.Participants("r")[0].Tracks[0].Muted {
		t.Fatal("mute not stored")
	}

	_, err = rc.MutePublishedTrack(ctx, &livekit.MuteRoomTrackRequest{Room: "r", Identity: "alice", TrackSid: "TR_mic", Muted: false})
	wantErr(t, err, twirp.FailedPrecondition, "twirp error unknown: remote unmute not enabled")
}

func TestUpdateParticipant(t *testing.T) {
	srv, rc := newFake(t)
	ctx := context.Background()
	initial := &livekit.ParticipantPermission{CanSubscribe: true, CanPublish: true, CanPublishData: true, CanUpdateMetadata: true}
	srv.AddParticipant("r", lkgatetest.Participant{
		Identity:   "alice",
		Name:       "Alice",
		Attributes: map[string]string{"keep": "1", "drop": "1"},
		Permission: initial,
		Tracks:     []lkgatetest.Track{mic(), camera()},
	})

	// Metadata only: permissions, name and attributes stay.
	got, err := rc.UpdateParticipant(ctx, &livekit.UpdateParticipantRequest{Room: "r", Identity: "alice", Metadata: "md"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Metadata != "md" || got.Name != "Alice" || !cmp.Equal(initial, got.Permission, protocmp.Transform()) {
		t.Fatalf("after metadata update: %v", got)
	}

	// Name, attribute merge and a permission that replaces the whole set.
	got, err = rc.UpdateParticipant(ctx, &livekit.UpdateParticipantRequest{
		Room: "r", Identity: "alice",
		Name:       "Al",
		Attributes: map[string]string{"drop": "", "new": "2"},
		Permission: &livekit.ParticipantPermission{
			CanPublish: true, CanPublishSources: []livekit.TrackSource{livekit.TrackSource_MICROPHONE}, Hidden: true,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := &livekit.ParticipantInfo{
		Identity:   "alice",
		Name:       "Al",
		Metadata:   "md",
		Attributes: map[string]string{"keep": "1", "new": "2"},
		Permission: &livekit.ParticipantPermission{
			CanPublish: true, CanPublishSources: []livekit.TrackSource{livekit.TrackSource_MICROPHONE}, Hidden: true,
		},
		Tracks:      []*livekit.TrackInfo{{Sid: "TR_mic", Source: livekit.TrackSource_MICROPHONE, Type: livekit.TrackType_AUDIO, Name: "mic"}},
		IsPublisher: true,
	}
	opts := cmp.Options{protocmp.Transform(), protocmp.IgnoreFields(&livekit.ParticipantInfo{}, "sid", "state", "joined_at", "joined_at_ms")}
	if diff := cmp.Diff(want, got, opts); diff != "" {
		t.Fatalf("UpdateParticipant (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(got, srv.Participants("r")[0], protocmp.Transform()); diff != "" {
		t.Fatalf("stored participant (-returned +stored):\n%s", diff)
	}

	// Empty name and metadata leave them alone.
	got, err = rc.UpdateParticipant(ctx, &livekit.UpdateParticipantRequest{Room: "r", Identity: "alice"})
	if err != nil || got.Name != "Al" || got.Metadata != "md" {
		t.Fatalf("empty update: %v, %v", got, err)
	}
}

func TestUpdateParticipantErrors(t *testing.T) {
	srv, rc := newFake(t)
	ctx := context.Background()
	srv.AddParticipant("r", lkgatetest.Participant{Identity: "alice"})

	tests := []struct {
		name string
		req  *livekit.UpdateParticipantRequest
		code twirp.ErrorCode
		msg  string
	}{
		{"unknown identity", &livekit.UpdateParticipantRequest{Room: "r", Identity: "bob", Metadata: "m"},
			twirp.Unavailable, "twirp error unknown: no response from servers"},
		{"unknown room", &livekit.UpdateParticipantRequest{Room: "missing", Identity: "alice", Metadata: "m"},
			twirp.Unavailable, "twirp error unknown: no response from servers"},
		{"long name", &livekit.UpdateParticipantRequest{Room: "r", Identity: "alice", Name: strings.Repeat("n", 257)},
			twirp.InvalidArgument, "name length exceeds limits 256"},
		{"large metadata", &livekit.UpdateParticipantRequest{Room: "r", Identity: "alice", Metadata: strings.Repeat("m", 64001)},
			twirp.InvalidArgument, "metadata size exceeds limits 64000"},
		{"large attributes", &livekit.UpdateParticipantRequest{Room: "r", Identity: "alice", Attributes: map[string]string{"k": strings.Repeat("v", 64000)}},
			twirp.InvalidArgument, "attribute size exceeds limits 64000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := rc.UpdateParticipant(ctx, tt.req)
			wantErr(t, err, tt.code, tt.msg)
		})
	}
}

func TestSendData(t *testing.T) {
	srv, rc := newFake(t)
	ctx := context.Background()

	_, err := rc.SendData(ctx, &livekit.SendDataRequest{Room: "missing", Data: []byte("x")})
	wantErr(t, err, twirp.Unavailable, "twirp error unknown: no response from servers")

	srv.AddParticipant("r", lkgatetest.Participant{Identity: "alice"})
	topic := "chat"
	req := &livekit.SendDataRequest{
		Room: "r", Data: []byte("hello"), Kind: livekit.DataPacket_RELIABLE,
		DestinationIdentities: []string{"alice"}, Topic: &topic,
	}
	if _, err := rc.SendData(ctx, req); err != nil {
		t.Fatal(err)
	}
	sent := srv.SentData("r")
	if len(sent) != 1 {
		t.Fatalf("SentData = %v, want one request", sent)
	}
	// The SDK adds a 16-byte nonce to the request it is given.
	if len(sent[0].Nonce) != 16 {
		t.Fatalf("nonce = %x", sent[0].Nonce)
	}
	if diff := cmp.Diff(req, sent[0], protocmp.Transform()); diff != "" {
		t.Fatalf("SentData (-sent +recorded):\n%s", diff)
	}
}

func TestUpdateSubscriptions(t *testing.T) {
	srv, rc := newFake(t)
	ctx := context.Background()
	srv.AddParticipant("r", lkgatetest.Participant{Identity: "alice"})

	_, err := rc.UpdateSubscriptions(ctx, &livekit.UpdateSubscriptionsRequest{Room: "r", Identity: "bob", TrackSids: []string{"TR_x"}})
	wantErr(t, err, twirp.Unavailable, "twirp error unknown: no response from servers")

	if _, err := rc.UpdateSubscriptions(ctx, &livekit.UpdateSubscriptionsRequest{Room: "r", Identity: "alice", TrackSids: []string{"TR_x"}}); err != nil {
		t.Fatal(err)
	}
}
