package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"
	"github.com/twitchtv/twirp"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/internal/counting"
	"github.com/lkgate/lkgate/internal/lkserver"
)

var inviteKey = lkgate.InviteKey{ID: "k1", Key: bytes.Repeat([]byte{0x42}, 32)}

// guestManager returns a Manager on srv and its guests under inviteKey.
func guestManager(t *testing.T, srv *lkserver.Server, naming lkgate.RoomNaming, now func() time.Time) (*lkgate.Manager, *lkgate.Guests) {
	t.Helper()
	m := newManager(t, srv, lkgate.Config{RoomNames: naming, Now: now})
	return m, newGuests(t, m, inviteKey)
}

// newGuests returns the guests of m under key.
func newGuests(t *testing.T, m *lkgate.Manager, key lkgate.InviteKey) *lkgate.Guests {
	t.Helper()
	guests, err := lkgate.NewGuests(m, lkgate.GuestConfig{Keys: []lkgate.InviteKey{key}, InviteBaseURL: "https://app.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	return guests
}

// guestClient is a real Go guest client: it joins its lobby with the token
// from room-auth and does what the lkgate docs tell a guest client to do,
// watching its own attribute lkgate.AdmissionAttribute.
type guestClient struct {
	session    *lkgate.GuestSession
	lobby      *lksdk.Room
	admission  chan lkgate.AdmissionMessage
	otherData  chan string // any other data packet: must never arrive
	others     chan string // participants seen in the lobby: must never arrive
	subscribed chan string // tracks subscribed in the lobby: must never arrive
	left       chan lksdk.DisconnectionReason
}

func joinLobby(t *testing.T, srv *lkserver.Server, guests *lkgate.Guests, inviteToken, name string) *guestClient {
	t.Helper()
	s, err := guests.RoomAuth(context.Background(), inviteToken, name)
	if err != nil {
		t.Fatal(err)
	}
	return joinSession(t, srv, s)
}

// joinHidden joins room as a hidden participant (the guest sees no one)
// that may publish data, with a token straight from the dev keys.
func joinHidden(t *testing.T, srv *lkserver.Server, room, identity string, cb *lksdk.RoomCallback) *lksdk.Room {
	t.Helper()
	tok := auth.NewAccessToken(srv.APIKey, srv.APISecret).SetIdentity(identity).
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: room, Hidden: true}).SetValidFor(time.Minute)
	jwt, err := tok.ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	r := srv.JoinWithCallback(t, jwt, cb)
	waitForParticipant(t, srv, room, identity)
	return r
}

// joinSession is the guest client of a session room-auth gave.
func joinSession(t *testing.T, srv *lkserver.Server, s *lkgate.GuestSession) *guestClient {
	t.Helper()
	g := &guestClient{
		session:    s,
		admission:  make(chan lkgate.AdmissionMessage, 4),
		otherData:  make(chan string, 16),
		others:     make(chan string, 16),
		subscribed: make(chan string, 16),
		left:       make(chan lksdk.DisconnectionReason, 1),
	}
	cb := &lksdk.RoomCallback{
		ParticipantCallback: lksdk.ParticipantCallback{
			OnAttributesChanged: func(changed map[string]string, p lksdk.Participant) {
				v, ok := changed[lkgate.AdmissionAttribute]
				if !ok || p.Identity() != s.Identity {
					return
				}
				var msg lkgate.AdmissionMessage
				if err := json.Unmarshal([]byte(v), &msg); err != nil {
					g.otherData <- "undecodable admission: " + err.Error()
					return
				}
				g.admission <- msg
			},
			OnDataPacket: func(data lksdk.DataPacket, _ lksdk.DataReceiveParams) {
				g.otherData <- fmt.Sprintf("%T %v", data, data)
			},
			OnTrackSubscribed: func(_ *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
				g.subscribed <- rp.Identity() + "/" + pub.SID()
			},
		},
		OnParticipantConnected:   func(rp *lksdk.RemoteParticipant) { g.others <- rp.Identity() },
		OnDisconnectedWithReason: func(r lksdk.DisconnectionReason) { g.left <- r },
	}
	// Auto-subscribe on: if the lobby let anything through, it would show.
	g.lobby = srv.JoinWithCallback(t, s.Token.JWT, cb, lksdk.WithAutoSubscribe(true))
	waitForParticipant(t, srv, s.LobbyRoom, s.Identity)
	return g
}

