package lkgate_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

// seedRoom mints a token for tenant's room (which creates and claims a
// shared name) and puts alice in the room, publishing a microphone and a
// camera track, as her join with that token would.
func seedRoom(t *testing.T, m *lkgate.Manager, fake *lkgatetest.Server, tenant, room string) *livekit.ParticipantInfo {
	t.Helper()
	if err := token(m, tenant, room); err != nil {
		t.Fatal(err)
	}
	return fake.AddParticipant(lkName(t, m, tenant, room), lkgatetest.Participant{
		Identity: "alice", Name: "Alice", Metadata: "m",
		Attributes: map[string]string{lkgate.TenantAttribute: tenant, "role": "host"},
		Tracks: []lkgatetest.Track{
			{Source: livekit.TrackSource_MICROPHONE, Type: livekit.TrackType_AUDIO, Name: "mic"},
			{Source: livekit.TrackSource_CAMERA, Type: livekit.TrackType_VIDEO, Name: "cam"},
		},
	})
}

func TestListRoomsShowsOnlyTheTenantsRooms(t *testing.T) {
	forEachNaming(t, func(t *testing.T, naming lkgate.RoomNaming) {
		// Under ScopedNames a token creates no room unless asked to.
		m, fake := newManager(t, lkgate.Config{RoomNames: naming, PrecreateRooms: naming == lkgate.ScopedNames})
		var acme, globex []string
		for i := range 12 {
			a, g := fmt.Sprintf("acme-%02d", i), fmt.Sprintf("globex-%02d", i)
			if err := token(m, "acme", a); err != nil {
				t.Fatal(err)
			}
			if err := token(m, "globex", g); err != nil {
				t.Fatal(err)
			}
			acme, globex = append(acme, a), append(globex, g)
		}
		fake.AddParticipant("joined-without-lkgate", lkgatetest.Participant{Identity: "x"})

		// The tenants' list requests share one LiveKit answer
		// (Config.ListStaleness).
		fake.ResetCalls()
		for tenant, want := range map[string][]string{"acme": acme, "globex": globex, "initech": nil} {
			rooms, err := m.ListRooms(context.Background(), tenant)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rooms {
				got = append(got, r.Name)
				if strings.Contains(r.Metadata, lkgate.OwnerKey) {
					t.Errorf("room %s shows the owner key: %q", r.Name, r.Metadata)
				}
			}
			slices.Sort(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s sees (-want +got):\n%s", tenant, diff)
			}
		}
		if n := fake.TotalCalls(); n != 1 {
			t.Errorf("3 tenants' ListRooms made %d LiveKit calls, want 1", n)
		}

		// Unauthenticated mode sees the plain names: under ScopedNames
		// only the room created outside lkgate, under SharedNames all.
		open, _ := newManagerOn(t, fake, lkgate.Config{RoomNames: naming, AllowUnauthenticated: true})
		all, err := open.ListRooms(context.Background(), "")
		want := map[lkgate.RoomNaming]int{lkgate.ScopedNames: 1, lkgate.SharedNames: 25}[naming]
		if err != nil || len(all) != want {
			t.Errorf("unauthenticated mode lists %d rooms (%v), want %d", len(all), err, want)
		}
	})
}

func TestRoomDetails(t *testing.T) {
	m, fake := newManager(t, lkgate.Config{})
	seeded := seedRoom(t, m, fake, "acme", "standup")
	if _, err := adminClient(fake).UpdateRoomMetadata(context.Background(), &livekit.UpdateRoomMetadataRequest{Room: lkName(t, m, "acme", "standup"), Metadata: `{"auth_id":"acme","topic":"retro"}`}); err != nil {
		t.Fatal(err)
	}
	fake.ResetCalls()
	d, err := m.Room(context.Background(), "acme", "standup")
	if err != nil {
		t.Fatal(err)
	}
	if n := fake.TotalCalls(); n != 2 {
		t.Errorf("Room made %d LiveKit calls, want 2", n)
	}
	if d.Name != "standup" || d.Metadata != `{"topic":"retro"}` || d.NumParticipants != 1 || len(d.Participants) != 1 {
		t.Fatalf("details %+v", d)
	}
	p := d.Participants[0]
	want := lkgate.Participant{
		SID: seeded.Sid, Identity: "alice", Name: "Alice", State: "active", Kind: "standard",
		JoinedAt: p.JoinedAt, Metadata: "m", Attributes: map[string]string{"role": "host"}, IsPublisher: true,
		Tracks: []lkgate.Track{
			{SID: seeded.Tracks[0].Sid, Source: lkgate.SourceMicrophone, Type: "audio", Name: "mic"},
			{SID: seeded.Tracks[1].Sid, Source: lkgate.SourceCamera, Type: "video", Name: "cam"},
		},
	}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("participant (-want +got):\n%s", diff)
	}
	if p.JoinedAt.IsZero() {
		t.Error("JoinedAt not set")
	}
}

