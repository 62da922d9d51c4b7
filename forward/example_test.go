package forward_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/forward"
)

// A tenant's receiver verifies each delivery with its secret and decodes
// LiveKit's event from it; the Forwarder is what the host passes as
// httpx.Config.OnWebhook.
func Example() {
	secret := []byte("acme's webhook secret")
	got := make(chan *livekit.WebhookEvent, 1)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := forward.Verify(r, secret, 0)
		if err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		ev := &livekit.WebhookEvent{}
		if err := protojson.Unmarshal(body, ev); err != nil {
			http.Error(w, "bad event", http.StatusBadRequest)
			return
		}
		fmt.Println("event id header:", r.Header.Get(forward.EventIDHeader))
		got <- ev
	}))
	defer receiver.Close()

	fw, err := forward.New(forward.Config{Endpoint: func(tenant string) (string, []byte, bool) {
		if tenant != "acme" {
			return "", nil, false
		}
		return receiver.URL, secret, true
	}})
	if err != nil {
		panic(err)
	}
	defer fw.Close(context.Background())

	// What httpx's webhook route hands OnWebhook for acme's room "standup".
	lkName, _ := lkgate.ScopedRoomName("acme", "standup")
	fw.Forward(context.Background(), lkgate.WebhookEvent{Tenant: "acme", Room: "standup", Event: &livekit.WebhookEvent{
		Event: "participant_joined", Id: "EV_example",
		Room:        &livekit.Room{Name: lkName, Metadata: `{"auth_id":"acme","topic":"q3"}`},
		Participant: &livekit.ParticipantInfo{Identity: "alice", Attributes: map[string]string{lkgate.TenantAttribute: "acme", "team": "red"}},
	}})

	ev := <-got
	fmt.Println("LiveKit's room name:", lkName)
	fmt.Println("the tenant's event:", ev.GetEvent(), ev.GetRoom().GetName(), ev.GetRoom().GetMetadata(), ev.GetParticipant().GetIdentity(), ev.GetParticipant().GetAttributes())
	// Output:
	// event id header: EV_example
	// LiveKit's room name: t4_acme_standup
	// the tenant's event: participant_joined standup {"topic":"q3"} alice map[team:red]
}
