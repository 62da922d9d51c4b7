package lkgate_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

func ptr[T any](v T) *T { return &v }

// claimsCmp compares decoded claims, including the protobuf room config.
var claimsCmp = []cmp.Option{
	cmp.Transformer("RoomConfig", func(c *auth.RoomConfiguration) *livekit.RoomConfiguration { return (*livekit.RoomConfiguration)(c) }),
	protocmp.Transform(),
}

func TestTokenClaims(t *testing.T) {
	ctx := context.Background()
	exp := func(d time.Duration) *jwt.NumericDate { return jwt.NewNumericDate(fixedNow.Add(d)) }
	registered := func(identity string, ttl time.Duration) jwt.RegisteredClaims {
		return jwt.RegisteredClaims{
			Issuer: "devkey", Subject: identity,
			IssuedAt: jwt.NewNumericDate(fixedNow), NotBefore: jwt.NewNumericDate(fixedNow), ExpiresAt: exp(ttl),
		}
	}
	tenantAttrs := map[string]string{lkgate.TenantAttribute: "acme"}
	// The JWT names acme's LiveKit room; the Token, acme's name for it.
	lkRoom := func(room string) string { return scoped(t, "acme", room) }
	tests := []struct {
		name string
		req  lkgate.TokenRequest
		want decodedClaims
	}{
		{
			name: "defaults",
			req:  lkgate.TokenRequest{Room: "standup", Identity: "alice"},
			want: decodedClaims{registered("alice", 10*time.Minute), auth.ClaimGrants{
				Identity: "alice", Attributes: tenantAttrs,
				Video: &auth.VideoGrant{RoomJoin: true, Room: lkRoom("standup"), CanPublish: ptr(true), CanSubscribe: ptr(true), CanPublishData: ptr(true), CanUpdateOwnMetadata: ptr(false)},
			}},
		},
		{
			name: "everything a client may carry",
			req: lkgate.TokenRequest{
				Room: "standup", Identity: "bob", Name: "Bob", Metadata: `{"team":"x"}`,
				Attributes: map[string]string{"role": "speaker"}, TTL: 90 * time.Second,
				Grant:  &lkgate.Grant{CanPublish: true, CanPublishSources: []lkgate.TrackSource{lkgate.SourceMicrophone, lkgate.SourceScreenShare}},
				Agents: []lkgate.AgentDispatch{{AgentName: "notetaker", Metadata: "m"}},
			},
			want: decodedClaims{registered("bob", 90*time.Second), auth.ClaimGrants{
				Identity: "bob", Name: "Bob", Metadata: `{"team":"x"}`,
				Attributes: map[string]string{"role": "speaker", lkgate.TenantAttribute: "acme"},
				Video: &auth.VideoGrant{RoomJoin: true, Room: lkRoom("standup"), CanPublish: ptr(true), CanSubscribe: ptr(false), CanPublishData: ptr(false),
					CanPublishSources: []string{"microphone", "screen_share"}, CanUpdateOwnMetadata: ptr(false)},
				RoomConfig: (*auth.RoomConfiguration)(&livekit.RoomConfiguration{Agents: []*livekit.RoomAgentDispatch{{AgentName: "notetaker", Metadata: "m"}}}),
			}},
		},
		{
			name: "viewer",
			req:  lkgate.TokenRequest{Room: "webinar", Identity: "v1", Grant: ptr(lkgate.ViewerGrant())},
			want: decodedClaims{registered("v1", 10*time.Minute), auth.ClaimGrants{
				Identity: "v1", Attributes: tenantAttrs,
				Video: &auth.VideoGrant{RoomJoin: true, Room: lkRoom("webinar"), CanPublish: ptr(false), CanSubscribe: ptr(true), CanPublishData: ptr(false), CanUpdateOwnMetadata: ptr(false)},
			}},
		},
		{
			name: "elevated on request",
			req: lkgate.TokenRequest{Room: "ops", Identity: "bot", Elevated: lkgate.ElevatedGrants{
				RoomAdmin: true, RoomRecord: true, UpdateOwnMetadata: true, Hidden: true, SIPCall: true,
			}},
			want: decodedClaims{registered("bot", 10*time.Minute), auth.ClaimGrants{
				Identity: "bot", Attributes: tenantAttrs,
				Video: &auth.VideoGrant{RoomJoin: true, Room: lkRoom("ops"), RoomAdmin: true, RoomRecord: true, Hidden: true,
					CanPublish: ptr(true), CanSubscribe: ptr(true), CanPublishData: ptr(true), CanUpdateOwnMetadata: ptr(true)},
				SIP: &auth.SIPGrant{Call: true},
			}},
		},
	}
	m, fake := newManager(t, lkgate.Config{Now: func() time.Time { return fixedNow }, AllowAgent: acmeNotetaker})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := m.Token(ctx, "acme", tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, decode(t, tok.JWT), claimsCmp...); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
			if tok.Room != tt.req.Room || tok.Identity != tt.req.Identity || tok.URL != "ws"+strings.TrimPrefix(fake.URL(), "http") {
				t.Errorf("token = %+v", tok)
			}
		})
	}
}

