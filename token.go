package lkgate

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
)

// TenantAttribute is the participant attribute in which every token lkgate
// mints records the tenant it was minted for. Clients cannot change it
// (tokens never carry canUpdateOwnMetadata unless the host elevates them),
// so it proves where a participant came from.
const TenantAttribute = reservedAttributePrefix + "tenant"

// reservedAttributePrefix marks attributes only lkgate may set.
const reservedAttributePrefix = "lkgate."

// TrackSource names a kind of track a participant may publish.
type TrackSource string

// Track sources, spelled as LiveKit spells them in tokens.
const (
	SourceCamera           TrackSource = "camera"
	SourceMicrophone       TrackSource = "microphone"
	SourceScreenShare      TrackSource = "screen_share"
	SourceScreenShareAudio TrackSource = "screen_share_audio"
)

func (s TrackSource) proto() (livekit.TrackSource, bool) {
	switch s {
	case SourceCamera:
		return livekit.TrackSource_CAMERA, true
	case SourceMicrophone:
		return livekit.TrackSource_MICROPHONE, true
	case SourceScreenShare:
		return livekit.TrackSource_SCREEN_SHARE, true
	case SourceScreenShareAudio:
		return livekit.TrackSource_SCREEN_SHARE_AUDIO, true
	}
	return livekit.TrackSource_UNKNOWN, false
}

// Grant is what a client may do inside its one room.
type Grant struct {
	CanPublish     bool
	CanSubscribe   bool
	CanPublishData bool
	// CanPublishSources limits publishing to these sources. Empty allows
	// every source; non-empty requires CanPublish.
	CanPublishSources []TrackSource
}

// ParticipantGrant returns the grant of an ordinary participant: publish,
// subscribe and send data.
func ParticipantGrant() Grant {
	return Grant{CanPublish: true, CanSubscribe: true, CanPublishData: true}
}

// ViewerGrant returns a grant that only subscribes.
func ViewerGrant() Grant {
	return Grant{CanSubscribe: true}
}

// ElevatedGrants are powers a client token never carries unless the host
// sets them explicitly, per call. Several of them are not limited to the
// token's room by LiveKit: read each field's comment before setting it.
type ElevatedGrants struct {
	// RoomAdmin makes the holder an admin of the token's room only.
	RoomAdmin bool
	// RoomCreate lets the holder create AND delete any room on the server.
	RoomCreate bool
	// RoomList lets the holder list every room on the server.
	RoomList bool
	// RoomRecord lets the holder start recordings of any room.
	RoomRecord bool
	// IngressAdmin lets the holder manage every ingress on the server.
	IngressAdmin bool
	// SIPAdmin and SIPCall grant LiveKit's SIP service powers, server-wide.
	SIPAdmin bool
	SIPCall  bool
	// UpdateOwnMetadata lets the client rewrite its own name, metadata and
	// attributes, including TenantAttribute: its provenance is then only as
	// trustworthy as the client.
	UpdateOwnMetadata bool
	// Hidden hides the participant from the others in the room.
	Hidden bool
	// Recorder marks the participant as a recorder.
	Recorder bool
}

// AgentDispatch asks LiveKit to dispatch an agent into a room when it is
// created: by the token holder's join, or by lkgate itself.
type AgentDispatch struct {
	AgentName string
	Metadata  string
}

// AllowAgents returns a Config.AllowAgent that lets each tenant dispatch
// only the agents named for it. A tenant missing from the map may dispatch
// none. The map is copied.
func AllowAgents(agents map[string][]string) func(tenant, agentName string) bool {
	return allowListed(agents)
}

// allowListed approves for each tenant exactly the names listed for it.
func allowListed(lists map[string][]string) func(tenant, name string) bool {
	own := make(map[string]map[string]bool, len(lists))
	for tenant, names := range lists {
		own[tenant] = make(map[string]bool, len(names))
		for _, n := range names {
			own[tenant][n] = true
		}
	}
	return func(tenant, name string) bool { return own[tenant][name] }
}

