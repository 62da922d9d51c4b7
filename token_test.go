package lkgate_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/lkgate/lkgate"
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
				Video: &auth.VideoGrant{RoomJoin: true, Room: "standup", CanPublish: ptr(true), CanSubscribe: ptr(true), CanPublishData: ptr(true), CanUpdateOwnMetadata: ptr(false)},
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
				Video: &auth.VideoGrant{RoomJoin: true, Room: "standup", CanPublish: ptr(true), CanSubscribe: ptr(false), CanPublishData: ptr(false),
					CanPublishSources: []string{"microphone", "screen_share"}, CanUpdateOwnMetadata: ptr(false)},
				RoomConfig: (*auth.RoomConfiguration)(&livekit.RoomConfiguration{Agents: []*livekit.RoomAgentDispatch{{AgentName: "notetaker", Metadata: "m"}}}),
			}},
		},
		{
			name: "viewer",
			req:  lkgate.TokenRequest{Room: "webinar", Identity: "v1", Grant: ptr(lkgate.ViewerGrant())},
			want: decodedClaims{registered("v1", 10*time.Minute), auth.ClaimGrants{
				Identity: "v1", Attributes: tenantAttrs,
				Video: &auth.VideoGrant{RoomJoin: true, Room: "webinar", CanPublish: ptr(false), CanSubscribe: ptr(true), CanPublishData: ptr(false), CanUpdateOwnMetadata: ptr(false)},
			}},
		},
		{
			name: "elevated on request",
			req: lkgate.TokenRequest{Room: "ops", Identity: "bot", Elevated: lkgate.ElevatedGrants{
				RoomAdmin: true, RoomRecord: true, UpdateOwnMetadata: true, Hidden: true, SIPCall: true,
			}},
			want: decodedClaims{registered("bot", 10*time.Minute), auth.ClaimGrants{
				Identity: "bot", Attributes: tenantAttrs,
				Video: &auth.VideoGrant{RoomJoin: true, Room: "ops", RoomAdmin: true, RoomRecord: true, Hidden: true,
					CanPublish: ptr(true), CanSubscribe: ptr(true), CanPublishData: ptr(true), CanUpdateOwnMetadata: ptr(true)},
				SIP: &auth.SIPGrant{Call: true},
			}},
		},
	}
	m, fake := newManager(t, lkgate.Config{Now: func() time.Time { return fixedNow }})
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

// Whatever a client asks for through the ordinary fields, its token never
// carries a power beyond its room.
func TestClientTokenNeverElevated(t *testing.T) {
	m, _ := newManager(t, lkgate.Config{AllowUnauthenticated: true})
	r := rand.New(rand.NewPCG(1, 2))
	sources := []lkgate.TrackSource{lkgate.SourceCamera, lkgate.SourceMicrophone, lkgate.SourceScreenShare, lkgate.SourceScreenShareAudio}
	for i := range 200 {
		g := &lkgate.Grant{CanPublish: r.IntN(2) == 0, CanSubscribe: r.IntN(2) == 0, CanPublishData: r.IntN(2) == 0}
		if g.CanPublish {
			for _, s := range sources {
				if r.IntN(2) == 0 {
					g.CanPublishSources = append(g.CanPublishSources, s)
				}
			}
		}
		if r.IntN(4) == 0 {
			g = nil
		}
		req := lkgate.TokenRequest{Room: "room", Identity: "id", Grant: g, Metadata: strings.Repeat("m", r.IntN(100))}
		tok, err := m.Token(context.Background(), "", req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		c := decode(t, tok.JWT)
		v := c.Video
		if v.RoomCreate || v.RoomList || v.RoomRecord || v.RoomAdmin || v.IngressAdmin || v.Hidden || v.Recorder || v.Agent ||
			v.GetCanUpdateOwnMetadata() || c.SIP != nil || c.Agent != nil || v.Room != "room" || !v.RoomJoin {
			t.Fatalf("request %d: client token carries %+v sip=%+v", i, v, c.SIP)
		}
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