func TestRemoveParticipant(t *testing.T) {
	m, fake := newManager(t, lkgate.Config{})
	seedRoom(t, m, fake, "acme", "standup")
	fake.ResetCalls()
	if err := m.RemoveParticipant(context.Background(), "acme", "standup", "alice"); err != nil {
		t.Fatal(err)
	}
	if n := fake.TotalCalls(); n != 1 {
		t.Errorf("RemoveParticipant made %d LiveKit calls, want 1", n)
	}
	if ps := fake.Participants(lkName(t, m, "acme", "standup")); len(ps) != 0 {
		t.Errorf("still in the room: %v", ps)
	}
	err := m.RemoveParticipant(context.Background(), "acme", "standup", "alice")
	if !errors.Is(err, lkgate.ErrNotFound) || !strings.Contains(err.Error(), "participant not found") {
		t.Errorf("second removal: %v, want participant not found", err)
	}
}

func TestMuteTrack(t *testing.T) {
	m, fake := newManager(t, lkgate.Config{})
	seeded := seedRoom(t, m, fake, "acme", "standup")
	ctx := context.Background()

	fake.ResetCalls()
	tr, err := m.MuteTrack(ctx, "acme", lkgate.MuteRequest{Room: "standup", Identity: "alice", TrackSID: seeded.Tracks[1].Sid, Muted: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := fake.TotalCalls(); n != 2 {
		t.Errorf("MuteTrack made %d LiveKit calls, want 2", n)
	}
	if !tr.Muted || tr.Source != lkgate.SourceCamera || tr.SID != seeded.Tracks[1].Sid {
		t.Errorf("track %+v", tr)
	}
	tr, err = m.MuteTrack(ctx, "acme", lkgate.MuteRequest{Room: "standup", Identity: "alice", Source: lkgate.SourceMicrophone, Muted: true})
	if err != nil || !tr.Muted || tr.SID != seeded.Tracks[0].Sid {
		t.Fatalf("mute by source: %+v %v", tr, err)
	}
	for _, ts := range fake.Participants(lkName(t, m, "acme", "standup"))[0].Tracks {
		if !ts.Muted {
			t.Errorf("track %s not muted in LiveKit", ts.Sid)
		}
	}

	tests := []struct {
		name string
		req  lkgate.MuteRequest
		want error
	}{
		{"unknown track sid", lkgate.MuteRequest{Room: "standup", Identity: "alice", TrackSID: "TR_nope", Muted: true}, lkgate.ErrNotFound},
		{"source not published", lkgate.MuteRequest{Room: "standup", Identity: "alice", Source: lkgate.SourceScreenShare, Muted: true}, lkgate.ErrNotFound},
		{"unknown participant", lkgate.MuteRequest{Room: "standup", Identity: "bob", Source: lkgate.SourceMicrophone, Muted: true}, lkgate.ErrNotFound},
		{"remote unmute", lkgate.MuteRequest{Room: "standup", Identity: "alice", Source: lkgate.SourceMicrophone, Muted: false}, lkgate.ErrConflict},
		{"sid and source", lkgate.MuteRequest{Room: "standup", Identity: "alice", TrackSID: "x", Source: lkgate.SourceCamera}, lkgate.ErrInvalidArgument},
		{"neither", lkgate.MuteRequest{Room: "standup", Identity: "alice"}, lkgate.ErrInvalidArgument},
		{"bad source", lkgate.MuteRequest{Room: "standup", Identity: "alice", Source: "webcam"}, lkgate.ErrInvalidArgument},
		{"no identity", lkgate.MuteRequest{Room: "standup", Source: lkgate.SourceCamera}, lkgate.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake.ResetCalls()
			_, err := m.MuteTrack(ctx, "acme", tt.req)
			if !errors.Is(err, tt.want) {
				t.Fatalf("MuteTrack = %v, want %v", err, tt.want)
			}
			if tt.want == lkgate.ErrNotFound && fake.Calls("MutePublishedTrack") != 0 {
				t.Error("an unknown participant or track reached MutePublishedTrack")
			}
		})
	}
}

func TestUpdatePermissionsKeepsOtherPermissions(t *testing.T) {
	m, fake := newManager(t, lkgate.Config{})
	if err := token(m, "acme", "r"); err != nil {
		t.Fatal(err)
	}
	fake.AddParticipant(lkName(t, m, "acme", "r"), lkgatetest.Participant{Identity: "rec", Permission: &livekit.ParticipantPermission{
		CanPublish: true, CanSubscribe: true, Hidden: true, CanUpdateMetadata: true,
	}})
	fake.ResetCalls()
	p, err := m.UpdatePermissions(context.Background(), "acme", "r", "rec", lkgate.Grant{CanSubscribe: true, CanPublishData: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := fake.TotalCalls(); n != 2 {
		t.Errorf("UpdatePermissions made %d calls, want 2", n)
	}
	got := fake.Participants(lkName(t, m, "acme", "r"))[0].Permission
	if got.CanPublish || !got.CanSubscribe || !got.CanPublishData || !got.Hidden || !got.CanUpdateMetadata {
		t.Errorf("permission after update: %v", got)
	}
	if p.Identity != "rec" {
		t.Errorf("participant %+v", p)
	}
	if _, err := m.UpdatePermissions(context.Background(), "acme", "r", "nobody", lkgate.ViewerGrant()); !errors.Is(err, lkgate.ErrNotFound) {
		t.Errorf("unknown participant: %v", err)
	}
}

// Every operation on another tenant's room fails exactly as on a room that
// does not exist, and changes nothing, whichever the naming.
func TestCrossTenantLooksLikeMissingRoom(t *testing.T) {
	forEachNaming(t, func(t *testing.T, naming lkgate.RoomNaming) {
		m, fake := newManager(t, lkgate.Config{RoomNames: naming})
		seeded := seedRoom(t, m, fake, "acme", "board")
		ctx := context.Background()
		ops := map[string]func(room string) error{
			"Room": func(room string) error { _, err := m.Room(ctx, "globex", room); return err },
			"RemoveParticipant": func(room string) error {
				return m.RemoveParticipant(ctx, "globex", room, "alice")
			},
			"MuteTrack": func(room string) error {
				_, err := m.MuteTrack(ctx, "globex", lkgate.MuteRequest{Room: room, Identity: "alice", TrackSID: seeded.Tracks[0].Sid, Muted: true})
				return err
			},
			"UpdatePermissions": func(room string) error {
				_, err := m.UpdatePermissions(ctx, "globex", room, "alice", lkgate.ViewerGrant())
				return err
			},
		}
		for name, op := range ops {
			foreign, missing := op("board"), op("no-such-room")
			if !errors.Is(foreign, lkgate.ErrNotFound) {
				t.Errorf("%s on another tenant's room: %v, want ErrNotFound", name, foreign)
				continue
			}
			if foreign.Error() != strings.Replace(missing.Error(), "no-such-room", "board", 1) {
				t.Errorf("%s: foreign %q differs from missing %q", name, foreign, missing)
			}
		}
		p := fake.Participants(lkName(t, m, "acme", "board"))
		if len(p) != 1 || p[0].Tracks[0].Muted || !p[0].Permission.CanPublish {
			t.Errorf("the other tenant changed something: %v", p)
		}
	})
}
