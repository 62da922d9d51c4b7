package contract

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"

	"github.com/lkgate/lkgate"
)

// Manager-level cases of both room namings: what ScopedNames relies on
// (the join of a minted token creates the tenant's own LiveKit room, with
// the token's settings and agents) and the guest flow in either naming.

// waitOwner waits until ListRooms shows room with tenant as its owner.
func (c *suite) waitOwner(t *testing.T, room, tenant string) {
	t.Helper()
	want := `{"` + lkgate.OwnerKey + `":"` + tenant + `"}`
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		res, err := c.rooms.ListRooms(context.Background(), &livekit.ListRoomsRequest{Names: []string{room}})
		if err == nil && len(res.Rooms) == 1 && res.Rooms[0].Metadata == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("room %s never listed as %s's: %v %v", room, tenant, res.GetRooms(), err)
		}
	}
}

// liveKitRoom is m's LiveKit name of tenant's room.
func liveKitRoom(t *testing.T, m *lkgate.Manager, tenant, room string) string {
	t.Helper()
	lk, err := m.LiveKitRoom(tenant, room)
	if err != nil {
		t.Fatal(err)
	}
	return lk
}

// scopedSeparateTenants: under ScopedNames, two tenants' tokens for one
// name open two LiveKit rooms; each room is created by its first join
// with Config.Room and the token's agents, and holds only its tenant's
// participants.
func (c *suite) scopedSeparateTenants(t *testing.T) {
	ctx := context.Background()
	m := c.manager(t, lkgate.Config{Room: lkgate.RoomOptions{EmptyTimeout: 2 * time.Minute, DepartureTimeout: 7 * time.Second, MaxParticipants: 5},
		AllowAgent: lkgate.AllowAgents(map[string][]string{"acme": {"notetaker"}})})
	room := unique("standup")
	tokens := map[string]*lkgate.Token{}
	for _, req := range []struct {
		tenant string
		agents []lkgate.AgentDispatch
	}{
		{"acme", []lkgate.AgentDispatch{{AgentName: "notetaker", Metadata: "acme-notes"}}},
		{"globex", nil},
	} {
		tok, err := m.Token(ctx, req.tenant, lkgate.TokenRequest{Room: room, Identity: "host", Agents: req.agents})
		if err != nil {
			t.Fatal(err)
		}
		if tok.Room != room {
			t.Errorf("%s's token says room %q, want %q", req.tenant, tok.Room, room)
		}
		tokens[req.tenant] = tok
	}
	acme, globex := liveKitRoom(t, m, "acme", room), liveKitRoom(t, m, "globex", room)
	if want, _ := lkgate.ScopedRoomName("acme", room); acme != want || acme == globex {
		t.Fatalf("LiveKit rooms %q and %q, want %q and another", acme, globex, want)
	}
	res, err := c.rooms.ListRooms(ctx, &livekit.ListRoomsRequest{Names: []string{acme, globex, room}})
	if err != nil || len(res.Rooms) != 0 {
		t.Fatalf("rooms before any join: %v %v; a scoped token creates none", names(res.GetRooms()), err)
	}
	c.JoinToken(t, acme, "host", tokens["acme"].JWT)
	c.JoinToken(t, globex, "host", tokens["globex"].JWT)

	for tenant, lk := range map[string]string{"acme": acme, "globex": globex} {
		wantSettings(t, tenant+"'s room", c.roomInfo(t, lk), 120, 7, 5)
		ps, err := c.rooms.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: lk})
		if err != nil || len(ps.Participants) != 1 || ps.Participants[0].Attributes[lkgate.TenantAttribute] != tenant {
			t.Errorf("%s's room %s: participants %v %v, want its host alone", tenant, lk, ps.GetParticipants(), err)
		}
		d, err := m.Room(ctx, tenant, room)
		if err != nil || d.Name != room || len(d.Participants) != 1 || d.Participants[0].Identity != "host" {
			t.Errorf("%s's Room(%s): %+v %v", tenant, room, d, err)
		}
	}
	c.wantDispatches(t, "acme's room", acme, agent{"notetaker", "acme-notes"})
	c.wantDispatches(t, "globex's room", globex, agent{})
	res, err = c.rooms.ListRooms(ctx, &livekit.ListRoomsRequest{Names: []string{room}})
	if err != nil || len(res.Rooms) != 0 {
		t.Errorf("a LiveKit room under the plain name: %v %v", names(res.GetRooms()), err)
	}
}

// scopedIgnorePlainRoom: under ScopedNames a LiveKit room under the plain
// name, with another tenant's participant in it, concerns no tenant: a
// token for that name is minted and names the tenant's own room.
func (c *suite) scopedIgnorePlainRoom(t *testing.T) {
	ctx := context.Background()
	m := c.manager(t, lkgate.Config{})
	room := unique("plain")
	c.Join(t, room, "g1", map[string]string{lkgate.TenantAttribute: "globex"})
	tok, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: room, Identity: "a"})
	if err != nil {
		t.Fatalf("a plain room of the same name: %v", err)
	}
	lk := liveKitRoom(t, m, "acme", room)
	c.JoinToken(t, lk, "a", tok.JWT)
	ps, err := c.rooms.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: room})
	if err != nil || len(ps.Participants) != 1 || ps.Participants[0].Identity != "g1" {
		t.Errorf("the plain room: %v %v, want g1 alone", ps.GetParticipants(), err)
	}
	if d, err := m.Room(ctx, "acme", room); err != nil || len(d.Participants) != 1 || d.Participants[0].Identity != "a" {
		t.Errorf("acme's room: %+v %v, want a alone", d, err)
	}
}