func TestTokenDoesNotMutateRequest(t *testing.T) {
	m, _ := newManager(t, lkgate.Config{})
	attrs := map[string]string{"a": "b"}
	req := lkgate.TokenRequest{Room: "r", Identity: "i", Attributes: attrs}
	if _, err := m.Token(context.Background(), "acme", req); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"a": "b"}, attrs); diff != "" {
		t.Errorf("caller's attributes changed (-want +got):\n%s", diff)
	}
}

func TestTokenInvalidRequestsNeverReachLiveKit(t *testing.T) {
	m, fake := newManager(t, lkgate.Config{})
	long := strings.Repeat("x", 257)
	tests := []struct {
		name  string
		req   lkgate.TokenRequest
		field string
	}{
		{"no room", lkgate.TokenRequest{Identity: "i"}, "Room"},
		{"long room", lkgate.TokenRequest{Room: long, Identity: "i"}, "Room"},
		// LiveKit's 256 bytes, less acme's prefix "t4_acme_", plus one.
		{"room too long for the tenant's prefix", lkgate.TokenRequest{Room: strings.Repeat("x", 256-8+1), Identity: "i"}, "Room"},
		{"control char in room", lkgate.TokenRequest{Room: "a\x00b", Identity: "i"}, "Room"},
		{"newline in room", lkgate.TokenRequest{Room: "a\nb", Identity: "i"}, "Room"},
		{"invalid UTF-8 room", lkgate.TokenRequest{Room: "a\xffb", Identity: "i"}, "Room"},
		{"no identity", lkgate.TokenRequest{Room: "r"}, "Identity"},
		{"long identity", lkgate.TokenRequest{Room: "r", Identity: long}, "Identity"},
		{"bidi override in name", lkgate.TokenRequest{Room: "r", Identity: "i", Name: "evil\u202Egnp.exe"}, "Name"},
		{"long metadata", lkgate.TokenRequest{Room: "r", Identity: "i", Metadata: strings.Repeat("m", lkgate.MaxMetadataBytes+1)}, "Metadata"},
		{"reserved attribute", lkgate.TokenRequest{Room: "r", Identity: "i", Attributes: map[string]string{lkgate.TenantAttribute: "other"}}, "Attributes"},
		{"livekit attribute", lkgate.TokenRequest{Room: "r", Identity: "i", Attributes: map[string]string{"lk.agent.state": "x"}}, "Attributes"},
		{"empty attribute key", lkgate.TokenRequest{Room: "r", Identity: "i", Attributes: map[string]string{"": "x"}}, "Attributes key"},
		{"attributes too big", lkgate.TokenRequest{Room: "r", Identity: "i", Attributes: map[string]string{"a": strings.Repeat("v", 3000), "b": strings.Repeat("v", 3000)}}, "Attributes"},
		{"unknown source", lkgate.TokenRequest{Room: "r", Identity: "i", Grant: &lkgate.Grant{CanPublish: true, CanPublishSources: []lkgate.TrackSource{"webcam"}}}, "Grant.CanPublishSources"},
		{"sources without publish", lkgate.TokenRequest{Room: "r", Identity: "i", Grant: &lkgate.Grant{CanPublishSources: []lkgate.TrackSource{lkgate.SourceCamera}}}, "Grant.CanPublishSources"},
		{"TTL too long", lkgate.TokenRequest{Room: "r", Identity: "i", TTL: 2 * time.Hour}, "TTL"},
		{"TTL negative", lkgate.TokenRequest{Room: "r", Identity: "i", TTL: -time.Minute}, "TTL"},
		{"too many agents", lkgate.TokenRequest{Room: "r", Identity: "i", Agents: make([]lkgate.AgentDispatch, 5)}, "Agents"},
		{"agent without name", lkgate.TokenRequest{Room: "r", Identity: "i", Agents: []lkgate.AgentDispatch{{}}}, "Agents.AgentName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake.ResetCalls()
			_, err := m.Token(context.Background(), "acme", tt.req)
			var e *lkgate.Error
			if !errors.Is(err, lkgate.ErrInvalidArgument) || !errors.As(err, &e) || e.Field != tt.field {
				t.Fatalf("Token = %v, want ErrInvalidArgument on field %q", err, tt.field)
			}
			if n := fake.TotalCalls(); n != 0 {
				t.Errorf("invalid request made %d LiveKit calls", n)
			}
		})
	}
}

