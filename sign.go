package lkgate

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"hash"
	"slices"
	"sync"

	"github.com/livekit/protocol/auth"
)

// claims is the JWT body LiveKit expects: the registered claims it reads,
// with times in NumericDate seconds, and its grants. Signed, it is byte
// for byte what golang-jwt writes for jwt.RegisteredClaims and
// auth.ClaimGrants side by side.
type claims struct {
	Issuer    string `json:"iss,omitempty"`
	Subject   string `json:"sub,omitempty"`
	ExpiresAt int64  `json:"exp"`
	NotBefore int64  `json:"nbf"`
	IssuedAt  int64  `json:"iat"`
	// ClaimGrants.Video is wire's pointer to video. Attributes stays nil:
	// the participant's attributes are the fields below, which the signer
	// writes where it would be, last.
	auth.ClaimGrants

	video  videoGrant
	attrs  map[string]string // the request's, read but never written
	tenant string            // TenantAttribute, unless empty
	own    map[string]string // lkgate's others (setAttribute)
}

// wire points c.Video and its *bool fields at c.video, which must then
// stay where it is: the signer wires its own copy of the claims, so that
// minting allocates no grant.
func (c *claims) wire() {
	v := &c.video
	v.CanPublish, v.CanSubscribe, v.CanPublishData, v.CanUpdateOwnMetadata = &v.canPublish, &v.canSubscribe, &v.canPublishData, &v.canUpdateOwnMetadata
	c.Video = &v.VideoGrant
}

// setAttribute sets one of the attributes lkgate itself gives a token
// (TokenRequest.Attributes may not carry them).
func (c *claims) setAttribute(key, value string) {
	if c.own == nil {
		c.own = make(map[string]string, 1)
	}
	c.own[key] = value
}

// attribute returns the value of the attribute key: lkgate's own first,
// then the tenant, then the request's.
func (c *claims) attribute(key string) (string, bool) {
	if v, ok := c.own[key]; ok {
		return v, true
	}
	if key == TenantAttribute && c.tenant != "" {
		return c.tenant, true
	}
	v, ok := c.attrs[key]
	return v, ok
}

// attributeKeys appends the names of c's attributes to keys, sorted, as
// encoding/json orders a map's.
func (c *claims) attributeKeys(keys []string) []string {
	for k := range c.attrs {
		if _, own := c.own[k]; !own && (k != TenantAttribute || c.tenant == "") {
			keys = append(keys, k)
		}
	}
	if _, own := c.own[TenantAttribute]; !own && c.tenant != "" {
		keys = append(keys, TenantAttribute)
	}
	for k := range c.own {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// jwsHeader is the first segment of every token and its dot: the
// base64url of golang-jwt's HS256 header.
var jwsHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "."

// maxPooledToken bounds the buffers a signer keeps for reuse; a larger
// token's are left to the garbage collector.
const maxPooledToken = 32 << 10

// signer writes HS256 JWS tokens under one API secret as golang-jwt
// would, at the cost of the HMAC and one JSON encoding: its keyed HMACs
// and buffers are reused. It is safe for concurrent use.
type signer struct {
	pool sync.Pool // of *signing
}

// signing is the work space of one token at a time.
type signing struct {
	mac    hash.Hash // keyed; Reset keeps the key
	claims claims
	str    string        // a string being encoded
	body   bytes.Buffer  // the claims' JSON
	enc    *json.Encoder // writes body; escapes HTML, as json.Marshal does
	keys   []string
	jws    []byte
	sum    [sha256.Size]byte
}

func newSigner(secret string) *signer {
	key := []byte(secret)
	s := &signer{}
	s.pool.New = func() any {
		st := &signing{mac: hmac.New(sha256.New, key)}
		st.enc = json.NewEncoder(&st.body)
		return st
	}
	return s
}

// sign returns c signed as a compact JWS.
func (s *signer) sign(c *claims) (string, error) {
	st := s.pool.Get().(*signing)
	defer s.put(st)
	st.claims = *c // encoded from st, so that c need not escape
	st.claims.wire()
	st.body.Reset()
	if err := st.payload(); err != nil {
		return "", err
	}
	jws := append(st.jws[:0], jwsHeader...)
	jws = base64.RawURLEncoding.AppendEncode(jws, st.body.Bytes())
	st.mac.Reset()
	st.mac.Write(jws)
	jws = append(jws, '.')
	jws = base64.RawURLEncoding.AppendEncode(jws, st.mac.Sum(st.sum[:0]))
	st.jws = jws
	return string(jws), nil
}

// payload writes st.claims' JSON into st.body: encoding/json's for the
// struct, then the attributes as it writes a map[string]string, in the
// place of the last field of auth.ClaimGrants, "attributes,omitempty".
func (st *signing) payload() error {
	if err := st.encode(&st.claims); err != nil {
		return err
	}
	st.keys = st.claims.attributeKeys(st.keys[:0])
	if len(st.keys) == 0 {
		return nil
	}
	st.body.Truncate(st.body.Len() - 1) // the closing brace
	st.body.WriteString(`,"attributes":{`)
	for i, k := range st.keys {
		if i > 0 {
			st.body.WriteByte(',')
		}
		v, _ := st.claims.attribute(k)
		if err := st.encodeString(k); err != nil {
			return err
		}
		st.body.WriteByte(':')
		if err := st.encodeString(v); err != nil {
			return err
		}
	}
	st.body.WriteString("}}")
	return nil
}

// encode appends the JSON of v to st.body, as json.Marshal writes it.
func (st *signing) encode(v any) error {
	if err := st.enc.Encode(v); err != nil {
		return err
	}
	st.body.Truncate(st.body.Len() - 1) // Encode's newline
	return nil
}

// encodeString encodes s through a field of st, which, unlike s, needs no
// allocation to pass as an interface.
func (st *signing) encodeString(s string) error {
	st.str = s
	return st.encode(&st.str)
}

// put returns st to the pool, without the claims it held.
func (s *signer) put(st *signing) {
	st.claims, st.str = claims{}, ""
	clear(st.keys)
	if cap(st.jws) > maxPooledToken || st.body.Cap() > maxPooledToken {
		return
	}
	s.pool.Put(st)
}
