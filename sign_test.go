package lkgate

import (
	"encoding/base64"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/testing/protocmp"
)

// oldClaims, oldTokenClaims and oldSignToken are how lkgate signed before
// sign.go (golang-jwt over claims with jwt.NumericDate times), kept as the
// oracle the new signer must match.
type oldClaims struct {
	jwt.RegisteredClaims
	auth.ClaimGrants
}

func oldTokenClaims(apiKey, tenant, lkRoom string, opts RoomOptions, req TokenRequest, now time.Time, ttl time.Duration) oldClaims {
	g := ParticipantGrant()
	if req.Grant != nil {
		g = *req.Grant
	}
	e := req.Elevated
	video := &auth.VideoGrant{
		RoomJoin:     true,
		Room:         lkRoom,
		RoomAdmin:    e.RoomAdmin,
		RoomCreate:   e.RoomCreate,
		RoomList:     e.RoomList,
		RoomRecord:   e.RoomRecord,
		IngressAdmin: e.IngressAdmin,
		Hidden:       e.Hidden,
		Recorder:     e.Recorder,
	}
	video.SetCanPublish(g.CanPublish)
	video.SetCanSubscribe(g.CanSubscribe)
	video.SetCanPublishData(g.CanPublishData)
	video.SetCanUpdateOwnMetadata(e.UpdateOwnMetadata)
	for _, s := range g.CanPublishSources {
		video.CanPublishSources = append(video.CanPublishSources, string(s))
	}
	c := oldClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    apiKey,
			Subject:   req.Identity,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		ClaimGrants: auth.ClaimGrants{
			Identity: req.Identity,
			Name:     req.Name,
			Metadata: req.Metadata,
			Video:    video,
		},
	}
	if e.SIPAdmin || e.SIPCall {
		c.SIP = &auth.SIPGrant{Admin: e.SIPAdmin, Call: e.SIPCall}
	}
	c.Attributes = maps.Clone(req.Attributes)
	if c.Attributes == nil {
		c.Attributes = make(map[string]string, 1)
	}
	if tenant != "" {
		c.Attributes[TenantAttribute] = tenant
	}
	cfg := &livekit.RoomConfiguration{
		EmptyTimeout:     durationSeconds(opts.EmptyTimeout),
		DepartureTimeout: durationSeconds(opts.DepartureTimeout),
		MaxParticipants:  opts.MaxParticipants,
	}
	for _, a := range req.Agents {
		cfg.Agents = append(cfg.Agents, &livekit.RoomAgentDispatch{AgentName: a.AgentName, Metadata: a.Metadata})
	}
	if cfg.EmptyTimeout != 0 || cfg.DepartureTimeout != 0 || cfg.MaxParticipants != 0 || len(cfg.Agents) > 0 {
		c.RoomConfig = (*auth.RoomConfiguration)(cfg)
	}
	return c
}

func oldSignToken(secret string, c oldClaims) (string, error) {
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
}

const signSecret = "a-test-secret-of-thirty-two-bytes!!"

// signCase is one token to mint, as mint and guest waiting build them:
// tokenClaims, then the attributes lkgate sets itself (extra).
type signCase struct {
	name           string
	apiKey, tenant string
	lkRoom         string
	opts           RoomOptions
	req            TokenRequest
	extra          map[string]string
	now            time.Time
	ttl            time.Duration
}

// tokens returns the case's token from the new signer and from the oracle.
func (sc signCase) tokens(t testing.TB, s *signer) (string, string) {
	t.Helper()
	got, want, err, wantErr := sc.sign(s)
	if err != nil || wantErr != nil {
		t.Fatalf("%s: signing failed: %v; golang-jwt: %v", sc.name, err, wantErr)
	}
	return got, want
}

// sign signs the case with the new signer and with the oracle.
func (sc signCase) sign(s *signer) (got, want string, err, wantErr error) {
	c := tokenClaims(sc.apiKey, sc.tenant, sc.lkRoom, sc.opts, sc.req, sc.now, sc.ttl)
	for k, v := range sc.extra {
		c.setAttribute(k, v)
	}
	got, err = s.sign(&c)
	oc := oldTokenClaims(sc.apiKey, sc.tenant, sc.lkRoom, sc.opts, sc.req, sc.now, sc.ttl)
	maps.Copy(oc.Attributes, sc.extra)
	want, wantErr = oldSignToken(signSecret, oc)
	return got, want, err, wantErr
}

