package lkgate_test

import (
	"context"
	"fmt"
	"log"
	"slices"
	"strings"

	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

// A Manager with a room index lists a tenant's rooms, and counts them for
// its quota, by name: the cost follows the tenant's rooms, not every room
// on LiveKit. The index learns the rooms the Manager creates at once, the
// rooms participants' joins create from LiveKit's room_started webhook
// (which httpx's webhook route passes to IndexRoomEvent), and whatever a
// lost webhook left out from the reconciliation, which the Manager runs
// every RoomIndexReconcile (or the host, on one replica, when negative).
func ExampleNewMemoryRoomIndex() {
	fake := lkgatetest.NewUnstartedServer() // LiveKit, for the example
	fake.Start()
	defer fake.Close()
	m, err := lkgate.New(lkgate.Config{URL: fake.URL(), APIKey: lkgatetest.APIKey, APISecret: lkgatetest.APISecret,
		PrecreateRooms:     true,
		RoomIndex:          lkgate.NewMemoryRoomIndex(nil), // redislimit's RoomIndex for replicas
		RoomIndexReconcile: -1,                             // reconciled below, by hand
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()

	// Created by the Manager: indexed at once.
	if _, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: "standup", Identity: "alice"}); err != nil {
		log.Fatal(err)
	}
	// Created by participants' joins: one webhook arrives, one is lost.
	planning, _ := m.LiveKitRoom("acme", "planning")
	retro, _ := m.LiveKitRoom("acme", "retro")
	fake.AddParticipant(planning, lkgatetest.Participant{Identity: "bob"})
	fake.AddParticipant(retro, lkgatetest.Participant{Identity: "carol"})
	started, _ := fake.Room(planning)
	if err := m.IndexRoomEvent(ctx, &livekit.WebhookEvent{Event: "room_started", Room: started}); err != nil {
		log.Fatal(err)
	}
	list := func() {
		rooms, err := m.ListRooms(ctx, "acme")
		if err != nil {
			log.Fatal(err)
		}
		var names []string
		for _, r := range rooms {
			names = append(names, r.Name)
		}
		slices.Sort(names)
		fmt.Println(strings.Join(names, " "))
	}
	list()

	res, err := m.ReconcileRoomIndex(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("reconciled: %d added, %d removed\n", res.Added, res.Removed)
	list()
	// Output:
	// planning standup
	// reconciled: 1 added, 0 removed
	// planning retro standup
}
