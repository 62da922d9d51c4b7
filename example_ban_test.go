package lkgate_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

// Remove a participant so that it stays out: the ban refuses it new tokens
// for that room, and the join guard removes it if it comes back with the
// token LiveKit refreshed. Then end the meeting for everyone.
func ExampleManager_Ban() {
	fake := lkgatetest.NewUnstartedServer()
	fake.Start()
	defer fake.Close()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	m, err := lkgate.New(lkgate.Config{
		URL: fake.URL(), APIKey: lkgatetest.APIKey, APISecret: lkgatetest.APISecret,
		Now: func() time.Time { return now },
		// Bans: a redislimit Store, for several replicas.
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	ctx := lkgate.WithSubject(context.Background(), "alice@acme")
	room, _ := m.LiveKitRoom("acme", "standup")
	fake.AddParticipant(room, lkgatetest.Participant{Identity: "mallory", Attributes: map[string]string{lkgate.TenantAttribute: "acme"}})

	until, err := m.Ban(ctx, "acme", "standup", "mallory", time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("banned until", until.Format(time.RFC3339), "- still in the room:", len(fake.Participants(room)) > 0)

	_, err = m.Token(ctx, "acme", lkgate.TokenRequest{Room: "standup", Identity: "mallory"})
	fmt.Println("token:", errors.Is(err, lkgate.ErrForbidden), err)
	_, err = m.Token(ctx, "acme", lkgate.TokenRequest{Room: "retro", Identity: "mallory"})
	fmt.Println("another room:", err)

	fake.AddParticipant(room, lkgatetest.Participant{Identity: "bob", Attributes: map[string]string{lkgate.TenantAttribute: "acme"}})
	fmt.Println("end the meeting:", m.DeleteRoom(ctx, "acme", "standup"), "- open:", len(fake.Participants(room)) > 0)
	// Output:
	// banned until 2026-11-23T13:00:00Z - still in the room: false
	// token: true lkgate: token: room "standup": Identity: this identity is banned from the room
	// another room: <nil>
	// end the meeting: <nil> - open: false
}

// A banned client back in its room where the join guard cannot see it (no
// webhooks, or a client that only signals) is removed by the ban sweep,
// which the Manager runs every Config.BanSweepInterval; a host that turns
// that off runs it itself.
func ExampleManager_SweepBans() {
	fake := lkgatetest.NewUnstartedServer()
	fake.Start()
	defer fake.Close()
	m, err := lkgate.New(lkgate.Config{
		URL: fake.URL(), APIKey: lkgatetest.APIKey, APISecret: lkgatetest.APISecret,
		BanSweepInterval: -1, // this replica leaves sweeping to another, or to the host
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	ctx := lkgate.WithSubject(context.Background(), "alice@acme")
	if _, err := m.Ban(ctx, "acme", "standup", "mallory", time.Hour); err != nil {
		log.Fatal(err)
	}
	room, _ := m.LiveKitRoom("acme", "standup")
	fake.AddParticipant(room, lkgatetest.Participant{Identity: "mallory"}) // back with a refreshed token
	fake.AddParticipant(room, lkgatetest.Participant{Identity: "bob"})

	removed, err := m.SweepBans(context.Background())
	fmt.Println("removed:", removed, err)
	for _, p := range fake.Participants(room) {
		fmt.Println("still in the room:", p.Identity)
	}
	// Output:
	// removed: 1 <nil>
	// still in the room: bob
}
