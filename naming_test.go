package lkgate_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

// Tenants and rooms chosen to break a naive encoding: separators in
// either part, digits, a room that is itself a scoped name, non-ASCII.
var (
	trickyTenants = []string{"acme", "a", "a_b", "_", "a_", "_a", "4", "123", "t4_acme", "t1_a_b", "日本", "ü", "a b", strings.Repeat("x", lkgate.MaxTenantBytes)}
	trickyRooms   = []string{"standup", "x", "_", "__", "a_b", "_a", "b_", "4", "t4_acme_x", "t1_a_b", "t4_acme", "日本語", "ünï", "a b", "_ _", lkgate.LobbyPrefix + "x"}
)

func TestScopedRoomName(t *testing.T) {
	for _, tt := range []struct{ tenant, room, want string }{
		{"acme", "standup", "t4_acme_standup"},
		{"a_b", "c", "t3_a_b_c"},
		{"a", "b_c", "t1_a_b_c"},
		{"日本", "x", "t6_日本_x"}, // the length is in bytes
		{"acme", "t4_acme_x", "t4_acme_t4_acme_x"},
	} {
		got, err := lkgate.ScopedRoomName(tt.tenant, tt.room)
		if err != nil || got != tt.want {
			t.Errorf("ScopedRoomName(%q, %q) = %q, %v; want %q", tt.tenant, tt.room, got, err, tt.want)
		}
	}
}

// Every (tenant, room) pair maps to its own name, which maps back to it.
func TestScopedRoomNameRoundTripAndInjectivity(t *testing.T) {
	type pair struct{ tenant, room string }
	seen := map[string]pair{}
	for _, tenant := range trickyTenants {
		for _, room := range trickyRooms {
			name, err := lkgate.ScopedRoomName(tenant, room)
			if err != nil {
				t.Fatalf("ScopedRoomName(%q, %q): %v", tenant, room, err)
			}
			if prev, ok := seen[name]; ok {
				t.Errorf("(%q, %q) and (%q, %q) share the name %q", prev.tenant, prev.room, tenant, room, name)
			}
			seen[name] = pair{tenant, room}
			gotTenant, gotRoom, ok := lkgate.ParseScopedRoomName(name)
			if !ok || gotTenant != tenant || gotRoom != room {
				t.Errorf("ParseScopedRoomName(%q) = %q, %q, %v; want %q, %q", name, gotTenant, gotRoom, ok, tenant, room)
			}
		}
	}
}

func TestScopedRoomNameRefusesInvalidParts(t *testing.T) {
	longest := strings.Repeat("r", lkgate.MaxRoomNameBytes-len("t4_acme_"))
	if name, err := lkgate.ScopedRoomName("acme", longest); err != nil || len(name) != lkgate.MaxRoomNameBytes {
		t.Fatalf("the longest room acme may name: %d bytes, %v", len(name), err)
	}
	for _, tt := range []struct{ name, tenant, room, field string }{
		{"empty tenant", "", "r", "tenant"},
		{"tenant too long", strings.Repeat("x", lkgate.MaxTenantBytes+1), "r", "tenant"},
		{"tenant not UTF-8", "ac\xffe", "r", "tenant"},
		{"tenant with a control character", "ac\nme", "r", "tenant"},
		{"empty room", "acme", "", "Room"},
		{"room past LiveKit's limit with the prefix", "acme", longest + "r", "Room"},
		{"room not UTF-8", "acme", "r\xff", "Room"},
		{"room with a bidi override", "acme", "r\u202e", "Room"},
		// The name profile, on both parts.
		{"tenant with a zero-width space", "ac\u200bme", "r", "tenant"},
		{"blank tenant", " ", "r", "tenant"},
		{"blank room", "acme", "   ", "Room"},
		{"room with an outer space", "acme", "r ", "Room"},
		{"room not in NFC", "acme", "cafe\u0301", "Room"},
		{"room starting with a combining mark", "acme", "\u0301r", "Room"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := lkgate.ScopedRoomName(tt.tenant, tt.room)
			wantErr(t, err, lkgate.ErrInvalidArgument, tt.field)
		})
	}
}