// livekitVerify is how LiveKit's server reads a token.
func livekitVerify(token, secret string) (*jwt.RegisteredClaims, *auth.ClaimGrants, error) {
	v, err := auth.ParseAPIToken(token)
	if err != nil {
		return nil, nil, err
	}
	return v.Verify(secret)
}

var grantsCmp = []cmp.Option{
	cmp.Transformer("RoomConfig", func(c *auth.RoomConfiguration) *livekit.RoomConfiguration { return (*livekit.RoomConfiguration)(c) }),
	protocmp.Transform(),
}

// checkSameToken fails unless LiveKit's verifier accepts got and reads
// from it the claims it reads from want, and got is want byte for byte.
func checkSameToken(t testing.TB, name, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s: the token differs from golang-jwt's:\n got %s\nwant %s", name, got, want)
	}
	gotReg, gotGrants, err := livekitVerify(got, signSecret)
	if err != nil {
		t.Fatalf("%s: LiveKit refuses the token: %v", name, err)
	}
	wantReg, wantGrants, err := livekitVerify(want, signSecret)
	if err != nil {
		t.Fatalf("%s: LiveKit refuses golang-jwt's token: %v", name, err)
	}
	if d := cmp.Diff(wantReg, gotReg); d != "" {
		t.Errorf("%s: registered claims differ (-golang-jwt +signer):\n%s", name, d)
	}
	if d := cmp.Diff(wantGrants, gotGrants, grantsCmp...); d != "" {
		t.Errorf("%s: grants differ (-golang-jwt +signer):\n%s", name, d)
	}
}

func signCases(now time.Time) []signCase {
	base := signCase{apiKey: "devkey", tenant: "acme", lkRoom: "t4_acme_standup", now: now, ttl: 10 * time.Minute}
	with := func(name string, f func(*signCase)) signCase {
		sc := base
		sc.name = name
		sc.req = TokenRequest{Room: "standup", Identity: "alice"}
		f(&sc)
		return sc
	}
	return []signCase{
		with("defaults", func(*signCase) {}),
		with("unauthenticated", func(sc *signCase) { sc.tenant = "" }),
		with("sub-second now and odd ttl", func(sc *signCase) {
			sc.now = now.Add(999_999_999 * time.Nanosecond)
			sc.ttl = 90*time.Second + 500*time.Millisecond
		}),
		with("viewer", func(sc *signCase) { sc.req.Grant = &Grant{CanSubscribe: true} }),
		with("no grant at all (a lobby)", func(sc *signCase) {
			sc.req.Grant = &Grant{}
			sc.opts = lobbyOptions
			sc.extra = map[string]string{GuestPassAttribute: "a.b.c.d.e"}
		}),
		with("sources", func(sc *signCase) {
			sc.req.Grant = &Grant{CanPublish: true, CanSubscribe: true, CanPublishSources: []TrackSource{SourceCamera, SourceMicrophone, SourceScreenShare, SourceScreenShareAudio}}
		}),
		with("name, metadata and attributes", func(sc *signCase) {
			sc.req.Name = "Alice Liddell"
			sc.req.Metadata = `{"team":"x","html":"<b>&amp;</b>"}`
			sc.req.Attributes = map[string]string{"role": "speaker", "b": "", "z": "last", "a": "first", "quote\"key": `back\slash`}
		}),
		with("unicode and escapes", func(sc *signCase) {
			sc.req.Identity = "ünï-用户-🎉"
			sc.req.Name = "Zoë Ünïcode 名前"
			sc.req.Metadata = "line\nbreak\ttab\u2028sep\u2029para\x00nul\x1f<>&\u007f\ufffd"
			sc.req.Attributes = map[string]string{"ключ": "значение", "emoji": "🙂", "ctl": "\x01\b\f\r", "html": "<script>&</script>"}
			sc.lkRoom = "t4_acme_café"
		}),
		with("agents and room options", func(sc *signCase) {
			sc.opts = RoomOptions{EmptyTimeout: 5 * time.Minute, DepartureTimeout: 20 * time.Second, MaxParticipants: 12}
			sc.req.Agents = []AgentDispatch{{AgentName: "notetaker", Metadata: `{"lang":"de"}`}, {AgentName: "translator"}, {AgentName: "a", Metadata: "<&>"}, {AgentName: "b"}}
		}),
		with("agents alone", func(sc *signCase) { sc.req.Agents = []AgentDispatch{{AgentName: "notetaker"}} }),
		with("max participants alone", func(sc *signCase) { sc.opts = RoomOptions{MaxParticipants: 2} }),
		with("SIP admin", func(sc *signCase) { sc.req.Elevated = ElevatedGrants{SIPAdmin: true} }),
		with("SIP call", func(sc *signCase) { sc.req.Elevated = ElevatedGrants{SIPCall: true} }),
		with("every elevated grant", func(sc *signCase) {
			sc.req.Elevated = ElevatedGrants{RoomAdmin: true, RoomCreate: true, RoomList: true, RoomRecord: true, IngressAdmin: true,
				SIPAdmin: true, SIPCall: true, UpdateOwnMetadata: true, Hidden: true, Recorder: true}
		}),
		with("admitted guest", func(sc *signCase) {
			sc.req.Identity = GuestIdentityPrefix + "x"
			sc.req.Name = "Grace Hopper"
			sc.extra = map[string]string{AdmittedAttribute: "true"}
		}),
		with("extra attributes beside the request's", func(sc *signCase) {
			sc.req.Attributes = map[string]string{"role": "host", "zz": "1"}
			sc.extra = map[string]string{AdmittedAttribute: "true", GuestPassAttribute: "p"}
		}),
		with("lkgate's own attributes win over the request's", func(sc *signCase) {
			sc.req.Attributes = map[string]string{TenantAttribute: "forged", AdmittedAttribute: "forged", "role": "host"}
			sc.extra = map[string]string{AdmittedAttribute: "true"}
		}),
		with("an attribute set over the tenant's", func(sc *signCase) {
			sc.req.Attributes = map[string]string{TenantAttribute: "forged"}
			sc.extra = map[string]string{TenantAttribute: "set"}
		}),
		with("the request's tenant attribute without a tenant", func(sc *signCase) {
			sc.tenant = ""
			sc.req.Attributes = map[string]string{TenantAttribute: "kept"}
		}),
		with("long values", func(sc *signCase) {
			sc.req.Metadata = strings.Repeat("m", MaxMetadataBytes)
			sc.req.Attributes = map[string]string{"k": strings.Repeat("é", MaxAttributesBytes/2-1)}
			sc.ttl = DefaultMaxTokenTTL
		}),
	}
}

