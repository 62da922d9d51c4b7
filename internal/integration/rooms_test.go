package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/internal/lkserver"
)

// mintAndJoin mints an lkgate token for tenant and joins a real client.
func mintAndJoin(t *testing.T, srv *lkserver.Server, m *lkgate.Manager, tenant, room, identity string, cb *lksdk.RoomCallback) *lksdk.Room {
	t.Helper()
	tok, err := m.Token(context.Background(), tenant, lkgate.TokenRequest{Room: room, Identity: identity})
	if err != nil {
		t.Fatal(err)
	}
	if cb == nil {
		cb = &lksdk.RoomCallback{}
	}
	r := srv.JoinWithCallback(t, tok.JWT, cb)
	waitForParticipant(t, srv, lkRoom(t, m, tenant, room), identity)
	return r
}

// Each tenant lists its own rooms, and only those, in both namings.
func TestListRoomsTwoTenantsManyRooms(t *testing.T) {
	for _, naming := range namings {
		t.Run(naming.String(), func(t *testing.T) { listRoomsTwoTenants(t, naming) })
	}
}

func listRoomsTwoTenants(t *testing.T, naming lkgate.RoomNaming) {
	srv := lkserver.Shared(t)
	cfg := lkgate.Config{RoomNames: naming}
	if naming == lkgate.ScopedNames {
		cfg.PrecreateRooms = true // a scoped token alone creates no room
	}
	m := newManager(t, srv, cfg)
	run := fmt.Sprintf("list%d", time.Now().UnixNano())
	want := map[string][]string{}
	for i := range 25 {
		for _, tenant := range []string{"acme", "globex"} {
			room := fmt.Sprintf("%s-%s-%02d", run, tenant, i)
			if _, err := m.Token(context.Background(), tenant, lkgate.TokenRequest{Room: room, Identity: "x"}); err != nil {
				t.Fatal(err)
			}
			want[tenant] = append(want[tenant], room)
		}
	}
	if _, err := adminClient(srv).CreateRoom(context.Background(), &livekit.CreateRoomRequest{Name: run + "-unowned"}); err != nil {
		t.Fatal(err)
	}
	for _, tenant := range []string{"acme", "globex", "initech"} {
		rooms, err := m.ListRooms(context.Background(), tenant)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rooms {
			if !strings.HasPrefix(r.Name, run) {
				if tenant == "initech" {
					t.Errorf("initech sees %s", r.Name)
				}
				continue // rooms of other tests on the shared server
			}
			got = append(got, r.Name)
		}
		slices.Sort(got)
		if diff := cmp.Diff(want[tenant], got); diff != "" {
			t.Errorf("%s sees (-want +got):\n%s", tenant, diff)
		}
	}
}

// A real client publishes; the details show its track, and lkgate's own
// attribute is hidden, in both namings.
func TestRoomDetailsShowRealTrack(t *testing.T) {
	for _, naming := range namings {
		t.Run(naming.String(), func(t *testing.T) { roomDetailsShowRealTrack(t, naming) })
	}
}

func roomDetailsShowRealTrack(t *testing.T, naming lkgate.RoomNaming) {
	srv := lkserver.Shared(t)
	m := newManager(t, srv, lkgate.Config{RoomNames: naming})
	room := fmt.Sprintf("details-%d", time.Now().UnixNano())
	pub := lkserver.PublishAudio(t, mintAndJoin(t, srv, m, "acme", room, "alice", nil))
	waitForTracks(t, srv, lkRoom(t, m, "acme", room), "alice", 1)

	d, err := m.Room(context.Background(), "acme", room)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != room || len(d.Participants) != 1 {
		t.Fatalf("room %q participants %+v", d.Name, d.Participants)
	}
	p := d.Participants[0]
	want := []lkgate.Track{{SID: pub.SID(), Source: lkgate.SourceMicrophone, Type: "audio", Name: "silence"}}
	if diff := cmp.Diff(want, p.Tracks); diff != "" {
		t.Errorf("tracks (-want +got):\n%s", diff)
	}
	if p.Identity != "alice" || p.State != "active" || p.Kind != "standard" || len(p.Attributes) != 0 || !p.IsPublisher || time.Since(p.JoinedAt) > time.Minute {
		t.Errorf("participant %+v", p)
	}
}

// Removal disconnects a real client; another tenant cannot remove it, in
// both namings.
func TestRemoveDisconnectsRealClient(t *testing.T) {
	for _, naming := range namings {
		t.Run(naming.String(), func(t *testing.T) { removeDisconnectsRealClient(t, naming) })
	}
}

