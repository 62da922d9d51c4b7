package httpx

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Principal is who a request acts for.
type Principal struct {
	// Tenant is whose rooms the request reaches. The empty tenant is
	// unauthenticated mode, which the Manager refuses unless its Config
	// allows it.
	Tenant string
	// Subject identifies the caller within the tenant (a user or an admin),
	// used by guest admission.
	Subject string
}

// Authenticator resolves the principal of a request. An error means the
// request is refused with 401; its text is never shown to the client.
// Implementations must be safe for concurrent use.
type Authenticator interface {
	Authenticate(r *http.Request) (Principal, error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(r *http.Request) (Principal, error)

// Authenticate calls f(r).
func (f AuthenticatorFunc) Authenticate(r *http.Request) (Principal, error) { return f(r) }

// Unauthenticated returns an Authenticator that lets every request through
// with the empty principal. The Manager must opt in with
// Config.AllowUnauthenticated, or every request fails with 401.
func Unauthenticated() Authenticator {
	return AuthenticatorFunc(func(*http.Request) (Principal, error) { return Principal{}, nil })
}

// MinAPIKeyLength is the shortest API key NewStaticKeys accepts.
const MinAPIKeyLength = 16

// ErrNoCredentials is returned by StaticKeys when a request carries no key.
var ErrNoCredentials = errors.New("httpx: no API key in the request")

// ErrBadCredentials is returned by StaticKeys when the key is unknown.
var ErrBadCredentials = errors.New("httpx: unknown API key")

// StaticKeysConfig configures NewStaticKeys.
type StaticKeysConfig struct {
	// Keys maps each API key to the principal it authenticates. Every
	// principal must name a tenant.
	Keys map[string]Principal
	// DisableQueryKey refuses keys passed as ?api_key=, accepting only the
	// Authorization header. Query strings end up in proxy and browser logs.
	DisableQueryKey bool
}

// StaticKeys authenticates requests with a fixed set of API keys, read from
// "Authorization: Bearer <key>" or, unless disabled, "?api_key=<key>".
// Keys are compared in constant time against every entry. It is safe for
// concurrent use.
type StaticKeys struct {
	entries      []staticKey
	allowInQuery bool
}

type staticKey struct {
	sum       [sha256.Size]byte
	principal Principal
}

// NewStaticKeys validates cfg and returns the authenticator.
func NewStaticKeys(cfg StaticKeysConfig) (*StaticKeys, error) {
	if len(cfg.Keys) == 0 {
		return nil, errors.New("httpx: StaticKeysConfig.Keys is empty")
	}
	s := &StaticKeys{allowInQuery: !cfg.DisableQueryKey}
	for key, p := range cfg.Keys {
		if len(key) < MinAPIKeyLength {
			return nil, fmt.Errorf("httpx: StaticKeysConfig.Keys: a key for tenant %q is %d bytes long; the minimum is %d", p.Tenant, len(key), MinAPIKeyLength)
		}
		if strings.ContainsAny(key, " \t\r\n") {
			return nil, fmt.Errorf("httpx: StaticKeysConfig.Keys: a key for tenant %q contains whitespace", p.Tenant)
		}
		if p.Tenant == "" {
			return nil, errors.New("httpx: StaticKeysConfig.Keys: every key must map to a tenant")
		}
		s.entries = append(s.entries, staticKey{sum: sha256.Sum256([]byte(key)), principal: p})
	}
	return s, nil
}

// Authenticate implements Authenticator.
func (s *StaticKeys) Authenticate(r *http.Request) (Principal, error) {
	key, ok := bearer(r)
	if !ok && s.allowInQuery {
		key = r.URL.Query().Get("api_key")
	}
	if key == "" {
		return Principal{}, ErrNoCredentials
	}
	// Hashing first gives equal-length inputs, and scanning every entry
	// keeps the time independent of which key (if any) matches.
	sum := sha256.Sum256([]byte(key))
	found := -1
	for i := range s.entries {
		if subtle.ConstantTimeCompare(sum[:], s.entries[i].sum[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Principal{}, ErrBadCredentials
	}
	return s.entries[found].principal, nil
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return "", false
	}
	key := strings.TrimSpace(h[7:])
	return key, key != ""
}
