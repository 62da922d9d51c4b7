package lkgatetest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/lkgate/lkgate/lkgatetest"
)

func TestCreateRoom(t *testing.T) {
	srv, rc := newFake(t)
	now, clock := frozenClock()
	srv.SetClock(clock)

	got, err := rc.CreateRoom(context.Background(), &livekit.CreateRoomRequest{
		Name: "r", MaxParticipants: 5, Metadata: "m",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := &livekit.Room{
		Name:             "r",
		EmptyTimeout:     300,
		DepartureTimeout: 20,
		MaxParticipants:  5,
		Metadata:         "m",
		CreationTime:     now.Unix(),
		CreationTimeMs:   now.UnixMilli(),
	}
	if diff := cmp.Diff(want, got, protocmp.Transform(), protocmp.IgnoreFields(&livekit.Room{}, "sid")); diff != "" {
		t.Fatalf("CreateRoom (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(got.Sid, "RM_") {
		t.Fatalf("sid = %q, want RM_ prefix", got.Sid)
	}
	stored, ok := srv.Room("r")
	if !ok {
		t.Fatal("room not stored")
	}
	if diff := cmp.Diff(got, stored, protocmp.Transform()); diff != "" {
		t.Fatalf("stored room (-returned +stored):\n%s", diff)
	}
}

func TestCreateRoomTimeouts(t *testing.T) {
	_, rc := newFake(t)
	got, err := rc.CreateRoom(context.Background(), &livekit.CreateRoomRequest{
		Name: "r", EmptyTimeout: 7, DepartureTimeout: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.EmptyTimeout != 7 || got.DepartureTimeout != 3 {
		t.Fatalf("timeouts = %d/%d, want 7/3", got.EmptyTimeout, got.DepartureTimeout)
	}
}

func TestCreateRoomExistingIsGet(t *testing.T) {
	_, rc := newFake(t)
	ctx := context.Background()
	first, err := rc.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "r", Metadata: "owner=a"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := rc.CreateRoom(ctx, &livekit.CreateRoomRequest{
		Name: "r", Metadata: "owner=b", EmptyTimeout: 10, MaxParticipants: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, again, protocmp.Transform()); diff != "" {
		t.Fatalf("second CreateRoom changed the room (-first +second):\n%s", diff)
	}
}

func TestCreateRoomNames(t *testing.T) {
	srv, rc := newFake(t)
	ctx := context.Background()

	if _, err := rc.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: ""}); err != nil {
		t.Fatalf("empty name: %v", err)
	}
	if _, ok := srv.Room(""); !ok {
		t.Fatal(`room "" not stored`)
	}
	if _, err := rc.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: strings.Repeat("a", 256)}); err != nil {
		t.Fatalf("256-byte name: %v", err)
	}
	_, err := rc.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: strings.Repeat("a", 257)})
	wantErr(t, err, twirp.InvalidArgument, "twirp error unknown: room name length exceeds limits: max length 256")
}

func TestCreateRoomLargeMetadata(t *testing.T) {
	_, rc := newFake(t)
	md := strings.Repeat("x", 100_000)
	got, err := rc.CreateRoom(context.Background(), &livekit.CreateRoomRequest{Name: "r", Metadata: md})
	if err != nil {
		t.Fatal(err)
	}
	if got.Metadata != md {
		t.Fatal("metadata not kept")
	}
}