// guestLobby: what lkgate's guests rely on, under naming. A lobby token's
// empty grant and server-set attributes reach the participant as minted;
// the room its join creates is listed unfiltered; the admission attribute
// lands on the guest and leaves its empty permissions alone; the admission
// token joins the tenant's main room; removal takes a denied guest out.
// Another tenant sees none of the guests.
func (c *suite) guestLobby(t *testing.T, naming lkgate.RoomNaming) {
	ctx := context.Background()
	m := c.manager(t, lkgate.Config{RoomNames: naming})
	g, err := lkgate.NewGuests(m, lkgate.GuestConfig{
		Keys: []lkgate.InviteKey{{ID: "k", Key: make([]byte, lkgate.InviteKeyBytes)}}, InviteBaseURL: "https://app.example.com",
	})
	if err != nil {
		t.Fatal(err)
	}
	room := unique("guests")
	inv, err := g.Invite(ctx, "acme", lkgate.InviteRequest{Org: "acme", Room: room, AllowAll: true})
	if err != nil {
		t.Fatal(err)
	}
	if naming == lkgate.SharedNames {
		// The invite claimed the room; LiveKit's room list, which every
		// ownership check reads, can trail the claim by milliseconds.
		c.waitOwner(t, room, "acme")
	}
	if waiting, err := g.Waiting(ctx, "acme", room); err != nil || len(waiting) != 0 {
		t.Errorf("waiting before any guest: %+v %v, want an empty list", waiting, err)
	}
	var guests []*lkgate.GuestSession
	for _, name := range []string{"Grace", "Eve"} {
		s, err := g.RoomAuth(ctx, inv.Token, name)
		if err != nil {
			t.Fatal(err)
		}
		if naming == lkgate.ScopedNames && !strings.HasPrefix(s.LobbyRoom, "t4_acme_"+lkgate.LobbyPrefix) {
			t.Errorf("lobby %q is not in acme's namespace", s.LobbyRoom)
		}
		c.JoinToken(t, s.LobbyRoom, s.Identity, s.Token.JWT)
		guests = append(guests, s)
	}
	p, err := c.rooms.GetParticipant(ctx, &livekit.RoomParticipantIdentity{Room: guests[0].LobbyRoom, Identity: guests[0].Identity})
	if err != nil {
		t.Fatal(err)
	}
	perm := p.GetPermission()
	if perm.GetCanPublish() || perm.GetCanSubscribe() || perm.GetCanPublishData() || perm.GetCanUpdateMetadata() || perm.GetHidden() {
		t.Errorf("lobby permission %v, want none", perm)
	}
	if p.Name != "Grace" || p.Attributes[lkgate.TenantAttribute] != "acme" || p.Attributes[lkgate.GuestPassAttribute] == "" {
		t.Errorf("lobby participant %q attributes %v", p.Name, p.Attributes)
	}
	waiting, err := g.Waiting(ctx, "acme", room)
	if err != nil {
		t.Fatal(err)
	}
	if len(waiting) != 2 {
		t.Fatalf("waiting %+v, want both guests", waiting)
	}
	switch other, err := g.Waiting(ctx, "globex", room); {
	case naming == lkgate.ScopedNames && (err != nil || len(other) != 0):
		t.Errorf("another tenant's waiting list for the name: %+v %v, want its own, empty", other, err)
	case naming == lkgate.SharedNames && !errors.Is(err, lkgate.ErrNotFound):
		t.Errorf("another tenant's waiting list for acme's room: %+v %v, want ErrNotFound", other, err)
	}
	if err := g.Admit(ctx, "acme", room, guests[0].Identity); err != nil {
		t.Fatalf("admit: %v", err)
	}
	p, err = c.rooms.GetParticipant(ctx, &livekit.RoomParticipantIdentity{Room: guests[0].LobbyRoom, Identity: guests[0].Identity})
	if err != nil {
		t.Fatal(err)
	}
	if perm := p.GetPermission(); perm.GetCanPublish() || perm.GetCanSubscribe() || perm.GetCanPublishData() || perm.GetCanUpdateMetadata() {
		t.Errorf("lobby permission after admission %v, want none", perm)
	}
	var msg lkgate.AdmissionMessage
	if err := json.Unmarshal([]byte(p.Attributes[lkgate.AdmissionAttribute]), &msg); err != nil || msg.Type != lkgate.AdmissionAdmit ||
		msg.Room != room || msg.Token == "" || p.Attributes[lkgate.GuestPassAttribute] == "" {
		t.Fatalf("attributes after admission %v (%v)", p.Attributes, err)
	}
	mainRoom := liveKitRoom(t, m, "acme", room)
	c.JoinToken(t, mainRoom, guests[0].Identity, msg.Token)
	in, err := c.rooms.GetParticipant(ctx, &livekit.RoomParticipantIdentity{Room: mainRoom, Identity: guests[0].Identity})
	if err != nil || in.Name != "Grace" || in.Attributes[lkgate.TenantAttribute] != "acme" || !in.GetPermission().GetCanPublish() {
		t.Errorf("the admitted guest in the main room %s: %v %v", mainRoom, in, err)
	}
	if waiting, err := g.Waiting(ctx, "acme", room); err != nil || len(waiting) != 1 {
		t.Errorf("waiting after one admission: %+v %v", waiting, err)
	}
	if err := g.Deny(ctx, "acme", room, guests[1].Identity); err != nil {
		t.Errorf("deny: %v", err)
	}
	_, err = c.rooms.GetParticipant(ctx, &livekit.RoomParticipantIdentity{Room: guests[1].LobbyRoom, Identity: guests[1].Identity})
	wantCode(t, "GetParticipant(denied guest)", err, twirp.NotFound)
}
