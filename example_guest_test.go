package lkgate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/url"
	"strings"

	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

// Invite a guest, let it wait in its lobby, and admit it. The fake stands in
// for LiveKit and for the guest's client (Join); the guest's participant
// attributes show what LiveKit delivers to the guest.
func ExampleGuests_Admit() {
	fake := lkgatetest.NewUnstartedServer()
	fake.Start()
	defer fake.Close()
	m, err := lkgate.New(lkgate.Config{
		URL:       fake.URL(),
		PublicURL: "wss://rtc.example.com",
		APIKey:    lkgatetest.APIKey,
		APISecret: lkgatetest.APISecret,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	guests, err := lkgate.NewGuests(m, lkgate.GuestConfig{
		// Use 32 random bytes from your secret store.
		Keys:          []lkgate.InviteKey{{ID: "2026-11", Key: []byte("0123456789abcdef0123456789abcdef")}},
		InviteBaseURL: "https://app.example.com",
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	// Who acts travels in the context, for every method: set it where the
	// request is authenticated (httpx does, from the Principal).
	alice := lkgate.WithSubject(ctx, "alice")

	// alice, an admin of tenant acme, invites a guest to "standup". The
	// invite is acme's, and names no admins: alice alone may admit.
	inv, err := guests.Invite(alice, "acme", lkgate.InviteRequest{Room: "standup"})
	if err != nil {
		log.Fatal(err)
	}
	u, _ := url.Parse(inv.URL)
	fmt.Println("invite:", u.Host+u.Path, "invite_token present:", u.Query().Get("invite_token") != "")

	// The guest's page posts the invite token and a name; the guest's
	// client joins its own lobby with the token it gets back.
	g, err := guests.RoomAuth(ctx, u.Query().Get("invite_token"), "Grace\u202e Hopper")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := fake.Join(g.Token.JWT); err != nil {
		log.Fatal(err)
	}
	// The lobby is a LiveKit room of acme's own.
	tenant, lobby, _ := lkgate.ParseScopedRoomName(g.LobbyRoom)
	fmt.Println("guest:", g.Name, strings.HasPrefix(g.Identity, lkgate.GuestIdentityPrefix), "lobby of", tenant, strings.HasPrefix(lobby, lkgate.LobbyPrefix))

	waiting, err := guests.Waiting(ctx, "acme", "standup")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("waiting:", len(waiting), waiting[0].Name)

	// bob is not among the allowed admins; alice is. (Deny refuses a
	// guest the same way.)
	err = guests.Admit(lkgate.WithSubject(ctx, "bob"), "acme", "standup", waiting[0].Identity)
	fmt.Println("bob:", err)
	if err := guests.Admit(alice, "acme", "standup", waiting[0].Identity); err != nil {
		log.Fatal(err)
	}

	// What the guest's client sees: its own attribute changes.
	guest := fake.Participants(g.LobbyRoom)[0]
	var msg lkgate.AdmissionMessage
	if err := json.Unmarshal([]byte(guest.Attributes[lkgate.AdmissionAttribute]), &msg); err != nil {
		log.Fatal(err)
	}
	fmt.Println("message:", msg.Type, msg.Room, msg.URL, "token present:", msg.Token != "")
	fmt.Println("guest may still publish or subscribe in the lobby:", guest.Permission.CanPublish || guest.Permission.CanSubscribe)
	// Output:
	// invite: app.example.com/join invite_token present: true
	// guest: Grace Hopper true lobby of acme true
	// waiting: 1 Grace Hopper
	// bob: lkgate: guest admit: room "standup": the guest's invite does not allow you to admit or deny it
	// message: admit standup wss://rtc.example.com token present: true
	// guest may still publish or subscribe in the lobby: false
}

// What a guest's client does, in Go: join the lobby with the room-auth
// token, watch its own attribute lkgate.AdmissionAttribute, and on "admit"
// leave the lobby and join the main room with the token in the message. In
// a browser, livekit-client does the same with
// room.on(RoomEvent.ParticipantAttributesChanged, (changed, participant) => ...)
// for participant === room.localParticipant and the key "lkgate.admission".
func Example_guestClient() {
	var session lkgate.GuestSession // from GuestRoomAuth (POST /livekit/guest/room-auth)
	admitted := make(chan lkgate.AdmissionMessage, 1)
	// The SDK calls back on its own goroutines; the first answer wins.
	answer := func(msg lkgate.AdmissionMessage) {
		select {
		case admitted <- msg:
		default:
		}
	}
	lobby, err := lksdk.ConnectToRoomWithToken(session.Token.URL, session.Token.JWT, &lksdk.RoomCallback{
		ParticipantCallback: lksdk.ParticipantCallback{
			// Called for the local participant too, including with its
			// attributes as of joining (after a reconnect, say).
			OnAttributesChanged: func(changed map[string]string, p lksdk.Participant) {
				v, ok := changed[lkgate.AdmissionAttribute]
				if !ok || p.Identity() != session.Identity {
					return
				}
				var msg lkgate.AdmissionMessage
				if json.Unmarshal([]byte(v), &msg) == nil {
					answer(msg)
				}
			},
		},
		// A deny is followed by removal; a client that misses the deny
		// message still sees this.
		OnDisconnectedWithReason: func(r lksdk.DisconnectionReason) {
			if r == lksdk.ParticipantRemoved {
				answer(lkgate.AdmissionMessage{Type: lkgate.AdmissionDeny})
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	msg := <-admitted
	lobby.Disconnect()
	if msg.Type != lkgate.AdmissionAdmit {
		fmt.Println("the host declined")
		return
	}
	room, err := lksdk.ConnectToRoomWithToken(msg.URL, msg.Token, &lksdk.RoomCallback{})
	if err != nil {
		log.Fatal(err)
	}
	defer room.Disconnect()
	// ... the guest is in the main room.
}
