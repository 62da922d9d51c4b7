package lkgatetest_test

// The code of the README's "Testing your app" section, kept compiling and
// passing here: change both together.

import (
	"errors"
	"testing"

	"github.com/twitchtv/twirp"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

func TestModeratorRemovesParticipant(t *testing.T) {
	fake := lkgatetest.NewServer(t)               // an in-memory LiveKit, closed when the test ends
	m := fake.NewManager(t, lkgate.Config{})      // your Config, wired to the fake
	ctx := lkgate.WithSubject(t.Context(), "ann") // who acts, for the audit trail

	// bob joins acme's "standup" with a token from your app.
	tok, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: "standup", Identity: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fake.Join(tok.JWT); err != nil { // stands in for bob's client
		t.Fatal(err)
	}
	// The fake is LiveKit: it knows the room by LiveKit's name.
	room, _ := m.LiveKitRoom("acme", "standup")
	if _, ok := fake.Participant(room, "bob"); !ok {
		t.Fatal("bob is not in the room")
	}

	if err := m.RemoveParticipant(ctx, "acme", "standup", "bob"); err != nil {
		t.Fatal(err)
	}
	if _, ok := fake.Participant(room, "bob"); ok {
		t.Error("bob is still in the room")
	}
}

func TestGuestIsAdmitted(t *testing.T) {
	fake := lkgatetest.NewServer(t)
	m := fake.NewManager(t, lkgate.Config{})
	guests, err := lkgate.NewGuests(m, lkgate.GuestConfig{
		Keys:          []lkgate.InviteKey{{ID: "test", Key: make([]byte, lkgate.InviteKeyBytes)}},
		InviteBaseURL: "https://app.example.com",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := lkgate.WithSubject(t.Context(), "ann") // ann invites, so ann may admit

	inv, err := guests.Invite(ctx, "acme", lkgate.InviteRequest{Room: "standup"})
	if err != nil {
		t.Fatal(err)
	}
	guest, err := guests.RoomAuth(t.Context(), inv.Token, "Grace") // the guest has no subject
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fake.Join(guest.Token.JWT); err != nil { // the guest waits in its lobby
		t.Fatal(err)
	}

	if err := guests.Admit(ctx, "acme", "standup", guest.Identity); err != nil {
		t.Fatal(err)
	}
	// What the guest's client was told: admit, with a token for "standup".
	msg, ok := fake.Admission(guest.LobbyRoom, guest.Identity)
	if !ok || msg.Type != lkgate.AdmissionAdmit || msg.Room != "standup" {
		t.Fatalf("admission %+v, %v", msg, ok)
	}
	if _, err := fake.Join(msg.Token); err != nil {
		t.Fatal(err)
	}
}

func TestLiveKitDown(t *testing.T) {
	fake := lkgatetest.NewServer(t)
	m := fake.NewManager(t, lkgate.Config{})
	fake.SetError("ListRooms", twirp.NewError(twirp.Unavailable, "down"))

	_, err := m.ListRooms(t.Context(), "acme")
	if !errors.Is(err, lkgate.ErrUnavailable) {
		t.Errorf("got %v, want lkgate.ErrUnavailable (503 through httpx)", err)
	}
}