// ParseScopedRoomName accepts exactly what ScopedRoomName produces: a
// name that is not canonical is no tenant's room.
func TestParseScopedRoomNameRefusesNonCanonicalNames(t *testing.T) {
	overlong := strings.Repeat("x", lkgate.MaxTenantBytes+1)
	for name, in := range map[string]string{
		"empty":                    "",
		"plain name":               "standup",
		"no length":                "t_acme_x",
		"capital T":                "T4_acme_x",
		"sign":                     "t+4_acme_x",
		"leading zero":             "t04_acme_x",
		"zero length":              "t0__x",
		"length too short":         "t3_acme_x",
		"length too long":          "t5_acme_x",
		"length past the name":     "t40_acme_x",
		"four digits":              "t0004_acme_x",
		"no separator after it":    "t4acme_x",
		"no separator before room": "t4_acmex",
		"no room":                  "t4_acme",
		"empty room":               "t4_acme_",
		"tenant over 128 bytes":    "t129_" + overlong + "_x",
		"tenant not UTF-8":         "t4_ac\xffe_x",
		"room not UTF-8":           "t4_acme_\xff",
		"control in tenant":        "t4_ac\x00e_x",
		"control in room":          "t4_acme_a\nb",
		"past LiveKit's limit":     "t4_acme_" + strings.Repeat("r", lkgate.MaxRoomNameBytes-len("t4_acme_")+1),
		// The name profile, on both parts.
		"blank tenant":               "t1_ _x",
		"invisible tenant":           "t7_ac\u200bme_x",
		"room with an outer space":   "t4_acme_ x",
		"room not in NFC":            "t4_acme_cafe\u0301",
		"room starting with a mark":  "t4_acme_\u0301x",
		"room with a no-break space": "t4_acme_a\u00a0b",
	} {
		if tenant, room, ok := lkgate.ParseScopedRoomName(in); ok {
			t.Errorf("%s: ParseScopedRoomName(%q) = %q, %q, true", name, in, tenant, room)
		}
	}
}

func FuzzScopedRoomName(f *testing.F) {
	for _, tenant := range trickyTenants {
		f.Add(tenant, trickyRooms[len(tenant)%len(trickyRooms)])
	}
	f.Add("t4_acme_x", "")
	f.Add("t04_acme_x", "r")
	f.Add("t4_acme_"+strings.Repeat("r", lkgate.MaxRoomNameBytes), "r")
	f.Fuzz(func(t *testing.T, tenant, room string) {
		if name, err := lkgate.ScopedRoomName(tenant, room); err == nil {
			if len(name) > lkgate.MaxRoomNameBytes {
				t.Fatalf("ScopedRoomName(%q, %q) is %d bytes long", tenant, room, len(name))
			}
			gotTenant, gotRoom, ok := lkgate.ParseScopedRoomName(name)
			if !ok || gotTenant != tenant || gotRoom != room {
				t.Fatalf("ParseScopedRoomName(ScopedRoomName(%q, %q)) = %q, %q, %v", tenant, room, gotTenant, gotRoom, ok)
			}
		}
		// The first input as a LiveKit name: whatever parses is canonical.
		if gotTenant, gotRoom, ok := lkgate.ParseScopedRoomName(tenant); ok {
			name, err := lkgate.ScopedRoomName(gotTenant, gotRoom)
			if err != nil || name != tenant {
				t.Fatalf("ParseScopedRoomName(%q) = %q, %q, but ScopedRoomName gives %q, %v", tenant, gotTenant, gotRoom, name, err)
			}
		}
	})
}

func TestRoomNamingString(t *testing.T) {
	for n, want := range map[lkgate.RoomNaming]string{lkgate.ScopedNames: "scoped", lkgate.SharedNames: "shared", 7: "RoomNaming(7)"} {
		if got := n.String(); got != want {
			t.Errorf("RoomNaming(%d).String() = %q, want %q", int(n), got, want)
		}
	}
}