// The signer's tokens are golang-jwt's: LiveKit's own verifier accepts
// them and reads the same claims, for every kind of request.
func TestSignerMatchesGolangJWT(t *testing.T) {
	s := newSigner(signSecret)
	for _, sc := range signCases(time.Now()) {
		got, want := sc.tokens(t, s)
		checkSameToken(t, sc.name, got, want)
	}
}

// Concurrent signers share the pool without mixing their tokens.
func TestSignerConcurrent(t *testing.T) {
	s := newSigner(signSecret)
	cases := signCases(time.Now())
	done := make(chan struct{})
	for i := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for j := range 50 {
				sc := cases[(i+j)%len(cases)]
				got, want := sc.tokens(t, s)
				checkSameToken(t, sc.name, got, want)
			}
		}()
	}
	for range 4 {
		<-done
	}
}

// LiveKit refuses a token signed with another secret, one whose payload
// was changed after signing, and one past its expiry.
func TestSignerTokensRefusedWhenWrong(t *testing.T) {
	s := newSigner(signSecret)
	now := time.Now()
	c := tokenClaims("devkey", "acme", "t4_acme_standup", RoomOptions{}, TokenRequest{Identity: "alice", Attributes: map[string]string{"role": "viewer"}}, now, time.Minute)
	token, err := s.sign(&c)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := livekitVerify(token, signSecret); err != nil {
		t.Fatalf("the genuine token is refused: %v", err)
	}
	if _, _, err := livekitVerify(token, strings.Repeat("x", len(signSecret))); err == nil {
		t.Error("a token verifies under another secret")
	}
	other, err := newSigner(strings.Repeat("x", len(signSecret))).sign(&c)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := livekitVerify(other, signSecret); err == nil {
		t.Error("a token signed with another secret verifies")
	}
	// Promote the viewer to host in the payload, keeping the signature.
	header, rest, _ := strings.Cut(token, ".")
	payload, sig, _ := strings.Cut(rest, ".")
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		t.Fatal(err)
	}
	forged := strings.Replace(string(raw), `"role":"viewer"`, `"role":"host"`, 1)
	if forged == string(raw) {
		t.Fatalf("payload %s has no role to forge", raw)
	}
	tampered := header + "." + base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + sig
	if _, _, err := livekitVerify(tampered, signSecret); err == nil {
		t.Error("a tampered payload verifies")
	}
	flipped := header + "." + payload + "." + flipLast(sig)
	if _, _, err := livekitVerify(flipped, signSecret); err == nil {
		t.Error("a changed signature verifies")
	}
	old := tokenClaims("devkey", "acme", "t4_acme_standup", RoomOptions{}, TokenRequest{Identity: "alice"}, now.Add(-time.Hour), time.Minute)
	expired, err := s.sign(&old)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := livekitVerify(expired, signSecret); err == nil {
		t.Error("an expired token verifies")
	}
}

