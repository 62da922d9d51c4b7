package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/internal/lkserver"
)

// A token minted by lkgate lets a real participant join and publish, and the
// server sees the tenant attribute lkgate put in it. Under SharedNames the
// room was claimed before the token; under ScopedNames the join created
// the tenant's own room, which nobody wrote to.
func TestMintedTokenJoinsAndPublishes(t *testing.T) {
	for _, tc := range []struct {
		naming   lkgate.RoomNaming
		metadata string
	}{{lkgate.ScopedNames, ""}, {lkgate.SharedNames, `{"auth_id":"acme"}`}} {
		t.Run(tc.naming.String(), func(t *testing.T) { mintedTokenJoinsAndPublishes(t, tc.naming, tc.metadata) })
	}
}

func mintedTokenJoinsAndPublishes(t *testing.T, naming lkgate.RoomNaming, metadata string) {
	srv := lkserver.Shared(t)
	m := newManager(t, srv, lkgate.Config{RoomNames: naming})
	room := fmt.Sprintf("publish-%d", time.Now().UnixNano())
	tok, err := m.Token(context.Background(), "acme", lkgate.TokenRequest{Room: room, Identity: "alice", Name: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	lk := lkRoom(t, m, "acme", room)
	r := srv.Join(t, tok.JWT)
	lkserver.PublishAudio(t, r)

	deadline := time.Now().Add(10 * time.Second)
	for {
		p := waitForParticipant(t, srv, lk, "alice")
		if len(p.Tracks) == 1 {
			if p.Tracks[0].Source != livekit.TrackSource_MICROPHONE || p.Name != "Alice" || p.Attributes[lkgate.TenantAttribute] != "acme" {
				t.Fatalf("participant %v", p)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("track never published: %v", p)
		}
		time.Sleep(20 * time.Millisecond)
	}
	info, err := adminClient(srv).ListRooms(context.Background(), &livekit.ListRoomsRequest{Names: []string{lk, room}})
	if err != nil || len(info.Rooms) != 1 || info.Rooms[0].Name != lk || info.Rooms[0].Metadata != metadata {
		t.Fatalf("rooms %v %v; want %s alone, metadata %q", info.GetRooms(), err, lk, metadata)
	}
}

// The very tokens lkgate hands to clients are refused by the real server for
// every room-management call, in both namings (a scoped room created by
// lkgate, with PrecreateRooms, records its tenant as a shared one does).
func TestMintedTokenCannotManageRooms(t *testing.T) {
	for _, naming := range namings {
		t.Run(naming.String(), func(t *testing.T) { mintedTokenCannotManageRooms(t, naming) })
	}
}

func mintedTokenCannotManageRooms(t *testing.T, naming lkgate.RoomNaming) {
	srv := lkserver.Shared(t)
	m := newManager(t, srv, lkgate.Config{RoomNames: naming, PrecreateRooms: naming == lkgate.ScopedNames})
	name := fmt.Sprintf("guarded-%d", time.Now().UnixNano())
	tok, err := m.Token(context.Background(), "acme", lkgate.TokenRequest{Room: name, Identity: "mallory"})
	if err != nil {
		t.Fatal(err)
	}
	room := lkRoom(t, m, "acme", name)
	h := http.Header{}
	h.Set("Authorization", "Bearer "+tok.JWT)
	ctx, err := twirp.WithHTTPRequestHeaders(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	client := livekit.NewRoomServiceProtobufClient(srv.URL, http.DefaultClient)
	calls := map[string]func() error{
		"ListRooms": func() error { _, err := client.ListRooms(ctx, &livekit.ListRoomsRequest{}); return err },
		"CreateRoom": func() error {
			_, err := client.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: room + "-other"})
			return err
		},
		"DeleteRoom": func() error { _, err := client.DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: room}); return err },
		"UpdateRoomMetadata": func() error {
			_, err := client.UpdateRoomMetadata(ctx, &livekit.UpdateRoomMetadataRequest{Room: room, Metadata: `{"auth_id":"mallory"}`})
			return err
		},
	}
	for name, call := range calls {
		err := call()
		var terr twirp.Error
		if !errors.As(err, &terr) || terr.Code() != twirp.Unauthenticated {
			t.Errorf("%s with a client token: %v, want unauthenticated", name, lkgate.Redact(fmt.Sprint(err)))
		}
	}
	info, err := adminClient(srv).ListRooms(context.Background(), &livekit.ListRoomsRequest{Names: []string{room, room + "-other"}})
	if err != nil || len(info.Rooms) != 1 || info.Rooms[0].Metadata != `{"auth_id":"acme"}` {
		t.Fatalf("rooms after the attempts: %v %v", info.GetRooms(), err)
	}
}