func removeDisconnectsRealClient(t *testing.T, naming lkgate.RoomNaming) {
	srv := lkserver.Shared(t)
	m := newManager(t, srv, lkgate.Config{RoomNames: naming})
	room := fmt.Sprintf("remove-%d", time.Now().UnixNano())
	reason := make(chan lksdk.DisconnectionReason, 1)
	mintAndJoin(t, srv, m, "acme", room, "bob", &lksdk.RoomCallback{
		OnDisconnectedWithReason: func(r lksdk.DisconnectionReason) { reason <- r },
	})
	if err := m.RemoveParticipant(context.Background(), "globex", room, "bob"); !errors.Is(err, lkgate.ErrNotFound) {
		t.Fatalf("another tenant removing bob: %v, want ErrNotFound", err)
	}
	if err := m.RemoveParticipant(context.Background(), "acme", room, "bob"); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-reason:
		if r != lksdk.ParticipantRemoved {
			t.Errorf("disconnected with reason %v, want ParticipantRemoved", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the client was not disconnected")
	}
}

func waitMuted(t *testing.T, pub *lksdk.LocalTrackPublication, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !pub.IsMuted() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: the client never saw its track muted", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Mutes by SID and by source reach the publishing client; a remote unmute
// is refused with ErrConflict, as the server's default configuration says.
func TestMuteSeenByRealClient(t *testing.T) {
	srv := lkserver.Shared(t)
	m := newManager(t, srv, lkgate.Config{})
	room := fmt.Sprintf("mute-%d", time.Now().UnixNano())
	ctx := context.Background()
	bySID := lkserver.PublishAudio(t, mintAndJoin(t, srv, m, "acme", room, "carol", nil))
	bySource := lkserver.PublishAudio(t, mintAndJoin(t, srv, m, "acme", room, "dave", nil))
	lk := lkRoom(t, m, "acme", room)
	waitForTracks(t, srv, lk, "carol", 1)
	waitForTracks(t, srv, lk, "dave", 1)

	tr, err := m.MuteTrack(ctx, "acme", lkgate.MuteRequest{Room: room, Identity: "carol", TrackSID: bySID.SID(), Muted: true})
	if err != nil || !tr.Muted {
		t.Fatalf("mute by SID: %+v %v", tr, err)
	}
	waitMuted(t, bySID, "by SID")
	tr, err = m.MuteTrack(ctx, "acme", lkgate.MuteRequest{Room: room, Identity: "dave", Source: lkgate.SourceMicrophone, Muted: true})
	if err != nil || !tr.Muted || tr.SID != bySource.SID() {
		t.Fatalf("mute by source: %+v %v", tr, err)
	}
	waitMuted(t, bySource, "by source")

	if _, err := m.MuteTrack(ctx, "acme", lkgate.MuteRequest{Room: room, Identity: "dave", Source: lkgate.SourceMicrophone, Muted: false}); !errors.Is(err, lkgate.ErrConflict) {
		t.Errorf("remote unmute: %v, want ErrConflict", err)
	}
	start := time.Now()
	if _, err := m.MuteTrack(ctx, "acme", lkgate.MuteRequest{Room: room, Identity: "nobody", Source: lkgate.SourceMicrophone, Muted: true}); !errors.Is(err, lkgate.ErrNotFound) {
		t.Errorf("unknown participant: %v, want ErrNotFound", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Logf("unknown participant took %s: the look-up should answer before LiveKit's 3 s stall", d)
	}
}

// Through HTTP on the real server, every room-scoped route answers another
// tenant's room with the same bytes as a missing room, and changes nothing,
// in both namings.
func TestCrossTenantRoutesRealServer(t *testing.T) {
	for _, naming := range namings {
		t.Run(naming.String(), func(t *testing.T) { crossTenantRoutes(t, naming) })
	}
}

func crossTenantRoutes(t *testing.T, naming lkgate.RoomNaming) {
	srv := lkserver.Shared(t)
	m := newManager(t, srv, lkgate.Config{RoomNames: naming})
	keys, err := httpx.NewStaticKeys(httpx.StaticKeysConfig{Keys: map[string]httpx.Principal{
		"acme-key-0123456789": {Tenant: "acme", Permissions: httpx.AllPermissions}, "globex-key-0123456789": {Tenant: "globex", Permissions: httpx.AllPermissions},
	}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpx.New(m, httpx.Config{Authenticator: keys})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(h)
	defer api.Close()

	stamp := time.Now().UnixNano()
	room, missing := fmt.Sprintf("xa-%d", stamp), fmt.Sprintf("xb-%d", stamp)
	pub := lkserver.PublishAudio(t, mintAndJoin(t, srv, m, "acme", room, "erin", nil))
	lk := lkRoom(t, m, "acme", room)
	waitForTracks(t, srv, lk, "erin", 1)

	call := func(method, path, body string) (int, []byte) {
		req, _ := http.NewRequest(method, api.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer globex-key-0123456789")
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	routes := func(r string) [][3]string {
		return [][3]string{
			{"GET", "/livekit/rooms/" + r, ""},
			{"DELETE", "/livekit/participant", `{"room_name":"` + r + `","participant_identity":"erin"}`},
			{"POST", "/livekit/participant/mute", `{"room_name":"` + r + `","participant_identity":"erin","track_sid":"` + pub.SID() + `","muted":true}`},
			{"POST", "/livekit/participant/mute", `{"room_name":"` + r + `","participant_identity":"erin","source":"microphone","muted":true}`},
		}
	}
	for i, foreign := range routes(room) {
		miss := routes(missing)[i]
		fs, fb := call(foreign[0], foreign[1], foreign[2])
		ms, mb := call(miss[0], miss[1], miss[2])
		if fs != 404 || ms != 404 || !bytes.Equal(fb, mb) {
			t.Errorf("%s %s: foreign %d %s / missing %d %s", foreign[0], foreign[1], fs, fb, ms, mb)
		}
	}
	if _, body := call("GET", "/livekit/rooms", ""); bytes.Contains(body, []byte(room)) {
		t.Errorf("globex lists acme's room: %s", body)
	}
	p := waitForTracks(t, srv, lk, "erin", 1)
	if p.Tracks[0].Muted || pub.IsMuted() {
		t.Error("globex muted acme's participant")
	}
}
