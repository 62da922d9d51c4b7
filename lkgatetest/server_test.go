package lkgatetest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/twitchtv/twirp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/lkgate/lkgate/lkgatetest"
)

// newFake starts a fake and returns it with an SDK client signing admin
// tokens, as production code would.
func newFake(t *testing.T) (*lkgatetest.Server, *lksdk.RoomServiceClient) {
	t.Helper()
	srv := lkgatetest.NewServer(t)
	return srv, lksdk.NewRoomServiceClient(srv.URL(), lkgatetest.APIKey, lkgatetest.APISecret)
}

// frozenClock returns a clock stopped at the current second. Staying near
// real time matters: the SDK signs tokens with the real clock, and the fake
// checks them against its own.
func frozenClock() (time.Time, func() time.Time) {
	now := time.Now().Truncate(time.Second)
	return now, func() time.Time { return now }
}

// wantErr fails unless err is a twirp error with the code and, when msg is
// not empty, that message.
func wantErr(t *testing.T, err error, code twirp.ErrorCode, msg string) {
	t.Helper()
	var terr twirp.Error
	if !errors.As(err, &terr) {
		t.Fatalf("got error %v, want twirp %s", err, code)
	}
	if terr.Code() != code {
		t.Fatalf("got code %s (%q), want %s", terr.Code(), terr.Msg(), code)
	}
	if msg != "" && terr.Msg() != msg {
		t.Fatalf("got message %q, want %q", terr.Msg(), msg)
	}
}

func TestUnstartedServer(t *testing.T) {
	srv := lkgatetest.NewUnstartedServer()
	defer srv.Close()
	if srv.URL() != "" {
		t.Fatalf("URL before Start = %q, want empty", srv.URL())
	}
	// Seeding before Start is the point of the two-phase construction.
	srv.AddParticipant("r", lkgatetest.Participant{Identity: "alice"})
	srv.Start()
	if !strings.HasPrefix(srv.URL(), "http://127.0.0.1:") {
		t.Fatalf("URL = %q", srv.URL())
	}
	rc := lksdk.NewRoomServiceClient(srv.URL(), lkgatetest.APIKey, lkgatetest.APISecret)
	res, err := rc.ListParticipants(context.Background(), &livekit.ListParticipantsRequest{Room: "r"})
	if err != nil || len(res.Participants) != 1 {
		t.Fatalf("ListParticipants = %v, %v; want alice", res, err)
	}
}

func TestSetError(t *testing.T) {
	srv, rc := newFake(t)
	ctx := context.Background()

	srv.SetError("ListRooms", twirp.NewError(twirp.Unavailable, "try later"))
	_, err := rc.ListRooms(ctx, &livekit.ListRoomsRequest{})
	wantErr(t, err, twirp.Unavailable, "try later")
	_, err = rc.ListRooms(ctx, &livekit.ListRoomsRequest{})
	wantErr(t, err, twirp.Unavailable, "try later")

	// Other methods are unaffected.
	if _, err := rc.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "r"}); err != nil {
		t.Fatal(err)
	}

	srv.SetError("ListRooms", errors.New("boom"))
	_, err = rc.ListRooms(ctx, &livekit.ListRoomsRequest{})
	wantErr(t, err, twirp.Internal, "")

	srv.SetError("ListRooms", nil)
	if _, err := rc.ListRooms(ctx, &livekit.ListRoomsRequest{}); err != nil {
		t.Fatalf("after clearing: %v", err)
	}
}

