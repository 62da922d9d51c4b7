package integration

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/internal/counting"
	"github.com/lkgate/lkgate/internal/lkserver"
)

// A real LiveKit's webhooks feed the room index: a room that a
// participant's join creates (scoped names, nothing precreated, no
// reconciliation running) shows in its tenant's list through the index
// alone, and in no other tenant's. Deleted outside lkgate with its
// room_finished lost, it leaves an entry that the reconciliation removes.
func TestRoomIndexFromRealWebhooks(t *testing.T) {
	srv := lkserver.Start(t)
	index := lkgate.NewMemoryRoomIndex(nil)
	var ahead atomic.Int64 // the Manager's clock, ahead of the real one
	m := newManager(t, srv, lkgate.Config{RoomIndex: index, RoomIndexReconcile: -1,
		Now: func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }})
	h, err := httpx.New(m, httpx.Config{
		Authenticator: httpx.AuthenticatorFunc(func(*http.Request) (httpx.Principal, error) { return httpx.Principal{}, errors.New("unused") }),
	})
	if err != nil {
		t.Fatal(err)
	}
	var lose atomic.Bool // webhooks answered but never handled
	srv.HandleWebhooks(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if lose.Load() {
			w.WriteHeader(http.StatusOK)
			return
		}
		h.ServeHTTP(w, r)
	}))
	ctx := context.Background()
	room := fmt.Sprintf("indexed-%d", time.Now().UnixNano())
	lk := lkRoom(t, m, "acme", room)
	p := mintAndJoin(t, srv, m, "acme", room, "alice", nil)
	defer p.Disconnect()

	list := func(tenant string) []string {
		t.Helper()
		rooms, err := m.ListRooms(ctx, tenant)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, r := range rooms {
			names = append(names, r.Name)
		}
		return names
	}
	for deadline := time.Now().Add(30 * time.Second); !slices.Contains(list("acme"), room); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("acme's room never listed through the index: %v", list("acme"))
		}
	}
	if got := list("globex"); len(got) != 0 {
		t.Errorf("globex lists %v", got)
	}

	lose.Store(true)
	if _, err := adminClient(srv).DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: lk}); err != nil {
		t.Fatal(lkgate.Redact(err.Error()))
	}
	for deadline := time.Now().Add(10 * time.Second); slices.Contains(list("acme"), room); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a deleted room still listed")
		}
	}
	if rs, _ := index.Rooms(ctx, "acme"); len(rs) != 1 {
		t.Fatalf("with room_finished lost the index holds %v, want the deleted room", rs)
	}
	ahead.Store(int64(2 * time.Minute)) // past LiveKit's list lag
	res, err := m.ReconcileRoomIndex(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rs, _ := index.Rooms(ctx, "acme"); len(rs) != 0 || res.Removed != 1 {
		t.Errorf("after the reconciliation (%+v) the index holds %v", res, rs)
	}
}

// On a real server with a room index, a room's waiting list asks LiveKit
// for the room's indexed lobby by name, never for every room, and lists
// the real guest client waiting in the lobby that room-auth opened; a deny
// closes the lobby and finishes its entry.
func TestRoomIndexWaitingListOnARealServer(t *testing.T) {
	srv := lkserver.Shared(t)
	index := lkgate.NewMemoryRoomIndex(nil)
	lists := &counting.ListNames{RoomService: lkgate.NewRoomService(srv.URL, srv.APIKey, srv.APISecret)}
	m := newManager(t, srv, lkgate.Config{RoomIndex: index, RoomIndexReconcile: -1, RoomService: lists})
	guests := newGuests(t, m, inviteKey)
	ctx := lkgate.WithSubject(context.Background(), "host")
	room := fmt.Sprintf("indexed-wait-%d", time.Now().UnixNano())
	inv, err := guests.Invite(ctx, "acme", lkgate.InviteRequest{Org: "acme", Room: room, AllowAll: true})
	if err != nil {
		t.Fatal(err)
	}
	g := joinLobby(t, srv, guests, inv.Token, "Eve")
	lists.Take()
	ws, err := guests.Waiting(ctx, "acme", room)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 1 || ws[0].Identity != g.session.Identity || ws[0].Name != "Eve" {
		t.Errorf("waiting: %+v, want Eve", ws)
	}
	if got := lists.Take(); !slices.Equal(got, []int{1}) {
		t.Errorf("the waiting list made ListRooms calls naming %v rooms (0: every room), want one naming the lobby", got)
	}
	if err := guests.Deny(ctx, "acme", room, g.session.Identity); err != nil {
		t.Fatal(err)
	}
	rs, err := index.Rooms(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Name == g.session.LobbyRoom {
			t.Errorf("after the deny the index still holds the lobby %s", r.Name)
		}
	}
}
