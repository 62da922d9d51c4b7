package lkgate_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

// Bad input never reaches LiveKit: every Manager method that takes a
// request refuses each invalid field with ErrInvalidArgument, naming it,
// before its first LiveKit call. The room exists and belongs to acme, and
// the participant is in it, so under SharedNames a check made after the
// ownership look-up, and under ScopedNames one made after the gate, would
// show as a call.
func TestBadInputNeverReachesLiveKit(t *testing.T) {
	forEachNaming(t, testBadInputNeverReachesLiveKit)
}

func testBadInputNeverReachesLiveKit(t *testing.T, naming lkgate.RoomNaming) {
	fake := lkgatetest.NewServer(t)
	trunk := fake.AddOutboundTrunk("acme.example:5060", "+15550000001")
	m, _ := newManagerOn(t, fake, lkgate.Config{RoomNames: naming,
		// Every limit on, so that a check made after one would show too.
		Limits: lkgate.LimitConfig{Default: lkgate.Limits{MaxRooms: 5, MaxConcurrentSIPCalls: 2,
			TokenRate: lkgate.PerMinute(100, 100), SIPCallRate: lkgate.PerMinute(100, 100), InviteRate: lkgate.PerMinute(100, 100)}}})
	g := newGuests(t, m)
	sip := fake.NewSIP(t, m, lkgate.SIPConfig{Trunks: lkgate.StaticTrunk(trunk), AllowSIPTransfer: func(string, string) bool { return true }})
	ctx := lkgate.WithSubject(context.Background(), "alice@acme")
	if _, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: "standup", Identity: "alice"}); err != nil {
		t.Fatal(err)
	}
	fake.AddParticipant(lkName(t, m, "acme", "standup"), lkgatetest.Participant{Identity: "bob", Attributes: map[string]string{lkgate.TenantAttribute: "acme"}})

	long := strings.Repeat("x", 300)
	guest := lkgate.GuestIdentityPrefix + "abc"
	bad := map[string]string{"long": long, "control": "a\x07b", "bidi": "a\u202eb", "invalid UTF-8": "a\xffb", "spaces": "a  b"}
	type call struct {
		name  string
		field string
		run   func() error
	}
	var calls []call
	for what, s := range bad {
		calls = append(calls,
			call{"token room " + what, "Room", func() error {
				_, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: s, Identity: "alice"})
				return err
			}},
			call{"token identity " + what, "Identity", func() error {
				_, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: "standup", Identity: s})
				return err
			}},
			call{"room details " + what, "Room", func() error { _, err := m.Room(ctx, "acme", s); return err }},
			call{"remove room " + what, "Room", func() error { return m.RemoveParticipant(ctx, "acme", s, "bob") }},
			call{"remove identity " + what, "Identity", func() error { return m.RemoveParticipant(ctx, "acme", "standup", s) }},
			call{"mute identity " + what, "Identity", func() error {
				_, err := m.MuteTrack(ctx, "acme", lkgate.MuteRequest{Room: "standup", Identity: s, Source: lkgate.SourceCamera, Muted: true})
				return err
			}},
			call{"mute track sid " + what, "TrackSID", func() error {
				_, err := m.MuteTrack(ctx, "acme", lkgate.MuteRequest{Room: "standup", Identity: "bob", TrackSID: s, Muted: true})
				return err
			}},
			call{"permissions identity " + what, "Identity", func() error {
				_, err := m.UpdatePermissions(ctx, "acme", "standup", s, lkgate.ViewerGrant())
				return err
			}},
			call{"call room " + what, "Room", func() error {
				_, err := sip.Call(ctx, "acme", lkgate.CallRequest{Room: s, Identity: "phone", To: "+4930123456"})
				return err
			}},
			call{"call identity " + what, "Identity", func() error {
				_, err := sip.Call(ctx, "acme", lkgate.CallRequest{Room: "standup", Identity: s, To: "+4930123456"})
				return err
			}},
			call{"transfer identity " + what, "Identity", func() error {
				_, err := sip.Transfer(ctx, "acme", lkgate.TransferRequest{Room: "standup", Identity: s, TransferTo: "+4930999999"})
				return err
			}},
			call{"invite room " + what, "Room", func() error {
				_, err := g.Invite(ctx, "acme", lkgate.InviteRequest{Room: s, AllowAll: true})
				return err
			}},
			call{"admit guest " + what, "GuestIdentity", func() error { return g.Admit(ctx, "acme", "standup", guest+s) }},
			call{"deny room " + what, "Room", func() error { return g.Deny(ctx, "acme", s, guest) }},
			call{"waiting guests room " + what, "Room", func() error { _, err := g.Waiting(ctx, "acme", s); return err }},
			call{"list rooms tenant " + what, "tenant", func() error { _, err := m.ListRooms(ctx, s); return err }},
			call{"remove tenant " + what, "tenant", func() error { return m.RemoveParticipant(ctx, s, "standup", "bob") }},
		)
	}
	calls = append(calls,
		call{"remove empty identity", "Identity", func() error { return m.RemoveParticipant(ctx, "acme", "standup", "") }},
		call{"lobby room name", "Room", func() error { _, err := m.Room(ctx, "acme", lkgate.LobbyPrefix+"x"); return err }},
		call{"call into a lobby name", "Room", func() error {
			_, err := sip.Call(ctx, "acme", lkgate.CallRequest{Room: lkgate.LobbyPrefix + "x", Identity: "phone", To: "+4930123456"})
			return err
		}},
		call{"mute bad source", "Source", func() error {
			_, err := m.MuteTrack(ctx, "acme", lkgate.MuteRequest{Room: "standup", Identity: "bob", Source: "webcam", Muted: true})
			return err
		}},
		call{"mute sid and source", "TrackSID", func() error {
			_, err := m.MuteTrack(ctx, "acme", lkgate.MuteRequest{Room: "standup", Identity: "bob", TrackSID: "TR_x", Source: lkgate.SourceCamera})
			return err
		}},
		call{"permissions sources without publish", "CanPublishSources", func() error {
			_, err := m.UpdatePermissions(ctx, "acme", "standup", "bob", lkgate.Grant{CanPublishSources: []lkgate.TrackSource{lkgate.SourceCamera}})
			return err
		}},
		call{"permissions bad source", "CanPublishSources", func() error {
			_, err := m.UpdatePermissions(ctx, "acme", "standup", "bob", lkgate.Grant{CanPublish: true, CanPublishSources: []lkgate.TrackSource{"webcam"}})
			return err
		}},
		call{"call bad number", "To", func() error {
			_, err := sip.Call(ctx, "acme", lkgate.CallRequest{Room: "standup", Identity: "phone", To: "030 123"})
			return err
		}},
		call{"transfer bad target", "TransferTo", func() error {
			_, err := sip.Transfer(ctx, "acme", lkgate.TransferRequest{Room: "standup", Identity: "bob", TransferTo: "sip:a@b>;x"})
			return err
		}},
		call{"invite bad duration", "Duration", func() error {
			_, err := g.Invite(ctx, "acme", lkgate.InviteRequest{Room: "standup", AllowAll: true, Duration: -1})
			return err
		}},
		call{"admit not a guest", "GuestIdentity", func() error { return g.Admit(ctx, "acme", "standup", "bob") }},
		call{"room-auth bad invite", "InviteToken", func() error { _, err := g.RoomAuth(ctx, "not-an-invite", "Guest"); return err }},
		call{"room-auth empty name", "GuestName", func() error { _, err := g.RoomAuth(ctx, "not-an-invite", "\u200b"); return err }},
	)
	for _, c := range calls {
		fake.ResetCalls()
		err := c.run()
		var e *lkgate.Error
		if !errors.Is(err, lkgate.ErrInvalidArgument) || !errors.As(err, &e) || e.Field != c.field {
			t.Errorf("%s: %v, want ErrInvalidArgument on %s", c.name, err, c.field)
		}
		if n := fake.TotalCalls(); n != 0 {
			t.Errorf("%s: bad input made %d LiveKit calls before its refusal", c.name, n)
		}
	}
}