func TestUnauthenticatedMode(t *testing.T) {
	t.Run("refused unless enabled", func(t *testing.T) {
		m, fake := newManager(t, lkgate.Config{})
		_, err := m.Token(context.Background(), "", lkgate.TokenRequest{Room: "r", Identity: "i"})
		if !errors.Is(err, lkgate.ErrUnauthenticated) {
			t.Fatalf("Token with empty tenant = %v, want ErrUnauthenticated", err)
		}
		if fake.TotalCalls() != 0 {
			t.Errorf("made %d LiveKit calls", fake.TotalCalls())
		}
	})
	t.Run("enabled: zero LiveKit calls, no tenant attribute", func(t *testing.T) {
		m, fake := newManager(t, lkgate.Config{AllowUnauthenticated: true})
		tok, err := m.Token(context.Background(), "", lkgate.TokenRequest{Room: "r", Identity: "i"})
		if err != nil {
			t.Fatal(err)
		}
		if fake.TotalCalls() != 0 {
			t.Errorf("made %d LiveKit calls, want 0", fake.TotalCalls())
		}
		if _, ok := decode(t, tok.JWT).Attributes[lkgate.TenantAttribute]; ok {
			t.Error("unauthenticated token carries a tenant attribute")
		}
	})
}

func TestTokenStringHidesJWT(t *testing.T) {
	m, _ := newManager(t, lkgate.Config{})
	tok, err := m.Token(context.Background(), "acme", lkgate.TokenRequest{Room: "r", Identity: "i"})
	if err != nil {
		t.Fatal(err)
	}
	if s := tok.String(); strings.Contains(s, tok.JWT) || !strings.Contains(s, `"r"`) {
		t.Errorf("String() = %s", s)
	}
}

// Under ScopedNames a token costs no LiveKit call: it names the tenant's
// own LiveKit room and carries the room's settings and agents, which the
// first join applies when it creates the room.
func TestScopedTokenMakesNoLiveKitCall(t *testing.T) {
	opts := lkgate.RoomOptions{EmptyTimeout: 2 * time.Minute, DepartureTimeout: 30 * time.Second, MaxParticipants: 7}
	m, fake := newManager(t, lkgate.Config{Room: opts, AllowAgent: acmeNotetaker})
	agents := []lkgate.AgentDispatch{{AgentName: "notetaker", Metadata: "m"}}
	tok, err := m.Token(context.Background(), "acme", lkgate.TokenRequest{Room: "standup", Identity: "alice", Agents: agents})
	if err != nil {
		t.Fatal(err)
	}
	if n := fake.TotalCalls(); n != 0 {
		t.Errorf("Token made %d LiveKit calls, want 0", n)
	}
	lk := scoped(t, "acme", "standup")
	if lk != "t4_acme_standup" {
		t.Fatalf("ScopedRoomName = %q", lk)
	}
	if _, ok := fake.Room(lk); ok {
		t.Error("the room exists before anyone joined")
	}
	c := decode(t, tok.JWT)
	if tok.Room != "standup" || c.Video.Room != lk {
		t.Errorf("Token.Room %q, JWT room %q; want standup, %s", tok.Room, c.Video.Room, lk)
	}
	wantCfg := &livekit.RoomConfiguration{EmptyTimeout: 120, DepartureTimeout: 30, MaxParticipants: 7,
		Agents: []*livekit.RoomAgentDispatch{{AgentName: "notetaker", Metadata: "m"}}}
	if diff := cmp.Diff(wantCfg, (*livekit.RoomConfiguration)(c.RoomConfig), protocmp.Transform()); diff != "" {
		t.Errorf("room configuration (-want +got):\n%s", diff)
	}

	// The join creates the room with the token's settings and agents.
	if _, err := fake.Join(tok.JWT); err != nil {
		t.Fatal(err)
	}
	r, ok := fake.Room(lk)
	if !ok || r.EmptyTimeout != 120 || r.DepartureTimeout != 30 || r.MaxParticipants != 7 {
		t.Fatalf("room created by the join: %v (exists %v)", r, ok)
	}
	d := fake.Dispatches(lk)
	if len(d) != 1 || d[0].AgentName != "notetaker" || d[0].Metadata != "m" || d[0].Room != lk {
		t.Errorf("dispatches %v, want notetaker in %s", d, lk)
	}
	if n := fake.TotalCalls(); n != 0 {
		t.Errorf("%d LiveKit calls", n)
	}
}