// assertIsolated fails if the guest has seen anyone, any track or any data
// but its own admission messages.
func (g *guestClient) assertIsolated(t *testing.T) {
	t.Helper()
	if rps := g.lobby.GetRemoteParticipants(); len(rps) != 0 {
		t.Errorf("guest sees %d participants", len(rps))
	}
	for _, ch := range []chan string{g.otherData, g.others, g.subscribed} {
		select {
		case v := <-ch:
			t.Errorf("guest received %s", v)
		default:
		}
	}
}

func (g *guestClient) nextAdmission(t *testing.T) lkgate.AdmissionMessage {
	t.Helper()
	select {
	case msg := <-g.admission:
		return msg
	case <-time.After(10 * time.Second):
		t.Fatal("the guest's client never received its admission")
	}
	return lkgate.AdmissionMessage{}
}

// The whole flow against a real livekit-server, with real Go clients: a
// host in the main room publishing audio and data, a guest who redeems an
// invite, waits alone, is refused by the wrong admins, then is admitted by
// the right one, receives its token through LiveKit and joins. In both
// namings.
func TestGuestInviteWaitAdmitJoin(t *testing.T) {
	for _, naming := range namings {
		t.Run(naming.String(), func(t *testing.T) { guestInviteWaitAdmitJoin(t, naming) })
	}
}