// allowAgents refuses the first agent that Config.AllowAgent does not
// approve for tenant; without AllowAgent, every one.
func (m *Manager) allowAgents(tenant string, agents []AgentDispatch) error {
	allow := m.cfg.AllowAgent
	for i, a := range agents {
		if allow == nil || !allow(tenant, a.AgentName) {
			return &Error{Kind: ErrForbidden, Field: fmt.Sprintf("Agents[%d].AgentName", i), Msg: "is not an agent this tenant may dispatch"}
		}
	}
	return nil
}

// TokenRequest describes a token to mint.
type TokenRequest struct {
	// Room is the one room the token joins. Required.
	Room string
	// Identity is the participant's unique identity in the room. Required.
	Identity string
	// Name is the display name.
	Name string
	// Metadata is free-form participant metadata (at most MaxMetadataBytes).
	Metadata string
	// Attributes are participant attributes; keys starting with "lkgate."
	// or "lk." are reserved.
	Attributes map[string]string
	// TTL is the token's lifetime. Zero means Config.TokenTTL; more than
	// Config.MaxTokenTTL is refused.
	TTL time.Duration
	// Grant is what the participant may do. Nil means ParticipantGrant().
	Grant *Grant
	// Agents are dispatched when the room is created for this token: by
	// this participant's join, or by lkgate (Config.PrecreateRooms, a room
	// quota, or a new shared name). A room that exists keeps its agents.
	// Config.AllowAgent must approve each one.
	Agents []AgentDispatch
	// Elevated grants powers beyond the room. See ElevatedGrants.
	Elevated ElevatedGrants
}

// Token is a minted LiveKit access token.
type Token struct {
	// JWT is the signed token. Treat it as a secret.
	JWT string
	// URL is the LiveKit address the client connects to (Config.PublicURL).
	URL string
	// Room is the room's name as the tenant knows it. The JWT names the
	// LiveKit room (see ScopedRoomName), which is what LiveKit's client
	// SDKs report as the room's name.
	Room      string
	Identity  string
	ExpiresAt time.Time
}

// String describes the token without its JWT. It and the methods below
// have value receivers, so that a Token prints without its JWT whether
// it is printed by value or by pointer, alone or inside another value.
func (t Token) String() string {
	return fmt.Sprintf("lkgate.Token{URL: %s, Room: %q, Identity: %q, ExpiresAt: %s, JWT: [REDACTED]}", t.URL, t.Room, t.Identity, t.ExpiresAt.Format(time.RFC3339))
}

// GoString is String, so that %#v does not print the JWT either.
func (t Token) GoString() string { return t.String() }

// Format prints String for every verb (%v, %+v, %#v, %s, %q, %x, %d...),
// so that none reaches the JWT.
func (t Token) Format(f fmt.State, verb rune) { formatRedacted(f, verb, t.String()) }

// LogValue logs the token without its JWT.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(slog.String("url", t.URL), slog.String("room", t.Room), slog.String("identity", t.Identity),
		slog.Time("expires_at", t.ExpiresAt), slog.String("jwt", "[REDACTED]"))
}

// MarshalJSON encodes the token without its JWT, as LogValue logs it, so
// that slog's JSON handler cannot print it inside another value either.
// To hand the JWT to a client, encode t.JWT itself (as httpx does).
func (t Token) MarshalJSON() ([]byte, error) { return marshalLogValue(t.LogValue()) }