// Under SharedNames, two tenants race with 50 concurrent requests for one
// new room, through two Managers sharing a lock and a lease store (two
// handlers of one process): exactly one tenant gets tokens, every time,
// and it is the tenant LiveKit records as owner.
func TestRacingTenantsOneWinner(t *testing.T) {
	srv := lkserver.Shared(t)
	cfg := lkgate.Config{RoomNames: lkgate.SharedNames, Locker: lkgate.NewLocalLocker(), Leases: lkgate.NewMemoryLeaseStore(nil)}
	managers := []*lkgate.Manager{newManager(t, srv, cfg), newManager(t, srv, cfg)}
	for trial := range 10 {
		raceTenants(t, srv, managers, fmt.Sprintf("race-%d-%d", trial, time.Now().UnixNano()), 50)
	}
}

// raceTenants sends n concurrent token requests for the new room, half for
// acme and half for globex, spread over managers. Exactly one tenant must
// get all of its tokens, the other none, and LiveKit must record the
// winner as owner.
func raceTenants(t *testing.T, srv *lkserver.Server, managers []*lkgate.Manager, room string, n int) {
	t.Helper()
	var mu sync.Mutex
	winners := map[string]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		tenant, m := []string{"acme", "globex"}[i%2], managers[(i/2)%len(managers)]
		wg.Go(func() {
			<-start
			_, err := m.Token(context.Background(), tenant, lkgate.TokenRequest{Room: room, Identity: fmt.Sprintf("%s-%d", tenant, i)})
			switch {
			case err == nil:
				mu.Lock()
				winners[tenant]++
				mu.Unlock()
			case !errors.Is(err, lkgate.ErrForbidden):
				t.Errorf("unexpected: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if len(winners) != 1 || winners["acme"]+winners["globex"] != n/2 {
		t.Fatalf("room %s: winners %v; want one tenant with all its %d requests", room, winners, n/2)
	}
	info, err := adminClient(srv).ListRooms(context.Background(), &livekit.ListRoomsRequest{Names: []string{room}})
	if err != nil || len(info.Rooms) != 1 {
		t.Fatal(info.GetRooms(), err)
	}
	var md map[string]string
	if err := json.Unmarshal([]byte(info.Rooms[0].Metadata), &md); err != nil || winners[md[lkgate.OwnerKey]] != n/2 {
		t.Fatalf("room %s: LiveKit records owner %q, winners %v", room, md[lkgate.OwnerKey], winners)
	}
}

// The HTTP route end to end: a client gets a token over HTTP and joins the
// real server with exactly what the response says. Another tenant asking
// for the same name gets 403 under SharedNames, and its own room under
// ScopedNames.
func TestTokenRouteAgainstRealServer(t *testing.T) {
	for _, naming := range namings {
		t.Run(naming.String(), func(t *testing.T) { tokenRouteAgainstRealServer(t, naming) })
	}
}

func tokenRouteAgainstRealServer(t *testing.T, naming lkgate.RoomNaming) {
	srv := lkserver.Shared(t)
	m := newManager(t, srv, lkgate.Config{RoomNames: naming})
	keys, err := httpx.NewStaticKeys(httpx.StaticKeysConfig{Keys: map[string]httpx.Principal{
		"acme-key-0123456789":   {Tenant: "acme", Permissions: httpx.AllPermissions},
		"globex-key-0123456789": {Tenant: "globex", Permissions: httpx.AllPermissions},
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

	room := fmt.Sprintf("http-%d", time.Now().UnixNano())
	post := func(key string) *http.Response {
		req, _ := http.NewRequest("POST", api.URL+"/livekit/token", strings.NewReader(`{"room_name":"`+room+`","participant_identity":"bob","participant_name":"Bob"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	res := post("acme-key-0123456789")
	var tok httpx.TokenResponse
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || res.StatusCode != 200 {
		t.Fatalf("status %d: %v", res.StatusCode, err)
	}
	if tok.LiveKitURL != srv.WSURL || tok.RoomName != room {
		t.Errorf("livekit_url %q room_name %q, want %q and %q", tok.LiveKitURL, tok.RoomName, srv.WSURL, room)
	}
	srv.Join(t, tok.Token)
	waitForParticipant(t, srv, lkRoom(t, m, "acme", room), "bob")

	res = post("globex-key-0123456789")
	switch naming {
	case lkgate.SharedNames:
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("other tenant: status %d, want 403", res.StatusCode)
		}
	case lkgate.ScopedNames:
		var other httpx.TokenResponse
		if err := json.NewDecoder(res.Body).Decode(&other); err != nil || res.StatusCode != 200 || other.RoomName != room {
			t.Fatalf("other tenant: status %d room_name %q %v; want 200 and its own %q", res.StatusCode, other.RoomName, err, room)
		}
		srv.Join(t, other.Token)
		waitForParticipant(t, srv, lkRoom(t, m, "globex", room), "bob")
		ps, err := adminClient(srv).ListParticipants(context.Background(), &livekit.ListParticipantsRequest{Room: lkRoom(t, m, "acme", room)})
		if err != nil || len(ps.Participants) != 1 || ps.Participants[0].Attributes[lkgate.TenantAttribute] != "acme" {
			t.Errorf("acme's room: %v %v, want acme's bob alone", ps.GetParticipants(), err)
		}
	}
}