func guestInviteWaitAdmitJoin(t *testing.T, naming lkgate.RoomNaming) {
	srv := lkserver.Shared(t)
	m, guests := guestManager(t, srv, naming, nil)
	ctx := context.Background()
	room := fmt.Sprintf("guestflow-%d", time.Now().UnixNano())
	lk := lkRoom(t, m, "acme", room)

	hostSees := make(chan string, 16)
	host := mintAndJoin(t, srv, m, "acme", room, "host", &lksdk.RoomCallback{
		OnParticipantConnected: func(rp *lksdk.RemoteParticipant) { hostSees <- rp.Identity() },
	})
	lkserver.PublishAudio(t, host)
	waitForTracks(t, srv, lk, "host", 1)

	inv, err := guests.Invite(ctx, "acme", lkgate.InviteRequest{Org: "acme", Room: room, AllowedAdmins: []string{"alice"}})
	if err != nil {
		t.Fatal(err)
	}
	g := joinLobby(t, srv, guests, inv.Token, "Grace \u202eHopper")
	other := joinLobby(t, srv, guests, inv.Token, "Second guest")

	// While they wait, the host talks and sends data to the main room.
	for range 5 {
		if err := host.LocalParticipant.PublishDataPacket(lksdk.UserData([]byte("main-room secret")), lksdk.WithDataPublishReliable(true)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second)

	// Waiting alone: no participant list, no media, no data, not even the
	// other guest; and no permission to do anything.
	g.assertIsolated(t)
	other.assertIsolated(t)
	p := waitForParticipant(t, srv, g.session.LobbyRoom, g.session.Identity)
	perm := p.GetPermission()
	if perm.GetCanPublish() || perm.GetCanSubscribe() || perm.GetCanPublishData() || perm.GetCanUpdateMetadata() || p.Name != "Grace Hopper" {
		t.Errorf("lobby participant %s permission %v", p.Name, perm)
	}
	main, err := adminClient(srv).ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: lk})
	if err != nil {
		t.Fatal(err)
	}
	if len(main.Participants) != 1 || main.Participants[0].Identity != "host" {
		t.Errorf("main room holds %v", main.Participants)
	}
	select {
	case id := <-hostSees:
		t.Errorf("the host saw %s join before admission", id)
	default:
	}

	waiting, err := guests.Waiting(ctx, "acme", room)
	if err != nil {
		t.Fatal(err)
	}
	if len(waiting) != 2 || waiting[0].Identity != g.session.Identity || waiting[1].Identity != other.session.Identity || waiting[0].Name != "Grace Hopper" {
		t.Errorf("waiting %+v", waiting)
	}

	alice := lkgate.WithSubject(ctx, "alice")
	if err := guests.Admit(lkgate.WithSubject(ctx, "bob"), "acme", room, g.session.Identity); !errors.Is(err, lkgate.ErrForbidden) {
		t.Errorf("an admin not in allowedAdmins: %v", err)
	}
	if err := guests.Admit(alice, "globex", room, g.session.Identity); !errors.Is(err, lkgate.ErrNotFound) {
		t.Errorf("another tenant's admin: %v", err)
	}
	select {
	case msg := <-g.admission:
		t.Fatalf("refused admits reached the guest: %+v", msg)
	case <-time.After(300 * time.Millisecond):
	}

	if err := guests.Admit(alice, "acme", room, g.session.Identity); err != nil {
		t.Fatal(err)
	}
	msg := g.nextAdmission(t)
	if msg.Type != lkgate.AdmissionAdmit || msg.Room != room || msg.URL != m.PublicURL() || msg.Token == "" {
		t.Fatalf("admission %+v", msg)
	}
	// The other guest heard nothing.
	other.assertIsolated(t)
	select {
	case m := <-other.admission:
		t.Errorf("the other guest received %+v", m)
	default:
	}

	// What the guest client does: leave the lobby, join the main room.
	g.lobby.Disconnect()
	inMain := srv.JoinWithCallback(t, msg.Token, &lksdk.RoomCallback{})
	pm := waitForParticipant(t, srv, lk, g.session.Identity)
	if pm.Attributes[lkgate.TenantAttribute] != "acme" || pm.Name != "Grace Hopper" || !pm.GetPermission().GetCanPublish() {
		t.Errorf("admitted guest %v", pm)
	}
	select {
	case id := <-hostSees:
		if id != g.session.Identity {
			t.Errorf("host saw %s", id)
		}
	case <-time.After(10 * time.Second):
		t.Error("the host never saw the admitted guest")
	}
	deadline := time.Now().Add(10 * time.Second)
	for inMain.GetParticipantByIdentity("host") == nil {
		if time.Now().After(deadline) {
			t.Fatal("the admitted guest never saw the host")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Once it has left its lobby, it is no longer waiting.
	deadline = time.Now().Add(10 * time.Second)
	for {
		waiting, err := guests.Waiting(ctx, "acme", room)
		if err != nil {
			t.Fatal(err)
		}
		if len(waiting) == 1 && waiting[0].Identity == other.session.Identity {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting after admission: %+v", waiting)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A denied guest hears of it and is removed from its lobby, which closes,
// in both namings.
func TestGuestDenyRemovesTheGuest(t *testing.T) {
	for _, naming := range namings {
		t.Run(naming.String(), func(t *testing.T) { guestDenyRemovesTheGuest(t, naming) })
	}
}

func guestDenyRemovesTheGuest(t *testing.T, naming lkgate.RoomNaming) {
	srv := lkserver.Shared(t)
	_, guests := guestManager(t, srv, naming, nil)
	ctx := context.Background()
	room := fmt.Sprintf("guestdeny-%d", time.Now().UnixNano())
	inv, err := guests.Invite(ctx, "acme", lkgate.InviteRequest{Org: "acme", Room: room, AllowAll: true})
	if err != nil {
		t.Fatal(err)
	}
	g := joinLobby(t, srv, guests, inv.Token, "Eve")
	if err := guests.Deny(lkgate.WithSubject(ctx, "anyone"), "acme", room, g.session.Identity); err != nil {
		t.Fatal(err)
	}
	if msg := g.nextAdmission(t); msg.Type != lkgate.AdmissionDeny || msg.Token != "" {
		t.Errorf("admission %+v", msg)
	}
	select {
	case <-g.left:
		// The SDK's own reason folds ROOM_DELETED into "other reasons".
		if r := g.lobby.DisconnectReason(); r != livekit.DisconnectReason_ROOM_DELETED {
			t.Errorf("disconnected with reason %v, want the lobby's deletion", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the denied guest was not disconnected")
	}
	// The client hears of its removal a moment before LiveKit's own state
	// drops it.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, err = adminClient(srv).GetParticipant(ctx, &livekit.RoomParticipantIdentity{Room: g.session.LobbyRoom, Identity: g.session.Identity})
		var terr twirp.Error
		if errors.As(err, &terr) && terr.Code() == twirp.NotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("denied guest still in the lobby: %v", err)
		}
	}
	if res, err := adminClient(srv).ListRooms(ctx, &livekit.ListRoomsRequest{Names: []string{g.session.LobbyRoom}}); err != nil || len(res.Rooms) != 0 {
		t.Errorf("the denied guest's lobby is still open: %v %v", res.GetRooms(), err)
	}
	if err := guests.Admit(lkgate.WithSubject(ctx, "anyone"), "acme", room, g.session.Identity); !errors.Is(err, lkgate.ErrNotFound) {
		t.Errorf("admitting a denied guest: %v", err)
	}
}

// A waiting guest's client tries everything a modified client could: publish
// media and data, rename itself, rewrite its pass, use its lobby token on
// the main room. The real server refuses all of it. A hidden watcher in the
// guest's lobby receives whatever data the guest manages to publish (a
// control packet shows it would), and the host whatever reaches the main
// room.
func TestWaitingGuestCannotEscapeTheLobby(t *testing.T) {
	srv := lkserver.Shared(t)
	m, guests := guestManager(t, srv, lkgate.ScopedNames, nil)
	ctx := context.Background()
	room := fmt.Sprintf("guestescape-%d", time.Now().UnixNano())
	lk := lkRoom(t, m, "acme", room)
	hostData := make(chan string, 4)
	mintAndJoin(t, srv, m, "acme", room, "host", &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
		OnDataPacket: func(lksdk.DataPacket, lksdk.DataReceiveParams) { hostData <- "data" },
	}})
	inv, err := guests.Invite(ctx, "acme", lkgate.InviteRequest{Org: "acme", Room: room, AllowAll: true})
	if err != nil {
		t.Fatal(err)
	}
	g := joinLobby(t, srv, guests, inv.Token, "Mallory")
	before := waitForParticipant(t, srv, g.session.LobbyRoom, g.session.Identity)
	lobbyData := make(chan string, 4)
	joinHidden(t, srv, g.session.LobbyRoom, "watcher", &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
		OnDataPacket: func(p lksdk.DataPacket, _ lksdk.DataReceiveParams) {
			if d, ok := p.(*lksdk.UserDataPacket); ok {
				lobbyData <- string(d.Payload)
			}
		},
	}})
	control := joinHidden(t, srv, g.session.LobbyRoom, "control", &lksdk.RoomCallback{})

	// Publishing media: refused.
	track, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := g.lobby.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: "sneaky", Source: livekit.TrackSource_MICROPHONE})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("publishing succeeded")
		}
	case <-time.After(15 * time.Second):
		// The SDK may wait for a publish answer that never comes; the
		// server's state below is what counts.
	}
	// Data, name, attributes: ignored by the server.
	_ = g.lobby.LocalParticipant.PublishDataPacket(lksdk.UserData([]byte("hello")), lksdk.WithDataPublishReliable(true))
	g.lobby.LocalParticipant.SetName("Admin")
	g.lobby.LocalParticipant.SetAttributes(map[string]string{lkgate.GuestPassAttribute: "forged", lkgate.TenantAttribute: "globex"})
	// The control packet, sent after the guest's, arrives after it would.
	time.Sleep(500 * time.Millisecond)
	// Sent to the watcher alone: the server delivers data even to a
	// participant that may not subscribe, such as the guest.
	if err := control.LocalParticipant.PublishDataPacket(lksdk.UserData([]byte("control")), lksdk.WithDataPublishReliable(true),
		lksdk.WithDataPublishDestination([]string{"watcher"})); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-lobbyData:
		if got != "control" {
			t.Errorf("the guest published data into its lobby: %s", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the watcher received not even the control packet")
	}
	after := waitForParticipant(t, srv, g.session.LobbyRoom, g.session.Identity)
	if len(after.Tracks) != 0 || after.Name != before.Name || after.Attributes[lkgate.GuestPassAttribute] != before.Attributes[lkgate.GuestPassAttribute] ||
		after.Attributes[lkgate.TenantAttribute] != "acme" {
		t.Errorf("the guest changed itself: tracks %v name %q attributes %v", after.Tracks, after.Name, after.Attributes)
	}
	select {
	case <-hostData:
		t.Error("the host received the guest's data")
	case got := <-lobbyData:
		t.Errorf("the watcher received %s", got)
	default:
	}

	// The lobby token names the lobby; rewriting it to name the main room
	// breaks its signature, and the server refuses the join.
	parts := strings.Split(g.session.Token.JWT, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	forged := bytes.Replace(payload, []byte(`"room":"`+g.session.LobbyRoom+`"`), []byte(`"room":"`+lk+`"`), 1)
	if bytes.Equal(forged, payload) {
		t.Fatal("room claim not found in the lobby token")
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(forged)
	if r, err := lksdk.ConnectToRoomWithToken(srv.WSURL, strings.Join(parts, "."), &lksdk.RoomCallback{}, lksdk.WithAutoSubscribe(false)); err == nil {
		r.Disconnect()
		t.Error("the server accepted a lobby token rewritten for the main room")
	}
	// The lobby token as is gives no power over the main room's API either.
	raw := livekit.NewRoomServiceProtobufClient(srv.URL, http.DefaultClient)
	hdr := http.Header{"Authorization": {"Bearer " + g.session.Token.JWT}}
	hctx, err := twirp.WithHTTPRequestHeaders(ctx, hdr)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := raw.ListParticipants(hctx, &livekit.ListParticipantsRequest{Room: lk}); err == nil {
		t.Errorf("the lobby token listed the main room: %v", res)
	}
	main, err := adminClient(srv).ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: lk})
	if err != nil {
		t.Fatal(err)
	}
	if len(main.Participants) != 1 {
		t.Errorf("main room holds %v", main.Participants)
	}
	g.assertIsolated(t)
	select {
	case msg := <-g.admission:
		t.Errorf("the guest received %+v without admission", msg)
	default:
	}
}