func TestListRooms(t *testing.T) {
	srv, rc := newFake(t)
	ctx := context.Background()
	now, clock := frozenClock()
	srv.SetClock(clock)
	for _, name := range []string{"b", "a"} {
		if _, err := rc.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	later := now.Add(time.Second)
	srv.SetClock(func() time.Time { return later })
	srv.AddParticipant("c", lkgatetest.Participant{Identity: "alice"})
	srv.AddParticipant("c", lkgatetest.Participant{Identity: "bob"})
	srv.AddParticipant("c", lkgatetest.Participant{Identity: "agent", Kind: livekit.ParticipantInfo_AGENT})

	tests := []struct {
		names []string
		want  []string
	}{
		{nil, []string{"a", "b", "c"}}, // creation time, then name
		{[]string{"c", "missing"}, []string{"c"}},
		{[]string{"missing"}, nil},
	}
	for _, tt := range tests {
		res, err := rc.ListRooms(ctx, &livekit.ListRoomsRequest{Names: tt.names})
		if err != nil {
			t.Fatalf("ListRooms(%q): %v", tt.names, err)
		}
		var got []string
		for _, r := range res.Rooms {
			got = append(got, r.Name)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ListRooms(%q) names (-want +got):\n%s", tt.names, diff)
		}
	}

	res, err := rc.ListRooms(ctx, &livekit.ListRoomsRequest{Names: []string{"c"}})
	if err != nil {
		t.Fatal(err)
	}
	// The agent does not count, as on the real server.
	if n := res.Rooms[0].NumParticipants; n != 2 {
		t.Fatalf("NumParticipants = %d, want 2", n)
	}
}

func TestDeleteRoom(t *testing.T) {
	srv, rc := newFake(t)
	ctx := context.Background()

	_, err := rc.DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: "missing"})
	wantErr(t, err, twirp.NotFound, "twirp error unknown: requested room does not exist")

	first := srv.AddParticipant("r", lkgatetest.Participant{Identity: "alice"})
	room, _ := srv.Room("r")
	if _, err := rc.DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: "r"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.Room("r"); ok {
		t.Fatal("room still present")
	}
	_, err = rc.GetParticipant(ctx, &livekit.RoomParticipantIdentity{Room: "r", Identity: first.Identity})
	wantErr(t, err, twirp.NotFound, "")

	again, err := rc.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if again.Sid == room.Sid || again.NumParticipants != 0 {
		t.Fatalf("re-created room = %v, want a new empty room", again)
	}
}

func TestUpdateRoomMetadata(t *testing.T) {
	srv, rc := newFake(t)
	ctx := context.Background()
	if _, err := rc.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "r", Metadata: "old"}); err != nil {
		t.Fatal(err)
	}

	got, err := rc.UpdateRoomMetadata(ctx, &livekit.UpdateRoomMetadataRequest{Room: "r", Metadata: "new"})
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := srv.Room("r")
	if got.Metadata != "new" || stored.Metadata != "new" {
		t.Fatalf("metadata returned %q, stored %q; want new", got.Metadata, stored.Metadata)
	}

	if _, err := rc.UpdateRoomMetadata(ctx, &livekit.UpdateRoomMetadataRequest{Room: "r", Metadata: strings.Repeat("x", 64000)}); err != nil {
		t.Fatalf("64000 bytes: %v", err)
	}
	_, err = rc.UpdateRoomMetadata(ctx, &livekit.UpdateRoomMetadataRequest{Room: "r", Metadata: strings.Repeat("x", 64001)})
	wantErr(t, err, twirp.InvalidArgument, "metadata size exceeds limits 64000")

	_, err = rc.UpdateRoomMetadata(ctx, &livekit.UpdateRoomMetadataRequest{Room: "missing", Metadata: "m"})
	wantErr(t, err, twirp.NotFound, "twirp error unknown: requested room does not exist")
}

func TestUnimplemented(t *testing.T) {
	_, rc := newFake(t)
	ctx := context.Background()
	_, err := rc.ForwardParticipant(ctx, &livekit.ForwardParticipantRequest{Room: "r", Identity: "a", DestinationRoom: "d"})
	wantErr(t, err, twirp.Unimplemented, "")
	_, err = rc.MoveParticipant(ctx, &livekit.MoveParticipantRequest{Room: "r", Identity: "a", DestinationRoom: "d"})
	wantErr(t, err, twirp.Unimplemented, "")
}