// Token mints a token for tenant to join its room req.Room, preparing the
// room first where [Config].RoomNames, [Config].PrecreateRooms or a room
// quota ask for it (the package tour says what that costs).
//
// Errors: [ErrInvalidArgument] (Field names the TokenRequest field) and
// [ErrForbidden] for an agent [Config].AllowAgent refuses (Field
// "Agents[i].AgentName"), both before any LiveKit call;
// [ErrUnauthenticated] for the empty tenant unless
// [Config].AllowUnauthenticated; [ErrForbidden] (Field "Identity") for an
// identity banned from the room ([Manager.Ban]), before any LiveKit call;
// [ErrForbidden] under [SharedNames] when another tenant has the name; [ErrLimited]; [ErrUnavailable],
// [ErrTimeout] or [ErrUpstream] when LiveKit fails, [ErrUnavailable] when
// the ban store does.
func (m *Manager) Token(ctx context.Context, tenant string, req TokenRequest) (*Token, error) {
	o := operation{op: "token", action: ActionTokenMint, tenant: tenant, room: req.Room, target: req.Identity}
	return runResult(ctx, m, o, func(ctx context.Context, _ *auditRecord) (*Token, error) {
		ref, err := m.resolve(tenant, req.Room)
		if err != nil {
			return nil, err
		}
		ttl, err := req.validate(m.cfg.TokenTTL, m.cfg.MaxTokenTTL)
		if err != nil {
			return nil, err
		}
		if err := m.allowAgents(tenant, req.Agents); err != nil {
			return nil, err
		}
		if err := m.checkBan(ctx, ref, req.Identity); err != nil {
			return nil, err
		}
		if err := m.allowFor(ctx, tenant, LimitTokenRate, func(l Limits) Rate { return l.TokenRate }); err != nil {
			return nil, err
		}
		if err := m.prepareRoom(ctx, ref, m.cfg.PrecreateRooms, req.Agents); err != nil {
			return nil, err
		}
		return m.mint(ctx, "token", ref, req, ttl, nil)
	})
}

// mint signs a main-room token for ref and, under SharedNames, stretches
// the name's lease over it. extra are attributes lkgate sets itself.
func (m *Manager) mint(ctx context.Context, op string, ref roomRef, req TokenRequest, ttl time.Duration, extra map[string]string) (*Token, error) {
	now := m.now()
	exp := now.Add(ttl)
	if err := m.leaseToken(ctx, ref, exp); err != nil {
		return nil, withContext(err, op, ref.name)
	}
	c := tokenClaims(m.cfg.APIKey, ref.tenant, ref.lk, m.cfg.Room, req, now, ttl)
	for k, v := range extra {
		c.setAttribute(k, v)
	}
	jwt, err := m.signer.sign(&c)
	if err != nil {
		return nil, &Error{Kind: ErrUpstream, Op: op, Room: ref.name, Msg: "signing failed"}
	}
	m.log.LogAttrs(ctx, slog.LevelDebug, "token minted", slog.String("tenant", ref.tenant), slog.String("room", ref.name), slog.String("identity", req.Identity))
	return &Token{JWT: jwt, URL: m.publicURL, Room: ref.name, Identity: req.Identity, ExpiresAt: exp.Truncate(time.Second)}, nil
}

// validate checks r and returns the token's lifetime: r.TTL, or def when
// zero, at most max.
func (r TokenRequest) validate(def, max time.Duration) (time.Duration, error) {
	if err := validateText("Identity", r.Identity, MaxIdentityBytes); err != nil {
		return 0, err
	}
	if err := validateOptionalText("Name", r.Name, MaxNameBytes); err != nil {
		return 0, err
	}
	if err := validateBlob("Metadata", r.Metadata, MaxMetadataBytes); err != nil {
		return 0, err
	}
	if err := validateAttributes("Attributes", r.Attributes); err != nil {
		return 0, err
	}
	if r.Grant != nil {
		if _, err := r.Grant.permission("Grant."); err != nil {
			return 0, err
		}
	}
	if len(r.Agents) > MaxAgents {
		return 0, invalidArg("Agents", "has %d entries; the limit is %d", len(r.Agents), MaxAgents)
	}
	for _, a := range r.Agents {
		if err := validateText("Agents.AgentName", a.AgentName, MaxNameBytes); err != nil {
			return 0, err
		}
		if err := validateBlob("Agents.Metadata", a.Metadata, MaxMetadataBytes); err != nil {
			return 0, err
		}
	}
	switch {
	case r.TTL == 0:
		return def, nil
	case r.TTL < time.Second:
		return 0, invalidArg("TTL", "must be at least 1s")
	case r.TTL > max:
		return 0, invalidArg("TTL", "%s exceeds the maximum of %s", r.TTL, max)
	}
	return r.TTL, nil
}

