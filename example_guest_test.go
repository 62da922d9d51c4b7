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
// for LiveKit and for the guest's client (Join); SentData shows the message
// LiveKit delivers to the guest.
func ExampleManager_Admit() {
	fake := lkgatetest.NewUnstartedServer()
	fake.Start()
	defer fake.Close()
	m, err := lkgate.New(lkgate.Config{
		URL:       fake.URL(),
		PublicURL: "wss://rtc.example.com",
		APIKey:    lkgatetest.APIKey,
		APISecret: lkgatetest.APISecret,
		Guests: lkgate.GuestConfig{
			// Use 32 random bytes from your secret store.
			Keys:          []lkgate.InviteKey{{ID: "2026-11", Key: []byte("0123456789abcdef0123456789abcdef")}},
			InviteBaseURL: "https://app.example.com",
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	// An admin of tenant acme invites a guest to "standup"; only alice may
	// admit it.
	inv, err := m.Invite(ctx, "acme", lkgate.InviteRequest{Org: "acme", Room: "standup", AllowedAdmins: []string{"alice"}})
	if err != nil {
		log.Fatal(err)
	}
	u, _ := url.Parse(inv.URL)
	fmt.Println("invite:", u.Host+u.Path, "invite_token present:", u.Query().Get("invite_token") != "")

	// The guest's page posts the invite token and a name; the guest's
	// client joins its own lobby with the token it gets back.
	g, err := m.GuestRoomAuth(ctx, u.Query().Get("invite_token"), "Grace\u202e Hopper")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := fake.Join(g.Token.JWT); err != nil {
		log.Fatal(err)
	}
	fmt.Println("guest:", g.Name, strings.HasPrefix(g.Identity, lkgate.GuestIdentityPrefix), strings.HasPrefix(g.LobbyRoom, lkgate.LobbyPrefix))

	waiting, err := m.WaitingGuests(ctx, "acme", "standup")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("waiting:", len(waiting), waiting[0].Name)

	// bob is not among the allowed admins; alice is.
	err = m.Admit(ctx, "acme", "bob", lkgate.AdmitRequest{Room: "standup", GuestIdentity: waiting[0].Identity, Admit: true})
	fmt.Println("bob:", err)
	if err := m.Admit(ctx, "acme", "alice", lkgate.AdmitRequest{Room: "standup", GuestIdentity: waiting[0].Identity, Admit: true}); err != nil {
		log.Fatal(err)
	}

	// What the guest's client receives in its lobby.
	pkt := fake.SentData(g.LobbyRoom)[0]
	var msg lkgate.AdmissionMessage
	if err := json.Unmarshal(pkt.Data, &msg); err != nil {
		log.Fatal(err)
	}
	fmt.Println("topic:", pkt.GetTopic(), "to guest only:", len(pkt.DestinationIdentities) == 1)
	fmt.Println("message:", msg.Type, msg.Room, msg.URL, "token present:", msg.Token != "")
	// Output:
	// invite: app.example.com/join invite_token present: true
	// guest: Grace Hopper true true
	// waiting: 1 Grace Hopper
	// bob: lkgate: guest admit: room "standup": the guest's invite does not allow you to admit or deny it
	// topic: lkgate.admission to guest only: true
	// message: admit standup wss://rtc.example.com token present: true
}

// What a guest's client does, in Go: join the lobby with the room-auth
// token, listen for data packets on lkgate.AdmissionTopic, and on "admit"
// leave the lobby and join the main room with the token in the message. In
// a browser, livekit-client does the same with
// room.on(RoomEvent.DataReceived, (payload, participant, kind, topic) => ...)
// and topic === "lkgate.admission".
func Example_guestClient() {
	var session lkgate.GuestSession // from GuestRoomAuth (POST /livekit/guest/room-auth)
	admitted := make(chan lkgate.AdmissionMessage, 1)
	lobby, err := lksdk.ConnectToRoomWithToken(session.Token.URL, session.Token.JWT, &lksdk.RoomCallback{
		ParticipantCallback: lksdk.ParticipantCallback{
			OnDataPacket: func(data lksdk.DataPacket, _ lksdk.DataReceiveParams) {
				p, ok := data.(*lksdk.UserDataPacket)
				if !ok || p.Topic != lkgate.AdmissionTopic {
					return
				}
				var msg lkgate.AdmissionMessage
				if json.Unmarshal(p.Payload, &msg) == nil {
					admitted <- msg
				}
			},
		},
		// A deny is followed by removal; a client that misses the deny
		// message still sees this.
		OnDisconnectedWithReason: func(r lksdk.DisconnectionReason) {
			if r == lksdk.ParticipantRemoved {
				admitted <- lkgate.AdmissionMessage{Type: lkgate.AdmissionDeny}
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
