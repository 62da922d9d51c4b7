package lkgate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate"
)

// The size cap applies before anything else: an invite longer than
// MaxInviteTokenBytes is refused even when it is authentic, so opening
// one costs a bounded amount. The tamper cases' "oversized" token is
// garbage that any check refuses; this one is refused by the cap alone.
func TestRoomAuthRefusesOversizedAuthenticInvite(t *testing.T) {
	e := newGuestEnv(t, lkgate.Config{})
	c := validClaims(e.clk.Now())
	admins := make([]string, 100)
	for i := range admins {
		admins[i] = fmt.Sprintf("admin-%03d-%s", i, strings.Repeat("a", 40))
	}
	c["admins"] = admins
	tok := encryptWith(t, jose.DIRECT, jose.A256GCM, keyA.Key, "k1", c)
	if len(tok) <= lkgate.MaxInviteTokenBytes {
		t.Fatalf("the invite is %d bytes, not over the cap", len(tok))
	}
	_, err := e.guests.RoomAuth(context.Background(), tok, "G")
	wantErr(t, err, lkgate.ErrInvalidArgument, "InviteToken")
	if !strings.Contains(err.Error(), "limit") {
		t.Errorf("error %q does not name the cap", err)
	}
	if n := e.fake.TotalCalls(); n != 0 {
		t.Errorf("%d LiveKit calls", n)
	}
}

// Under SharedNames a name can pass from one tenant to another while a
// guest of the first still waits in the name's lobby (lobby names carry
// no tenant). The new owner neither sees that guest nor admits or denies
// it: the guest's pass names its org, and only that org's admins decide.
func TestForeignGuestInAMovedNameIsNotTheOwners(t *testing.T) {
	e := newGuestEnv(t, lkgate.Config{RoomNames: lkgate.SharedNames})
	ctx := lkgate.WithSubject(context.Background(), "alice")
	inv := e.invite(t, lkgate.InviteRequest{Org: "globex", Room: "standup", AllowAll: true})
	s := e.waiting(t, inv, "Gail")
	// globex's room closed, its leases ran out and acme claimed the name:
	// the room's owner is now acme.
	owner, _ := json.Marshal(map[string]string{lkgate.OwnerKey: "acme"})
	if _, err := adminClient(e.fake).UpdateRoomMetadata(ctx, &livekit.UpdateRoomMetadataRequest{Room: "standup", Metadata: string(owner)}); err != nil {
		t.Fatal(err)
	}
	waiting, err := e.guests.Waiting(ctx, "acme", "standup")
	if err != nil || len(waiting) != 0 {
		t.Errorf("acme's waiting list: %v, %v; want globex's guest left out", waiting, err)
	}
	wantErr(t, e.guests.Admit(ctx, "acme", "standup", s.Identity), lkgate.ErrNotFound, "")
	if msg := e.admission(t, s); msg != nil {
		t.Errorf("acme decided on globex's guest: %+v", msg)
	}
	wantErr(t, e.guests.Deny(ctx, "acme", "standup", s.Identity), lkgate.ErrNotFound, "")
	if len(e.fake.Participants(s.LobbyRoom)) != 1 {
		t.Error("acme's deny removed globex's guest")
	}
}

// A guest's pass is bound to its identity: a pass carried by another
// guest (a client able to set its own attributes, or a copy planted by
// another tool) lets nobody in. Here guest Y, whom only bob may admit,
// carries the pass of guest X, whom anyone may.
func TestGuestPassIsBoundToItsGuest(t *testing.T) {
	e := newGuestEnv(t, lkgate.Config{})
	ctx := lkgate.WithSubject(context.Background(), "alice")
	x := e.waiting(t, e.invite(t, lkgate.InviteRequest{Org: "acme", Room: "standup", AllowAll: true}), "X")
	y := e.waiting(t, e.invite(t, lkgate.InviteRequest{Org: "acme", Room: "standup", AllowedAdmins: []string{"bob"}}), "Y")
	pass := decode(t, x.Token.JWT).Attributes[lkgate.GuestPassAttribute]
	if _, err := adminClient(e.fake).UpdateParticipant(ctx, &livekit.UpdateParticipantRequest{
		Room: y.LobbyRoom, Identity: y.Identity, Attributes: map[string]string{lkgate.GuestPassAttribute: pass},
	}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.guests.Admit(ctx, "acme", "standup", y.Identity), lkgate.ErrNotFound, "")
	if msg := e.admission(t, y); msg != nil {
		t.Errorf("Y admitted with X's pass: %+v", msg)
	}
}
