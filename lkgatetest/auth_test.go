package lkgatetest_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/twitchtv/twirp"

	"github.com/lkgate/lkgate/lkgatetest"
)

// mint signs a token for grant with the fake's key pair.
func mint(t *testing.T, grant *auth.VideoGrant, validFor time.Duration) string {
	t.Helper()
	tok, err := auth.NewAccessToken(lkgatetest.APIKey, lkgatetest.APISecret).
		SetIdentity("tester").
		SetVideoGrant(grant).
		SetValidFor(validFor).
		ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// tokenClient returns an SDK client that sends tok verbatim.
func tokenClient(t *testing.T, srv *lkgatetest.Server, tok string) *lksdk.RoomServiceClient {
	t.Helper()
	api, err := lksdk.NewLiveKitAPI(lksdk.WithURL(srv.URL()), lksdk.WithToken(tok))
	if err != nil {
		t.Fatal(err)
	}
	return api.Room()
}

// rawCall calls ListRooms through the generated twirp client with header as
// the only authentication.
func rawCall(srv *lkgatetest.Server, header http.Header) error {
	rc := livekit.NewRoomServiceProtobufClient(srv.URL(), http.DefaultClient)
	ctx, err := twirp.WithHTTPRequestHeaders(context.Background(), header)
	if err != nil {
		return err
	}
	_, err = rc.ListRooms(ctx, &livekit.ListRoomsRequest{})
	return err
}

func TestUpdateRoomMetadataGrants(t *testing.T) {
	srv := lkgatetest.NewServer(t)
	srv.AddParticipant("r", lkgatetest.Participant{Identity: "alice"})
	canUpdateOwn := &auth.VideoGrant{RoomJoin: true, Room: "r"}
	canUpdateOwn.SetCanUpdateOwnMetadata(true)

	tests := []struct {
		name  string
		grant *auth.VideoGrant
		ok    bool
	}{
		{"join only", &auth.VideoGrant{RoomJoin: true, Room: "r"}, false},
		{"join and canUpdateOwnMetadata", canUpdateOwn, false},
		{"roomCreate only", &auth.VideoGrant{RoomCreate: true}, false},
		{"roomList only", &auth.VideoGrant{RoomList: true}, false},
		{"admin on another room", &auth.VideoGrant{RoomAdmin: true, Room: "other"}, false},
		{"admin without room", &auth.VideoGrant{RoomAdmin: true}, false},
		{"admin on this room", &auth.VideoGrant{RoomAdmin: true, Room: "r"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := tokenClient(t, srv, mint(t, tt.grant, time.Hour))
			_, err := rc.UpdateRoomMetadata(context.Background(), &livekit.UpdateRoomMetadataRequest{Room: "r", Metadata: "m"})
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantErr(t, err, twirp.Unauthenticated, "permissions denied")
		})
	}
}

func TestJoinTokenRefusedForRoomManagement(t *testing.T) {
	srv := lkgatetest.NewServer(t)
	srv.AddParticipant("r", lkgatetest.Participant{Identity: "alice"})
	rc := tokenClient(t, srv, mint(t, &auth.VideoGrant{RoomJoin: true, Room: "r"}, time.Hour))
	ctx := context.Background()

	_, err := rc.ListRooms(ctx, &livekit.ListRoomsRequest{})
	wantErr(t, err, twirp.Unauthenticated, "permissions denied")
	_, err = rc.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "r2"})
	wantErr(t, err, twirp.Unauthenticated, "permissions denied")
	_, err = rc.DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: "r"})
	wantErr(t, err, twirp.Unauthenticated, "permissions denied")
	_, err = rc.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: "r"})
	wantErr(t, err, twirp.Unauthenticated, "permissions denied")
	if _, ok := srv.Room("r"); !ok {
		t.Fatal("room deleted by a join token")
	}
}

func TestRoomCreateIsNotScoped(t *testing.T) {
	srv := lkgatetest.NewServer(t)
	srv.AddParticipant("y", lkgatetest.Participant{Identity: "alice"})
	rc := tokenClient(t, srv, mint(t, &auth.VideoGrant{RoomCreate: true, Room: "x"}, time.Hour))
	if _, err := rc.DeleteRoom(context.Background(), &livekit.DeleteRoomRequest{Room: "y"}); err != nil {
		t.Fatalf("roomCreate for x deleting y: %v; the real server allows it", err)
	}
}