// permission checks g, naming its fields after prefix, and returns the
// LiveKit permission it grants.
func (g Grant) permission(prefix string) (*livekit.ParticipantPermission, error) {
	if len(g.CanPublishSources) > 0 && !g.CanPublish {
		return nil, invalidArg(prefix+"CanPublishSources", "requires CanPublish")
	}
	perm := &livekit.ParticipantPermission{CanPublish: g.CanPublish, CanSubscribe: g.CanSubscribe, CanPublishData: g.CanPublishData}
	for _, s := range g.CanPublishSources {
		src, ok := s.proto()
		if !ok {
			return nil, invalidArg(prefix+"CanPublishSources", "unknown source %q; use camera, microphone, screen_share or screen_share_audio", s)
		}
		perm.CanPublishSources = append(perm.CanPublishSources, src)
	}
	return perm, nil
}

// tokenClaims is a pure function of its inputs: it maps a validated request
// to LiveKit claims for the LiveKit room lkRoom. It never mutates req;
// the claims read req.Attributes, uncopied, until they are signed. The
// room configuration (opts and the agents) takes effect when the token
// holder's join creates the room, LiveKit's refreshed tokens keep it, and
// a room that exists ignores it.
func tokenClaims(apiKey, tenant, lkRoom string, opts RoomOptions, req TokenRequest, now time.Time, ttl time.Duration) claims {
	g := ParticipantGrant()
	if req.Grant != nil {
		g = *req.Grant
	}
	e := req.Elevated
	video := videoGrant{
		VideoGrant: auth.VideoGrant{
			RoomJoin:     true,
			Room:         lkRoom,
			RoomAdmin:    e.RoomAdmin,
			RoomCreate:   e.RoomCreate,
			RoomList:     e.RoomList,
			RoomRecord:   e.RoomRecord,
			IngressAdmin: e.IngressAdmin,
			Hidden:       e.Hidden,
			Recorder:     e.Recorder,
		},
		canPublish: g.CanPublish, canSubscribe: g.CanSubscribe, canPublishData: g.CanPublishData, canUpdateOwnMetadata: e.UpdateOwnMetadata,
	}
	if len(g.CanPublishSources) > 0 {
		video.CanPublishSources = make([]string, len(g.CanPublishSources))
		for i, s := range g.CanPublishSources {
			video.CanPublishSources[i] = string(s)
		}
	}
	c := claims{
		Issuer:    apiKey,
		Subject:   req.Identity,
		IssuedAt:  now.Unix(),
		NotBefore: now.Unix(),
		ExpiresAt: now.Add(ttl).Unix(),
		ClaimGrants: auth.ClaimGrants{
			Identity: req.Identity,
			Name:     req.Name,
			Metadata: req.Metadata,
		},
		video:  video,
		attrs:  req.Attributes,
		tenant: tenant,
	}
	if e.SIPAdmin || e.SIPCall {
		c.SIP = &auth.SIPGrant{Admin: e.SIPAdmin, Call: e.SIPCall}
	}
	// LiveKit v1.8.4 refuses a token whose room configuration carries
	// metadata or tags: only timeouts, size and agents go in.
	empty, departure := durationSeconds(opts.EmptyTimeout), durationSeconds(opts.DepartureTimeout)
	if empty != 0 || departure != 0 || opts.MaxParticipants != 0 || len(req.Agents) > 0 {
		cfg := &livekit.RoomConfiguration{EmptyTimeout: empty, DepartureTimeout: departure, MaxParticipants: opts.MaxParticipants}
		for _, a := range req.Agents {
			cfg.Agents = append(cfg.Agents, &livekit.RoomAgentDispatch{AgentName: a.AgentName, Metadata: a.Metadata})
		}
		c.RoomConfig = (*auth.RoomConfiguration)(cfg)
	}
	return c
}

// videoGrant is a VideoGrant without its pointers: the values its *bool
// fields point to once claims.wire has run.
type videoGrant struct {
	auth.VideoGrant
	canPublish, canSubscribe, canPublishData, canUpdateOwnMetadata bool
}