// One room-name rule: every method that takes a room refuses the same
// names, with or without a tenant (unauthenticated mode), before any
// LiveKit call: a guest lobby's name, a tenant-scoped LiveKit name outside
// ScopedNames' own mapping, and names outside the profile.
func TestOneRoomNameRule(t *testing.T) {
	fake := lkgatetest.NewServer(t)
	trunk := fake.AddOutboundTrunk("acme.example:5060", "+15550000001")
	m, _ := newManagerOn(t, fake, lkgate.Config{AllowUnauthenticated: true})
	g := newGuests(t, m)
	sip := fake.NewSIP(t, m, lkgate.SIPConfig{Trunks: lkgate.StaticTrunk(trunk), AllowSIPTransfer: func(string, string) bool { return true }})
	ctx := lkgate.WithSubject(context.Background(), "alice")
	uses := map[string]func(tenant, room string) error{
		"token": func(tenant, room string) error {
			_, err := m.Token(ctx, tenant, lkgate.TokenRequest{Room: room, Identity: "alice"})
			return err
		},
		"call": func(tenant, room string) error {
			_, err := sip.Call(ctx, tenant, lkgate.CallRequest{Room: room, Identity: "phone", To: "+4930123456"})
			return err
		},
		"transfer": func(tenant, room string) error {
			_, err := sip.Transfer(ctx, tenant, lkgate.TransferRequest{Room: room, Identity: "phone", TransferTo: "+4930123456"})
			return err
		},
		"invite": func(tenant, room string) error {
			_, err := g.Invite(ctx, tenant, lkgate.InviteRequest{Room: room, AllowAll: true})
			return err
		},
		"room details": func(tenant, room string) error { _, err := m.Room(ctx, tenant, room); return err },
		"remove":       func(tenant, room string) error { return m.RemoveParticipant(ctx, tenant, room, "bob") },
		"waiting":      func(tenant, room string) error { _, err := g.Waiting(ctx, tenant, room); return err },
	}
	for _, tenant := range []string{"", "acme"} {
		for _, room := range []string{lkgate.LobbyPrefix + "abc", scoped(t, "globex", "standup"), "", " standup", "a\x00b", strings.Repeat("r", 257)} {
			if tenant == "acme" && strings.HasPrefix(room, "t") {
				continue // under ScopedNames a tenant's name maps into its own namespace
			}
			for use, f := range uses {
				fake.ResetCalls()
				err := f(tenant, room)
				var e *lkgate.Error
				if !errors.Is(err, lkgate.ErrInvalidArgument) || !errors.As(err, &e) || e.Field != "Room" {
					t.Errorf("tenant %q, %s into %q: %v, want ErrInvalidArgument on Room", tenant, use, room, err)
				}
				if n := fake.TotalCalls(); n != 0 {
					t.Errorf("tenant %q, %s into %q: %d LiveKit calls", tenant, use, room, n)
				}
			}
		}
	}
}