func TestBadTokens(t *testing.T) {
	srv := lkgatetest.NewServer(t)
	wrongSecret, err := auth.NewAccessToken(lkgatetest.APIKey, "another-secret-another-secret-12345").
		SetVideoGrant(&auth.VideoGrant{RoomList: true}).ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	wrongKey, err := auth.NewAccessToken("otherkey", lkgatetest.APISecret).
		SetVideoGrant(&auth.VideoGrant{RoomList: true}).ToJWT()
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		header     string
		bodyPrefix string
	}{
		{"not bearer", "Basic abc", "invalid authorization header. Must start with Bearer "},
		{"garbage", "Bearer not-a-jwt", "invalid authorization token"},
		{"wrong key", "Bearer " + wrongKey, "invalid API key: otherkey"},
		{"wrong secret", "Bearer " + wrongSecret, "invalid token: " + wrongSecret + ", error: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := rawCall(srv, http.Header{"Authorization": {tt.header}})
			var terr twirp.Error
			if !errors.As(err, &terr) || terr.Code() != twirp.Unauthenticated {
				t.Fatalf("got %v, want unauthenticated", err)
			}
			if terr.Meta("status_code") != "401" || !strings.HasPrefix(terr.Meta("body"), tt.bodyPrefix) {
				t.Fatalf("status %s, body %q; want 401, %q...", terr.Meta("status_code"), terr.Meta("body"), tt.bodyPrefix)
			}
		})
	}
}

func TestMissingToken(t *testing.T) {
	srv := lkgatetest.NewServer(t)
	wantErr(t, rawCall(srv, http.Header{}), twirp.Unauthenticated, "permissions denied")

	// Size limits come before the token check, as on the server.
	rc := livekit.NewRoomServiceProtobufClient(srv.URL(), http.DefaultClient)
	_, err := rc.UpdateRoomMetadata(context.Background(),
		&livekit.UpdateRoomMetadataRequest{Room: "r", Metadata: strings.Repeat("x", 64001)})
	wantErr(t, err, twirp.InvalidArgument, "metadata size exceeds limits 64000")
}

func TestAccessTokenQueryParameter(t *testing.T) {
	srv := lkgatetest.NewServer(t)
	tok := mint(t, &auth.VideoGrant{RoomList: true}, time.Hour)
	// The twirp client cannot put the token in the URL, so call by hand.
	req, err := http.NewRequest(http.MethodPost, srv.URL()+livekit.RoomServicePathPrefix+"ListRooms?access_token="+tok,
		strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status = %s", res.Status)
	}
}

func TestTokenExpiryUsesClock(t *testing.T) {
	srv := lkgatetest.NewServer(t)
	tok := mint(t, &auth.VideoGrant{RoomList: true}, time.Minute)
	rc := tokenClient(t, srv, tok)
	ctx := context.Background()
	now := time.Now()

	tests := []struct {
		name string
		at   time.Time
		ok   bool
	}{
		{"valid", now, true},
		{"expired within leeway", now.Add(90 * time.Second), true},
		{"expired", now.Add(3 * time.Minute), false},
		{"not yet valid", now.Add(-3 * time.Minute), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.SetClock(func() time.Time { return tt.at })
			_, err := rc.ListRooms(ctx, &livekit.ListRoomsRequest{})
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantErr(t, err, twirp.Unauthenticated, "")
		})
	}
}

func TestPerformRpcUnimplemented(t *testing.T) {
	srv := lkgatetest.NewServer(t)
	rc := livekit.NewRoomServiceProtobufClient(srv.URL(), http.DefaultClient)
	_, err := rc.PerformRpc(context.Background(), &livekit.PerformRpcRequest{Room: "r"})
	wantErr(t, err, twirp.Unimplemented, "")
}

func TestJoinWithToken(t *testing.T) {
	srv := lkgatetest.NewServer(t)
	viewer := &auth.VideoGrant{RoomJoin: true, Room: "r", CanPublishSources: []string{"microphone"}}
	viewer.SetCanPublish(false)
	viewer.SetCanPublishData(false)
	tok, err := auth.NewAccessToken(lkgatetest.APIKey, lkgatetest.APISecret).SetIdentity("v").SetName("Viewer").
		SetAttributes(map[string]string{"k": "v"}).SetVideoGrant(viewer).SetValidFor(time.Minute).ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	p, err := srv.Join(tok)
	if err != nil {
		t.Fatal(err)
	}
	perm := p.Permission
	if p.Identity != "v" || p.Name != "Viewer" || p.Attributes["k"] != "v" || perm.CanPublish || perm.CanPublishData || !perm.CanSubscribe ||
		perm.CanUpdateMetadata || len(perm.CanPublishSources) != 1 {
		t.Errorf("joined %v", p)
	}
	if got := srv.Participants("r"); len(got) != 1 {
		t.Errorf("room holds %v", got)
	}
	for name, bad := range map[string]string{
		"no roomJoin": mint(t, &auth.VideoGrant{RoomAdmin: true, Room: "r"}, time.Minute),
		"tampered":    tok[:len(tok)-4] + "AAAA",
		"garbage":     "x",
	} {
		if _, err := srv.Join(bad); err == nil {
			t.Errorf("%s: joined", name)
		} else if strings.Contains(err.Error(), "eyJ") {
			t.Errorf("%s: the error carries the token: %v", name, err)
		}
	}
	srv.SetClock(func() time.Time { return time.Now().Add(3 * time.Minute) })
	if _, err := srv.Join(tok); err == nil {
		t.Error("an expired token joined")
	}
}
