package httpx

import (
	"cmp"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// Principal is who a request acts for, and what it may do, as an
// [Authenticator] resolves it.
type Principal struct {
	// Tenant is whose rooms the request reaches. The empty tenant is
	// unauthenticated mode, which the Manager refuses unless its Config
	// allows it.
	Tenant string
	// Subject identifies the caller within the tenant (a user or an admin).
	// Audit events carry it; guest admission checks it, and an invite that
	// names no admins lets its inviting Subject alone admit. Empty means
	// none: such a principal may only admit guests whose invite allows all.
	Subject string
	// Permissions are the routes the principal may use; every other route
	// answers 403 (permission_denied) before anything is done. The zero
	// value permits nothing: give a browser's session PermTokens, and a
	// trusted backend AllPermissions.
	Permissions Permission
}

// Permission is a set of routes a [Principal] may use, one bit each,
// combined with | like [fs.FileMode]; the zero Permission permits nothing.
type Permission uint32

// The permissions, and the routes each opens.
const (
	// PermTokens mints participant tokens for the principal's tenant:
	// POST /livekit/token. It is what a browser needs to join a room.
	PermTokens Permission = 1 << iota
	// PermRooms reads rooms: GET /livekit/rooms and
	// GET /livekit/rooms/{room_name} (participants, tracks, metadata).
	PermRooms
	// PermModerate acts on other participants and ends meetings:
	// DELETE /livekit/participant (and its bans), POST
	// /livekit/participant/mute and DELETE /livekit/rooms/{room_name}.
	PermModerate
	// PermGuests runs the waiting room: POST /livekit/guest/invite,
	// POST /livekit/guest/admit (admit or deny) and GET /livekit/guest/waiting.
	// Admitting also needs the invite to allow the principal's Subject.
	PermGuests
	// PermSIP places and transfers phone calls, which cost money:
	// POST /sip/call and POST /sip/transfer.
	PermSIP
)

// AllPermissions is every permission, growing with those later versions
// add: give it only to the host's own trusted backends, never to a
// browser.
const AllPermissions = PermTokens | PermRooms | PermModerate | PermGuests | PermSIP

var permNames = []struct {
	perm Permission
	name string
}{
	{PermTokens, "tokens"},
	{PermRooms, "rooms"},
	{PermModerate, "moderate"},
	{PermGuests, "guests"},
	{PermSIP, "sip"},
}

// Has reports whether p includes every permission of q.
func (p Permission) Has(q Permission) bool { return p&q == q }

// String names the permissions of p joined by "+", such as "tokens+rooms",
// in the form [ParsePermissions] reads; the zero Permission is "none".
func (p Permission) String() string {
	if p == 0 {
		return "none"
	}
	var names []string
	for _, n := range permNames {
		if p.Has(n.perm) {
			names = append(names, n.name)
			p &^= n.perm
		}
	}
	if p != 0 {
		names = append(names, fmt.Sprintf("0x%x", uint32(p)))
	}
	return strings.Join(names, "+")
}

// ParsePermissions reads permission names joined by "+" ("tokens",
// "rooms", "moderate", "guests", "sip"), or "all" for [AllPermissions], as
// a host's configuration spells them; an unknown or missing name is an
// error.
func ParsePermissions(s string) (Permission, error) {
	if s == "all" {
		return AllPermissions, nil
	}
	var p Permission
	for _, name := range strings.Split(s, "+") {
		found := false
		for _, n := range permNames {
			if name == n.name {
				p, found = p|n.perm, true
			}
		}
		if !found {
			return 0, fmt.Errorf("httpx: %q is not a permission (want tokens, rooms, moderate, guests, sip joined by +, or all)", name)
		}
	}
	return p, nil
}

// Authenticator resolves the [Principal] of a request, or refuses it with
// an error: 421 for one wrapping [ErrHostNotAllowed], else 401 with an
// [*AuthError]'s Detail and Challenge, or for any other error "missing or
// invalid credentials" and the challenge Bearer realm="lkgate", never its
// text. Implementations must be safe for concurrent use.
type Authenticator interface {
	Authenticate(r *http.Request) (Principal, error)
}

// AuthError is an error an [Authenticator] returns to word its 401, such
// as a host's own "sign in first" and its own challenge, or none.
type AuthError struct {
	// Detail is the problem's detail, shown to the client, so it must hold
	// no credential. Empty means "authentication required".
	Detail string
	// Challenge is the 401's WWW-Authenticate header, such as
	// `Bearer realm="example", error="invalid_token"`. Empty sends none,
	// as a cookie session has no scheme to announce.
	Challenge string
	// Err is the cause, for errors.Is and the host's own use; it is never
	// shown or logged by the Handler.
	Err error
}

// Error returns the detail, and the cause if there is one.
func (e *AuthError) Error() string {
	msg := "httpx: " + cmp.Or(e.Detail, "authentication required")
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns e.Err.
func (e *AuthError) Unwrap() error { return e.Err }

// bearerChallenge is the WWW-Authenticate header of StaticKeys' 401s and
// of any other 401 whose Authenticator does not choose one.
const bearerChallenge = `Bearer realm="lkgate"`

// AuthenticatorFunc adapts a function to [Authenticator].
type AuthenticatorFunc func(r *http.Request) (Principal, error)

// Authenticate calls f(r).
func (f AuthenticatorFunc) Authenticate(r *http.Request) (Principal, error) { return f(r) }

// ErrHostNotAllowed refuses a request whose Host header is not one the
// server serves, with 421 host_not_allowed: [Unauthenticated] returns it,
// and a custom [Authenticator] may too, wrapped or not.
var ErrHostNotAllowed = errors.New("httpx: the request's Host is not served here")

// Unauthenticated returns an [Authenticator] that lets requests through
// with the empty tenant and [AllPermissions], for local development, once
// the Manager opts in with [lkgate.Config].AllowUnauthenticated (until
// then every request is a 401).
//
// Without credentials, any web page the developer opens could reach the
// server through DNS rebinding (a name of the attacker's that resolves to
// 127.0.0.1), so the Host header is checked: a request is served only when
// its Host is one of hosts, each "name" (any port) or "name:port" (that
// port only; IPv6 as "[::1]:8080"), compared without case. With no hosts,
// only loopback is served: localhost, 127.0.0.1 and [::1], on any port.
// Any other Host is refused with [ErrHostNotAllowed].
func Unauthenticated(hosts ...string) Authenticator {
	if len(hosts) == 0 {
		hosts = []string{"localhost", "127.0.0.1", "[::1]"}
	}
	allowed := make([]string, len(hosts))
	for i, h := range hosts {
		allowed[i] = strings.ToLower(h)
	}
	return AuthenticatorFunc(func(r *http.Request) (Principal, error) {
		if !hostAllowed(strings.ToLower(r.Host), allowed) {
			return Principal{}, ErrHostNotAllowed
		}
		return Principal{Permissions: AllPermissions}, nil
	})
}

// hostAllowed reports whether host (a lower-case Host header) is one of
// allowed, where an entry without a port matches any port.
func hostAllowed(host string, allowed []string) bool {
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
		if strings.Contains(h, ":") {
			name = "[" + h + "]"
		}
	}
	for _, a := range allowed {
		if a == host {
			return true
		}
		if _, _, err := net.SplitHostPort(a); err != nil && a == name {
			return true
		}
	}
	return false
}

// MinAPIKeyLength is the shortest API key [NewStaticKeys] accepts.
const MinAPIKeyLength = 16

// ErrNoCredentials is the cause, in an [*AuthError], of [StaticKeys]'
// refusal of a request without a key.
var ErrNoCredentials = errors.New("httpx: no API key in the request")

// ErrBadCredentials is the cause, in an [*AuthError], of [StaticKeys]'
// refusal of an unknown key.
var ErrBadCredentials = errors.New("httpx: unknown API key")

// staticKeysRefusal is StaticKeys' 401, the same whether a key is missing
// or unknown.
func staticKeysRefusal(cause error) error {
	return &AuthError{Detail: "missing or invalid API key", Challenge: bearerChallenge, Err: cause}
}

// StaticKeysConfig configures [NewStaticKeys].
type StaticKeysConfig struct {
	// Keys maps each API key to the principal it authenticates. Every
	// principal must name a tenant and carry at least one permission
	// (AllPermissions for a key that may do everything).
	Keys map[string]Principal
	// AllowQueryKey also accepts keys passed as ?api_key=. Off by default:
	// query strings end up in proxy logs and browser history, so keys
	// belong in the Authorization header.
	AllowQueryKey bool
}

// StaticKeys authenticates requests with a fixed set of API keys, read from
// "Authorization: Bearer <key>" or, where allowed, "?api_key=<key>".
// Keys are compared in constant time against every entry. A request
// without a known key is answered 401 "missing or invalid API key" with
// the challenge Bearer realm="lkgate". It is safe for concurrent use.
type StaticKeys struct {
	entries      []staticKey
	allowInQuery bool
}

type staticKey struct {
	sum       [sha256.Size]byte
	principal Principal
}

// NewStaticKeys returns the [StaticKeys] of cfg, or an error naming a key
// that is too short, holds white space, or maps to no tenant or no
// permission.
func NewStaticKeys(cfg StaticKeysConfig) (*StaticKeys, error) {
	if len(cfg.Keys) == 0 {
		return nil, errors.New("httpx: StaticKeysConfig.Keys is empty")
	}
	s := &StaticKeys{allowInQuery: cfg.AllowQueryKey}
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
		// A key that may do nothing is a migration mistake, not a wish:
		// say so now rather than with a 403 on every request.
		if p.Permissions == 0 {
			return nil, fmt.Errorf("httpx: StaticKeysConfig.Keys: a key for tenant %q has no Permissions (httpx.AllPermissions is what keys could do before permissions; a browser needs only httpx.PermTokens)", p.Tenant)
		}
		s.entries = append(s.entries, staticKey{sum: sha256.Sum256([]byte(key)), principal: p})
	}
	return s, nil
}

// Authenticate returns the [Principal] of the request's key, or an
// [*AuthError] wrapping [ErrNoCredentials] or [ErrBadCredentials].
func (s *StaticKeys) Authenticate(r *http.Request) (Principal, error) {
	key, ok := bearer(r)
	if !ok && s.allowInQuery {
		key = r.URL.Query().Get("api_key")
	}
	if key == "" {
		return Principal{}, staticKeysRefusal(ErrNoCredentials)
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
		return Principal{}, staticKeysRefusal(ErrBadCredentials)
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