func TestLiveKitRoom(t *testing.T) {
	scopedM, _ := newManager(t, lkgate.Config{AllowUnauthenticated: true})
	sharedM, _ := newManager(t, lkgate.Config{RoomNames: lkgate.SharedNames})
	for _, tt := range []struct {
		m            *lkgate.Manager
		tenant, want string
	}{
		{scopedM, "acme", "t4_acme_standup"},
		{scopedM, "", "standup"},
		{sharedM, "acme", "standup"},
	} {
		if got, err := tt.m.LiveKitRoom(tt.tenant, "standup"); err != nil || got != tt.want {
			t.Errorf("LiveKitRoom(%q, standup) = %q, %v; want %q", tt.tenant, got, err, tt.want)
		}
	}
	_, err := scopedM.LiveKitRoom("acme", lkgate.LobbyPrefix+"x")
	wantErr(t, err, lkgate.ErrInvalidArgument, "Room")
	_, err = sharedM.LiveKitRoom("", "standup")
	if !errors.Is(err, lkgate.ErrUnauthenticated) {
		t.Errorf("LiveKitRoom without a tenant: %v, want ErrUnauthenticated", err)
	}
}

// Two tenants each have a room "standup": two LiveKit rooms, and each
// tenant only ever reaches its own.
func TestTenantsShareNoRoomName(t *testing.T) {
	m, fake := newManager(t, lkgate.Config{})
	ctx := context.Background()
	tenants := []string{"acme", "globex"}
	sids := map[string]string{}
	for _, tenant := range tenants {
		tok, err := m.Token(ctx, tenant, lkgate.TokenRequest{Room: "standup", Identity: "alice", Name: tenant + "'s alice"})
		if err != nil {
			t.Fatal(err)
		}
		p, err := fake.Join(tok.JWT)
		if err != nil {
			t.Fatal(err)
		}
		sids[tenant] = p.Sid
	}
	acmeLK, globexLK := scoped(t, "acme", "standup"), scoped(t, "globex", "standup")
	if acmeLK == globexLK {
		t.Fatalf("one LiveKit room %q for both tenants", acmeLK)
	}
	for _, lk := range []string{acmeLK, globexLK} {
		if ps := fake.Participants(lk); len(ps) != 1 {
			t.Fatalf("%s: participants %v", lk, ps)
		}
	}

	for _, tenant := range tenants {
		rooms, err := m.ListRooms(ctx, tenant)
		if err != nil || len(rooms) != 1 || rooms[0].Name != "standup" {
			t.Errorf("%s lists %+v (%v), want its standup only", tenant, rooms, err)
		}
		d, err := m.Room(ctx, tenant, "standup")
		if err != nil {
			t.Fatal(err)
		}
		if d.Name != "standup" || len(d.Participants) != 1 || d.Participants[0].SID != sids[tenant] || d.Participants[0].Name != tenant+"'s alice" {
			t.Errorf("%s's standup: %+v", tenant, d)
		}
	}

	// acme removes "alice" from its standup; globex's alice stays.
	if err := m.RemoveParticipant(ctx, "acme", "standup", "alice"); err != nil {
		t.Fatal(err)
	}
	if len(fake.Participants(acmeLK)) != 0 || len(fake.Participants(globexLK)) != 1 {
		t.Errorf("after acme's removal: acme's room %v, globex's %v", fake.Participants(acmeLK), fake.Participants(globexLK))
	}
	// And cannot remove her again through any name.
	if err := m.RemoveParticipant(ctx, "acme", "standup", "alice"); !errors.Is(err, lkgate.ErrNotFound) {
		t.Errorf("second removal: %v, want ErrNotFound", err)
	}
	if len(fake.Participants(globexLK)) != 1 {
		t.Error("acme's second removal reached globex's room")
	}

	// A room only globex has is, for acme, exactly a missing room.
	fake.AddParticipant(scoped(t, "globex", "board"), lkgatetest.Participant{Identity: "bob"})
	_, foreign := m.Room(ctx, "acme", "board")
	_, missing := m.Room(ctx, "acme", "no-such-room")
	if !errors.Is(foreign, lkgate.ErrNotFound) || foreign.Error() != strings.Replace(missing.Error(), "no-such-room", "board", 1) {
		t.Errorf("another tenant's room: %v; a missing room: %v", foreign, missing)
	}
}