// A guest's room-auth checks the invite's room against the Manager's
// configuration before the org's GuestWaitRate: an invite whose room this
// Manager refuses (here, a shared name too long for acme's scoped
// namespace) is refused without using up the rate or calling LiveKit.
func TestGuestRoomAuthRefusesBeforeTheRate(t *testing.T) {
	long := strings.Repeat("r", 250)
	sm, _ := newManager(t, lkgate.Config{RoomNames: lkgate.SharedNames})
	inv, err := newGuests(t, sm).Invite(lkgate.WithSubject(context.Background(), "alice"), "acme", lkgate.InviteRequest{Room: long, AllowAll: true})
	if err != nil {
		t.Fatal(err)
	}
	m, fake := newManager(t, lkgate.Config{Limits: lkgate.LimitConfig{Default: lkgate.Limits{GuestWaitRate: lkgate.PerMinute(1, 1)}}})
	g := newGuests(t, m)
	fake.ResetCalls()
	for range 2 {
		_, err := g.RoomAuth(context.Background(), inv.Token, "Guest")
		var e *lkgate.Error
		if !errors.Is(err, lkgate.ErrInvalidArgument) || !errors.As(err, &e) || e.Field != "Room" {
			t.Fatalf("an invite for a room too long here: %v, want ErrInvalidArgument on Room", err)
		}
	}
	if n := fake.TotalCalls(); n != 0 {
		t.Errorf("refused invites made %d LiveKit calls", n)
	}
	good, err := g.Invite(lkgate.WithSubject(context.Background(), "alice"), "acme", lkgate.InviteRequest{Room: "standup", AllowAll: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.RoomAuth(context.Background(), good.Token, "Guest"); err != nil {
		t.Errorf("the org's rate was used up by refused invites: %v", err)
	}
}