// flipLast changes the last character of a base64url string to another
// that changes its high bits.
func flipLast(s string) string {
	last := s[len(s)-1]
	repl := byte('A')
	if last == 'A' {
		repl = 'w'
	}
	return s[:len(s)-1] + string(repl)
}

// FuzzSigner compares the signer with golang-jwt over arbitrary requests:
// LiveKit must read the same claims from both tokens.
func FuzzSigner(f *testing.F) {
	f.Add("acme", "t4_acme_standup", "alice", "Alice", `{"a":1}`, "role", "speaker", "notetaker", "m", uint16(0xffff), int64(600), uint32(30))
	f.Add("", "room", "ü", "", "\u2028<&>", "k\"", "\x00", "", "", uint16(0), int64(1), uint32(0))
	f.Add("acme", "r", "i", "", "", TenantAttribute, "forged", "", "", uint16(1<<15), int64(60), uint32(0))
	f.Add("acme", "r", "i", "", "\xff", AdmittedAttribute, "\xfe\u2029", "", "", uint16(1<<15), int64(60), uint32(0))
	f.Add("t", "r", "i", "N", "", "", "", "a", "", uint16(0x5a5a), int64(86400), uint32(1<<31))
	s := newSigner(signSecret)
	f.Fuzz(func(t *testing.T, tenant, lkRoom, identity, name, metadata, attrKey, attrValue, agent, agentMeta string, flags uint16, ttlSeconds int64, maxParticipants uint32) {
		now := time.Now() // LiveKit refuses expired tokens, and fuzzing may run long
		bit := func(i int) bool { return flags&(1<<i) != 0 }
		req := TokenRequest{Identity: identity, Name: name, Metadata: metadata,
			Elevated: ElevatedGrants{RoomAdmin: bit(0), RoomCreate: bit(1), RoomList: bit(2), RoomRecord: bit(3), IngressAdmin: bit(4),
				SIPAdmin: bit(5), SIPCall: bit(6), UpdateOwnMetadata: bit(7), Hidden: bit(8), Recorder: bit(9)}}
		if bit(10) {
			req.Grant = &Grant{CanPublish: bit(11), CanSubscribe: bit(12), CanPublishData: bit(13)}
			if bit(14) {
				req.Grant.CanPublishSources = []TrackSource{SourceMicrophone, TrackSource(attrValue)}
			}
		}
		// Even a key validation refuses (TenantAttribute) must yield the
		// same token: lkgate's own value wins.
		if attrKey != "" {
			req.Attributes = map[string]string{attrKey: attrValue, attrValue + "2": attrKey}
		}
		if agent != "" {
			req.Agents = []AgentDispatch{{AgentName: agent, Metadata: agentMeta}}
		}
		ttl := time.Duration(max(1, min(ttlSeconds, int64(DefaultMaxTokenTTL/time.Second)))) * time.Second
		sc := signCase{name: "fuzz", apiKey: "devkey", tenant: tenant, lkRoom: lkRoom, req: req, now: now, ttl: ttl,
			opts: RoomOptions{MaxParticipants: maxParticipants, EmptyTimeout: time.Duration(flags>>15) * time.Minute}}
		if bit(15) {
			sc.extra = map[string]string{AdmittedAttribute: "true"}
		}
		// Room configuration that protojson refuses (invalid UTF-8, which
		// validation refuses first) fails both.
		got, want, err, wantErr := sc.sign(s)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("signer: %v; golang-jwt: %v", err, wantErr)
		}
		if err == nil {
			checkSameToken(t, sc.name, got, want)
		}
	})
}