// Every tampered invite is a 400 from the HTTP route, with lkgate in front
// of the real server, and none reaches LiveKit as a join.
func TestTamperedInvitesOverHTTP(t *testing.T) {
	srv := lkserver.Shared(t)
	later := time.Now().Add(3 * time.Hour)
	m, guests := guestManager(t, srv, lkgate.ScopedNames, nil)
	future, futureGuests := guestManager(t, srv, lkgate.ScopedNames, func() time.Time { return later })
	other := newManager(t, srv, lkgate.Config{})
	otherGuests := newGuests(t, other, lkgate.InviteKey{ID: "k1", Key: bytes.Repeat([]byte{0x43}, 32)})
	room := fmt.Sprintf("guesttamper-%d", time.Now().UnixNano())
	inv, err := guests.Invite(context.Background(), "acme", lkgate.InviteRequest{Org: "acme", Room: room, AllowAll: true, Duration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	tok := inv.Token
	parts := strings.Split(tok, ".")
	flipped := []byte(parts[3])
	flipped[0] ^= 1
	cases := map[string]struct {
		m      *lkgate.Manager
		guests *lkgate.Guests
		token  string
	}{
		"tampered ciphertext": {m, guests, strings.Join([]string{parts[0], parts[1], parts[2], string(flipped), parts[4]}, ".")},
		"expired":             {future, futureGuests, tok},
		"wrong key":           {other, otherGuests, tok},
		"extra part":          {m, guests, tok + ".e30"},
		"oversized":           {m, guests, tok + strings.Repeat("A", lkgate.MaxInviteTokenBytes)},
		"garbage":             {m, guests, "garbage"},
		"lobby token (a JWS)": {m, guests, mustRoomAuth(t, guests, tok).Token.JWT},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			h, err := httpx.New(c.m, httpx.Config{Authenticator: httpx.Unauthenticated(), Guests: c.guests})
			if err != nil {
				t.Fatal(err)
			}
			body, _ := json.Marshal(httpx.RoomAuthRequest{InviteToken: c.token, GuestName: "G"})
			req := httptest.NewRequest("POST", "/livekit/guest/room-auth", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var p httpx.Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Code != 400 || p.Field != "inviteToken" {
				t.Errorf("%d %s", rec.Code, rec.Body)
			}
		})
	}
	if _, err := guests.RoomAuth(context.Background(), tok, "G"); err != nil {
		t.Errorf("the untampered invite is refused: %v", err)
	}
}

func mustRoomAuth(t *testing.T, guests *lkgate.Guests, tok string) *lkgate.GuestSession {
	t.Helper()
	s, err := guests.RoomAuth(context.Background(), tok, "G")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The largest invite lkgate accepts (every allowed admin at its longest)
// still makes a lobby token the real server accepts, and its pass survives
// the trip through LiveKit intact.
func TestLargestInviteJoinsTheLobby(t *testing.T) {
	srv := lkserver.Shared(t)
	_, guests := guestManager(t, srv, lkgate.ScopedNames, nil)
	ctx := context.Background()
	room := fmt.Sprintf("guestlarge-%d", time.Now().UnixNano())
	admins := make([]string, lkgate.MaxAllowedAdmins)
	for i := range admins {
		admins[i] = fmt.Sprintf("%02d", i) + strings.Repeat("é", (lkgate.MaxAdminBytes-2)/2)
	}
	inv, err := guests.Invite(ctx, "acme", lkgate.InviteRequest{Org: "acme", Room: room, AllowedAdmins: admins})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Token) > lkgate.MaxInviteTokenBytes {
		t.Fatalf("the largest invite is %d bytes, over the %d lkgate accepts back", len(inv.Token), lkgate.MaxInviteTokenBytes)
	}
	g := joinLobby(t, srv, guests, inv.Token, strings.Repeat("n", 200))
	t.Logf("invite %d bytes, lobby token %d bytes", len(inv.Token), len(g.session.Token.JWT))
	if err := guests.Admit(lkgate.WithSubject(ctx, admins[len(admins)-1]), "acme", room, g.session.Identity); err != nil {
		t.Fatal(err)
	}
	if msg := g.nextAdmission(t); msg.Type != lkgate.AdmissionAdmit {
		t.Errorf("admission %+v", msg)
	}
}

// The case on a real server, with real guest clients: a tenant at
// its room quota (3), one invite redeemed 15 times with each guest
// joining, then another redeemed 15 times before anyone joins. Every lobby
// is counted in LiveKit before its token exists, so the tenant ends with
// its 3 rooms and 8 lobbies (5 for one room, 8 in all), not 33 rooms. A
// denied guest's place is free at once, a guest that leaves frees its
// place once its lobby closes. In both namings.
func TestGuestCapsBoundLobbies(t *testing.T) {
	for _, naming := range namings {
		t.Run(naming.String(), func(t *testing.T) { guestCapsBoundLobbies(t, naming) })
	}
}

func guestCapsBoundLobbies(t *testing.T, naming lkgate.RoomNaming) {
	srv := lkserver.Shared(t)
	ctx := context.Background()
	var calls atomic.Int64
	rooms := counting.Rooms{RoomService: lkgate.NewRoomService(srv.URL, srv.APIKey, srv.APISecret), N: &calls}
	m := newManager(t, srv, lkgate.Config{RoomNames: naming, RoomService: rooms,
		Limits: lkgate.LimitConfig{Default: lkgate.Limits{
			MaxRooms: 3, MaxWaitingGuestsPerRoom: 5, MaxWaitingGuests: 8, GuestWaitRate: lkgate.Rate{Events: lkgate.NoLimit},
		}},
	})
	g := newGuests(t, m, inviteKey)
	// A tenant of its own: the shared server's other tests use acme.
	tenant := fmt.Sprintf("caps%d", time.Now().UnixNano())
	for _, room := range []string{"r1", "r2", "r3"} {
		if _, err := m.Token(ctx, tenant, lkgate.TokenRequest{Room: room, Identity: "host"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Token(ctx, tenant, lkgate.TokenRequest{Room: "r4", Identity: "host"}); !errors.Is(err, lkgate.ErrLimited) {
		t.Fatalf("a fourth room: %v, want max_rooms", err)
	}
	// tenantRooms counts the tenant's LiveKit rooms and lobbies.
	tenantRooms := func() (rooms, lobbies int) {
		t.Helper()
		res, err := adminClient(srv).ListRooms(ctx, &livekit.ListRoomsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Rooms {
			name := r.Name
			if naming == lkgate.ScopedNames {
				owner, clean, ok := lkgate.ParseScopedRoomName(r.Name)
				if !ok || owner != tenant {
					continue
				}
				name = clean
			} else if r.Metadata != `{"auth_id":"`+tenant+`"}` {
				continue
			}
			if strings.HasPrefix(name, lkgate.LobbyPrefix) {
				lobbies++
			} else {
				rooms++
			}
		}
		return rooms, lobbies
	}
	limitOf := func(err error) string {
		var e *lkgate.Error
		if !errors.As(err, &e) || !errors.Is(err, lkgate.ErrLimited) {
			return fmt.Sprint(err)
		}
		return e.Limit
	}
	// Calls of an accepted room-auth: count, create, settle; of a refused
	// one, the count. SharedNames first checks the room is still the
	// tenant's.
	look := map[lkgate.RoomNaming]int64{lkgate.ScopedNames: 0, lkgate.SharedNames: 1}[naming]
	roomAuth := func(token string) (*lkgate.GuestSession, int64, time.Duration, error) {
		calls.Store(0)
		start := time.Now()
		s, err := g.RoomAuth(ctx, token, "G")
		return s, calls.Load(), time.Since(start), err
	}
	invite := func(room string) string {
		inv, err := g.Invite(ctx, tenant, lkgate.InviteRequest{Org: tenant, Room: room, AllowAll: true})
		if err != nil {
			t.Fatal(err)
		}
		return inv.Token
	}

	// Redeem and join, 15 times over.
	one := invite("r1")
	var guests []*guestClient
	var took []time.Duration
	for i := range 15 {
		s, calls, d, err := roomAuth(one)
		if i >= 5 {
			if limitOf(err) != lkgate.LimitMaxWaitingGuestsPerRoom || calls != look+1 {
				t.Errorf("guest %d: %v after %d LiveKit calls, want max_waiting_guests_per_room after %d", i+1, err, calls, look+1)
			}
			continue
		}
		if err != nil || calls != look+3 {
			t.Fatalf("guest %d: %v after %d LiveKit calls, want %d", i+1, err, calls, look+3)
		}
		took = append(took, d)
		if i == 0 {
			// The lobby is open, with lkgate's settings, before its guest
			// joins.
			res, err := adminClient(srv).ListRooms(ctx, &livekit.ListRoomsRequest{Names: []string{s.LobbyRoom}})
			if err != nil || len(res.Rooms) != 1 || res.Rooms[0].EmptyTimeout != 240 || res.Rooms[0].DepartureTimeout != 5 || res.Rooms[0].NumParticipants != 0 {
				t.Errorf("lobby before the join: %v %v", res.GetRooms(), err)
			}
		}
		guests = append(guests, joinSession(t, srv, s))
	}
	t.Logf("room-auth with the caps on: %d LiveKit calls, %v", look+3, took)
	if r, l := tenantRooms(); r != 3 || l != 5 {
		t.Errorf("the tenant has %d rooms and %d lobbies, want 3 and 5", r, l)
	}

	// Redeem 15 times, then join.
	two := invite("r2")
	var pending []*lkgate.GuestSession
	for i := range 15 {
		s, _, _, err := roomAuth(two)
		if i >= 3 {
			if limitOf(err) != lkgate.LimitMaxWaitingGuests {
				t.Errorf("guest %d of r2: %v, want max_waiting_guests", i+1, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		pending = append(pending, s)
	}
	for _, s := range pending {
		joinSession(t, srv, s)
	}
	if r, l := tenantRooms(); r != 3 || l != 8 {
		t.Errorf("the tenant has %d rooms and %d lobbies, want 3 and 8", r, l)
	}
	if listed, err := m.ListRooms(ctx, tenant); err != nil || len(listed) != 3 {
		t.Errorf("the tenant's listed rooms: %v %v, want its 3 rooms and no lobby", listed, err)
	}

	// A denied guest's place is free at once.
	if err := g.Deny(lkgate.WithSubject(ctx, "host"), tenant, "r1", guests[0].session.Identity); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := roomAuth(one); err != nil {
		t.Errorf("room-auth right after a deny: %v", err)
	}
	if _, _, _, err := roomAuth(one); limitOf(err) != lkgate.LimitMaxWaitingGuestsPerRoom {
		t.Errorf("room-auth over the cap again: %v", err)
	}

	// A guest that leaves frees its place when its lobby closes, seconds
	// later.
	guests[1].lobby.Disconnect()
	left := time.Now()
	for {
		_, _, _, err := roomAuth(one)
		if err == nil {
			t.Logf("a guest's place was free %s after it left", time.Since(left).Round(100*time.Millisecond))
			break
		}
		if limitOf(err) != lkgate.LimitMaxWaitingGuestsPerRoom {
			t.Fatal(err)
		}
		if time.Since(left) > 20*time.Second {
			t.Fatal("the place of a guest that left was never freed")
		}
		time.Sleep(250 * time.Millisecond)
	}
}
