package lkgatetest_test

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

// NewManager wires the Manager to the fake whatever cfg says of LiveKit,
// and closes it when the test ends: under SharedNames its lease sweeper
// would outlive the test otherwise.
func TestNewManager(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Run("shared names", func(t *testing.T) {
		srv := lkgatetest.NewServer(t)
		m := srv.NewManager(t, lkgate.Config{URL: "http://elsewhere.invalid", APIKey: "other", APISecret: "other-secret-other-secret-other-secret", RoomNames: lkgate.SharedNames})
		ctx := context.Background()
		if _, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: "standup", Identity: "alice"}); err != nil {
			t.Fatal(err)
		}
		rooms, err := m.ListRooms(ctx, "acme")
		if err != nil || len(rooms) != 1 || rooms[0].Name != "standup" {
			t.Fatalf("rooms %v, %v: want acme's standup, in the fake", rooms, err)
		}
		if _, ok := srv.Room("standup"); !ok {
			t.Error("the room is not in the fake")
		}
	})
	goleak.VerifyNone(t, ignore)
}

// fatalTB records the t.Fatalf of the code under test and ends its
// goroutine, as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestNewManagerFailsTheTest(t *testing.T) {
	srv := lkgatetest.NewServer(t)
	tb := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.NewManager(tb, lkgate.Config{RoomNames: lkgate.RoomNaming(99)})
		t.Error("NewManager returned with a config lkgate.New refuses")
	}()
	<-done
	if !strings.Contains(tb.msg, "RoomNames") {
		t.Errorf("failure %q does not say what New refused", tb.msg)
	}
}

func TestParticipant(t *testing.T) {
	srv := lkgatetest.NewServer(t)
	srv.AddParticipant("r", lkgatetest.Participant{Identity: "alice", Name: "Alice"})
	srv.AddParticipant("r", lkgatetest.Participant{Identity: "bob"})
	p, ok := srv.Participant("r", "alice")
	if !ok || p.Identity != "alice" || p.Name != "Alice" {
		t.Fatalf("alice: %v, %v", p, ok)
	}
	p.Name = "changed"
	if again, _ := srv.Participant("r", "alice"); again.Name != "Alice" {
		t.Error("Participant returned the stored participant, not a copy")
	}
	if p, ok := srv.Participant("r", "carol"); ok || p != nil {
		t.Errorf("unknown identity: %v, %v", p, ok)
	}
	if p, ok := srv.Participant("nowhere", "alice"); ok || p != nil {
		t.Errorf("unknown room: %v, %v", p, ok)
	}
}

// Admission shows what lkgate told a waiting guest: nothing while it
// waits, the admit with its main-room token, and a deny even once the
// lobby is closed.
func TestAdmission(t *testing.T) {
	srv := lkgatetest.NewServer(t)
	m := srv.NewManager(t, lkgate.Config{})
	guests, err := lkgate.NewGuests(m, lkgate.GuestConfig{
		Keys:          []lkgate.InviteKey{{ID: "k1", Key: bytes.Repeat([]byte{7}, 32)}},
		InviteBaseURL: "https://app.example.com",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := lkgate.WithSubject(context.Background(), "alice")
	inv, err := guests.Invite(ctx, "acme", lkgate.InviteRequest{Room: "standup"})
	if err != nil {
		t.Fatal(err)
	}
	wait := func(name string) *lkgate.GuestSession {
		g, err := guests.RoomAuth(ctx, inv.Token, name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Join(g.Token.JWT); err != nil {
			t.Fatal(err)
		}
		return g
	}
	grace, eve := wait("Grace"), wait("Eve")
	if msg, ok := srv.Admission(grace.LobbyRoom, grace.Identity); ok {
		t.Fatalf("a waiting guest has an admission: %+v", msg)
	}

	if err := guests.Admit(ctx, "acme", "standup", grace.Identity); err != nil {
		t.Fatal(err)
	}
	msg, ok := srv.Admission(grace.LobbyRoom, grace.Identity)
	if !ok || msg.Type != lkgate.AdmissionAdmit || msg.Room != "standup" || msg.Token == "" {
		t.Fatalf("admitted: %+v, %v", msg, ok)
	}
	// The token joins the tenant's room, under LiveKit's name for it.
	p, err := srv.Join(msg.Token)
	lkRoom, _ := m.LiveKitRoom("acme", "standup")
	if err != nil || p.Identity != grace.Identity {
		t.Fatalf("joining with the admission's token: %v, %v", p, err)
	}
	if _, ok := srv.Participant(lkRoom, grace.Identity); !ok {
		t.Errorf("the admitted guest is not in %s", lkRoom)
	}

	if err := guests.Deny(ctx, "acme", "standup", eve.Identity); err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.Participant(eve.LobbyRoom, eve.Identity); ok {
		t.Error("the denied guest is still in its lobby")
	}
	if msg, ok := srv.Admission(eve.LobbyRoom, eve.Identity); !ok || msg.Type != lkgate.AdmissionDeny || msg.Token != "" {
		t.Errorf("denied: %+v, %v", msg, ok)
	}
	if _, ok := srv.Admission(grace.LobbyRoom, eve.Identity); ok {
		t.Error("an admission for the wrong lobby")
	}
}