func TestSetDelay(t *testing.T) {
	srv, rc := newFake(t)

	srv.SetDelay("ListRooms", 100*time.Millisecond)
	start := time.Now()
	if _, err := rc.ListRooms(context.Background(), &livekit.ListRoomsRequest{}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("delayed call took %v, want >= 100ms", d)
	}

	// The caller's deadline ends the wait.
	srv.SetDelay("ListRooms", time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err := rc.ListRooms(ctx, &livekit.ListRoomsRequest{}); err == nil {
		t.Fatal("want an error past the deadline")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("call took %v despite a 50ms deadline", d)
	}

	srv.SetDelay("ListRooms", 0)
	start = time.Now()
	if _, err := rc.ListRooms(context.Background(), &livekit.ListRoomsRequest{}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("undelayed call took %v", d)
	}
}

func TestCloseReleasesDelayedCalls(t *testing.T) {
	srv := lkgatetest.NewUnstartedServer()
	srv.Start()
	srv.SetDelay("ListRooms", time.Hour)
	rc := lksdk.NewRoomServiceClient(srv.URL(), lkgatetest.APIKey, lkgatetest.APISecret)

	errc := make(chan error, 1)
	go func() {
		_, err := rc.ListRooms(context.Background(), &livekit.ListRoomsRequest{})
		errc <- err
	}()
	for srv.Calls("ListRooms") == 0 {
		time.Sleep(time.Millisecond)
	}
	srv.Close()
	srv.Close() // a second Close, as NewServer's cleanup may add, is harmless
	wantErr(t, <-errc, twirp.Unavailable, "lkgatetest: server closed")
}

func TestCalls(t *testing.T) {
	srv, rc := newFake(t)
	ctx := context.Background()

	_, _ = rc.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "r"})
	_, _ = rc.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "r"})
	_, _ = rc.GetParticipant(ctx, &livekit.RoomParticipantIdentity{Room: "r", Identity: "nobody"}) // fails
	bad := lksdk.NewRoomServiceClient(srv.URL(), lkgatetest.APIKey, "wrong-secret")
	_, _ = bad.ListRooms(ctx, &livekit.ListRoomsRequest{}) // refused by auth

	got := map[string]int{
		"CreateRoom":     srv.Calls("CreateRoom"),
		"GetParticipant": srv.Calls("GetParticipant"),
		"ListRooms":      srv.Calls("ListRooms"),
		"DeleteRoom":     srv.Calls("DeleteRoom"),
		"total":          srv.TotalCalls(),
	}
	want := map[string]int{"CreateRoom": 2, "GetParticipant": 1, "ListRooms": 1, "DeleteRoom": 0, "total": 4}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("call counts (-want +got):\n%s", diff)
	}

	srv.ResetCalls()
	if n := srv.TotalCalls(); n != 0 {
		t.Fatalf("TotalCalls after reset = %d", n)
	}
}

func TestSetClock(t *testing.T) {
	srv, rc := newFake(t)
	now, clock := frozenClock()
	srv.SetClock(clock)

	room, err := rc.CreateRoom(context.Background(), &livekit.CreateRoomRequest{Name: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if room.CreationTime != now.Unix() || room.CreationTimeMs != now.UnixMilli() {
		t.Fatalf("creation time = %d / %d ms, want %d / %d", room.CreationTime, room.CreationTimeMs, now.Unix(), now.UnixMilli())
	}
	p := srv.AddParticipant("r", lkgatetest.Participant{Identity: "alice"})
	if p.JoinedAt != now.Unix() || p.JoinedAtMs != now.UnixMilli() {
		t.Fatalf("joined at = %d / %d ms, want %d / %d", p.JoinedAt, p.JoinedAtMs, now.Unix(), now.UnixMilli())
	}
}

func TestDirectAPIReturnsCopies(t *testing.T) {
	srv, rc := newFake(t)
	ctx := context.Background()

	attrs := map[string]string{"k": "v"}
	p := srv.AddParticipant("r", lkgatetest.Participant{Identity: "alice", Attributes: attrs})
	attrs["k"] = "changed by caller"
	p.Metadata = "changed by caller"
	srv.Participants("r")[0].Name = "changed by caller"
	room, _ := srv.Room("r")
	room.Metadata = "changed by caller"
	if _, err := rc.SendData(ctx, &livekit.SendDataRequest{Room: "r", Data: []byte("hi")}); err != nil {
		t.Fatal(err)
	}
	srv.SentData("r")[0].Data[0] = 'X'

	got, err := rc.GetParticipant(ctx, &livekit.RoomParticipantIdentity{Room: "r", Identity: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	want := &livekit.ParticipantInfo{Identity: "alice", Attributes: map[string]string{"k": "v"}}
	if diff := cmp.Diff(want, got, protocmp.Transform(),
		protocmp.IgnoreFields(&livekit.ParticipantInfo{}, "sid", "state", "joined_at", "joined_at_ms", "permission")); diff != "" {
		t.Fatalf("participant changed through a returned value (-want +got):\n%s", diff)
	}
	if r, _ := srv.Room("r"); r.Metadata != "" {
		t.Fatalf("room metadata = %q", r.Metadata)
	}
	if d := srv.SentData("r")[0].Data; string(d) != "hi" {
		t.Fatalf("sent data = %q", d)
	}
}

func TestConcurrentUse(t *testing.T) {
	srv, rc := newFake(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 8 {
		name := fmt.Sprintf("room-%d", i%2)
		wg.Go(func() {
			if _, err := rc.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: name}); err != nil {
				t.Error(err)
			}
			srv.AddParticipant(name, lkgatetest.Participant{Identity: fmt.Sprint("p", i)})
			if _, err := rc.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: name}); err != nil {
				t.Error(err)
			}
			srv.Calls("CreateRoom")
		})
	}
	wg.Wait()
	if n := len(srv.Participants("room-0")) + len(srv.Participants("room-1")); n != 8 {
		t.Fatalf("participants = %d, want 8", n)
	}
}