// PrecreateRooms creates the room, with its agents and the tenant recorded
// in its metadata, before any join: one CreateRoom, plus the owner's
// record the first time.
func TestPrecreateRooms(t *testing.T) {
	m, fake := newManager(t, lkgate.Config{PrecreateRooms: true, Room: lkgate.RoomOptions{EmptyTimeout: time.Minute, MaxParticipants: 5}, AllowAgent: acmeNotetaker})
	ctx := context.Background()
	agents := []lkgate.AgentDispatch{{AgentName: "notetaker", Metadata: "m"}}
	if _, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: "standup", Identity: "alice", Agents: agents}); err != nil {
		t.Fatal(err)
	}
	calls := map[string]int{}
	for _, method := range []string{"ListRooms", "CreateRoom", "UpdateRoomMetadata"} {
		calls[method] = fake.Calls(method)
	}
	if diff := cmp.Diff(map[string]int{"ListRooms": 0, "CreateRoom": 1, "UpdateRoomMetadata": 1}, calls); diff != "" {
		t.Errorf("LiveKit calls for a new room (-want +got):\n%s", diff)
	}
	lk := scoped(t, "acme", "standup")
	r, ok := fake.Room(lk)
	if !ok {
		t.Fatalf("room %s not created", lk)
	}
	if r.Metadata != `{"auth_id":"acme"}` || r.EmptyTimeout != 60 || r.MaxParticipants != 5 || r.NumParticipants != 0 {
		t.Errorf("room %v", r)
	}
	if d := fake.Dispatches(lk); len(d) != 1 || d[0].AgentName != "notetaker" || d[0].Metadata != "m" {
		t.Errorf("dispatches %v, want notetaker", d)
	}

	// The room exists and is recorded: one idempotent CreateRoom.
	fake.ResetCalls()
	if _, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: "standup", Identity: "bob"}); err != nil {
		t.Fatal(err)
	}
	if fake.TotalCalls() != 1 || fake.Calls("CreateRoom") != 1 {
		t.Errorf("token for an existing room made %d calls, want 1 CreateRoom", fake.TotalCalls())
	}
}

// Unauthenticated mode under ScopedNames has the plain names: it can
// neither name a tenant's scoped room nor see one.
func TestUnauthenticatedModeStaysOutOfTenantNamespaces(t *testing.T) {
	m, fake := newManager(t, lkgate.Config{AllowUnauthenticated: true})
	ctx := context.Background()
	acmeRoom := scoped(t, "acme", "standup")
	_, err := m.Token(ctx, "", lkgate.TokenRequest{Room: acmeRoom, Identity: "mallory"})
	wantErr(t, err, lkgate.ErrInvalidArgument, "Room")
	_, err = m.Room(ctx, "", acmeRoom)
	wantErr(t, err, lkgate.ErrInvalidArgument, "Room")
	err = m.RemoveParticipant(ctx, "", acmeRoom, "alice")
	wantErr(t, err, lkgate.ErrInvalidArgument, "Room")
	if n := fake.TotalCalls(); n != 0 {
		t.Errorf("refusals made %d LiveKit calls", n)
	}
	tok, err := m.Token(ctx, "", lkgate.TokenRequest{Room: "standup", Identity: "i"})
	if err != nil || decode(t, tok.JWT).Video.Room != "standup" {
		t.Fatalf("plain room: %v", err)
	}

	for _, name := range []string{
		"plain", "t4_acme", // not a scoped name: it does not parse
		acmeRoom, scoped(t, "acme", lkgate.LobbyPrefix+"x"), lkgate.LobbyPrefix + "y",
	} {
		fake.AddParticipant(name, lkgatetest.Participant{Identity: "p"})
	}
	rooms, err := m.ListRooms(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rooms {
		got = append(got, r.Name)
	}
	slices.Sort(got)
	if diff := cmp.Diff([]string{"plain", "t4_acme"}, got); diff != "" {
		t.Errorf("unauthenticated ListRooms (-want +got):\n%s", diff)
	}
}
