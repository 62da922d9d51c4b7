package lkgate

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Guest defaults and limits.
const (
	DefaultInviteDuration    = time.Hour
	DefaultMinInviteDuration = time.Minute
	DefaultMaxInviteDuration = 7 * 24 * time.Hour
	DefaultLobbyTTL          = 30 * time.Minute
	// InviteKeyBytes is the length of an InviteKey: an AES-256 key.
	InviteKeyBytes = 32
	// MaxInviteTokenBytes caps an invite token before it is parsed, so a
	// guest cannot make lkgate decode an arbitrarily large input.
	MaxInviteTokenBytes = 4096
	// MaxAllowedAdmins and MaxAdminBytes bound InviteRequest.AllowedAdmins,
	// which travels in the invite URL and in the guest's lobby token.
	MaxAllowedAdmins = 16
	MaxAdminBytes    = 128
	maxKeyIDBytes    = 64
)

// InviteKey is a key that encrypts invites. ID is sent in the clear as the
// JWE "kid" header, so that the right key is chosen on the way back.
type InviteKey struct {
	ID  string
	Key []byte // InviteKeyBytes random bytes
}

// String describes the key without its bytes.
func (k InviteKey) String() string {
	return fmt.Sprintf("lkgate.InviteKey{ID: %q, Key: [REDACTED]}", k.ID)
}

// GoString is String, so that %#v does not print the key either.
func (k InviteKey) GoString() string { return k.String() }

// Format prints String for every verb, so that none (%x, %d...) reaches
// the key's bytes.
func (k InviteKey) Format(f fmt.State, verb rune) { formatRedacted(f, verb, k.String()) }

// LogValue logs the key's ID only.
func (k InviteKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", k.ID), slog.String("key", "[REDACTED]"))
}

// MarshalJSON encodes the key's ID only, as LogValue logs it.
func (k InviteKey) MarshalJSON() ([]byte, error) { return marshalLogValue(k.LogValue()) }

// GuestConfig configures guest invites. Its zero value turns guests off.
type GuestConfig struct {
	// Keys encrypt and decrypt invites and the admission pass each waiting
	// guest carries. Keys[0] encrypts; every key decrypts. To rotate, put
	// the new key first and keep the old one until the invites and passes
	// it encrypted have expired (MaxInviteDuration, LobbyTTL). Empty means
	// guests are not configured.
	Keys []InviteKey
	// InviteBaseURL is the address of the host's guest page; an invite URL
	// is InviteBaseURL + "/join?invite_token=<token>". Required with Keys.
	InviteBaseURL string
	// DefaultInviteDuration is an invite's lifetime when the request gives
	// none. Zero means DefaultInviteDuration.
	DefaultInviteDuration time.Duration
	// MinInviteDuration and MaxInviteDuration bound the lifetime a request
	// may ask for: Invite refuses one outside them (ErrInvalidArgument on
	// Duration, naming the limit) rather than change it. Zero means
	// DefaultMinInviteDuration and DefaultMaxInviteDuration.
	MinInviteDuration time.Duration
	MaxInviteDuration time.Duration
	// LobbyTTL is how long a guest may wait for admission: the lifetime of
	// its admission pass, counted from room-auth. Its lobby token admits a
	// first connection for LobbyJoinWindow at most. A guest still waiting
	// once its pass has expired can no longer be admitted; lkgate closes
	// its lobby when it next counts the tenant's guests. Zero means
	// DefaultLobbyTTL.
	LobbyTTL time.Duration
}

// guests is a validated GuestConfig.
type guests struct {
	cfg     GuestConfig
	baseURL string
	// lobbyKey names lobby rooms. It is derived from the API secret rather
	// than from the invite keys, so that rotating invite keys does not move
	// the lobbies of guests already waiting.
	lobbyKey []byte
}

func newGuests(cfg GuestConfig, apiSecret string) (*guests, error) {
	if len(cfg.Keys) == 0 {
		if cfg.InviteBaseURL != "" {
			return nil, invalidArg("Guests.Keys", "is required when Guests.InviteBaseURL is set")
		}
		return nil, nil
	}
	seen := map[string]bool{}
	for i, k := range cfg.Keys {
		field := fmt.Sprintf("Guests.Keys[%d]", i)
		if k.ID == "" || len(k.ID) > maxKeyIDBytes || strings.ContainsFunc(k.ID, isControlOrSpace) {
			return nil, invalidArg(field+".ID", "must be 1 to %d printable bytes without spaces", maxKeyIDBytes)
		}
		if seen[k.ID] {
			return nil, invalidArg(field+".ID", "%q is used twice", k.ID)
		}
		seen[k.ID] = true
		if len(k.Key) != InviteKeyBytes {
			return nil, invalidArg(field+".Key", "is %d bytes long; it must be %d random bytes", len(k.Key), InviteKeyBytes)
		}
	}
	if err := validateURL("Guests.InviteBaseURL", cfg.InviteBaseURL); err != nil {
		return nil, err
	}
	if u, _ := url.Parse(cfg.InviteBaseURL); u.Scheme != "http" && u.Scheme != "https" {
		return nil, invalidArg("Guests.InviteBaseURL", "scheme must be http or https")
	}
	if cfg.DefaultInviteDuration == 0 {
		cfg.DefaultInviteDuration = DefaultInviteDuration
	}
	if cfg.MinInviteDuration == 0 {
		cfg.MinInviteDuration = DefaultMinInviteDuration
	}
	if cfg.MaxInviteDuration == 0 {
		cfg.MaxInviteDuration = DefaultMaxInviteDuration
	}
	if cfg.LobbyTTL == 0 {
		cfg.LobbyTTL = DefaultLobbyTTL
	}
	switch {
	case cfg.MinInviteDuration < time.Second:
		return nil, invalidArg("Guests.MinInviteDuration", "must be at least 1s")
	case cfg.MaxInviteDuration < cfg.MinInviteDuration:
		return nil, invalidArg("Guests.MaxInviteDuration", "%s is below MinInviteDuration %s", cfg.MaxInviteDuration, cfg.MinInviteDuration)
	case cfg.DefaultInviteDuration < cfg.MinInviteDuration || cfg.DefaultInviteDuration > cfg.MaxInviteDuration:
		return nil, invalidArg("Guests.DefaultInviteDuration", "must lie between MinInviteDuration and MaxInviteDuration")
	case cfg.LobbyTTL < time.Minute:
		return nil, invalidArg("Guests.LobbyTTL", "must be at least 1m")
	}
	// Clone the keys: the caller's slices must not change ours later.
	cfg.Keys = slices.Clone(cfg.Keys)
	for i := range cfg.Keys {
		cfg.Keys[i].Key = bytes.Clone(cfg.Keys[i].Key)
	}
	mac := hmac.New(sha256.New, []byte(apiSecret))
	mac.Write([]byte("lkgate/lobby-names/v1"))
	return &guests{cfg: cfg, baseURL: strings.TrimRight(cfg.InviteBaseURL, "/"), lobbyKey: mac.Sum(nil)}, nil
}

var errGuestsOff = &Error{Kind: ErrNotConfigured, Msg: "guests are not configured (Config.Guests)"}

// Sealed token types: an invite cannot be used as a pass, nor the reverse.
const (
	sealedInvite = "lkgate.invite"
	sealedPass   = "lkgate.guest-pass"
	sealedIssuer = "lkgate"
)

// sealed is the encrypted body of an invite (Typ sealedInvite) and of a
// waiting guest's admission pass (Typ sealedPass, Sub the guest identity).
type sealed struct {
	Typ      string   `json:"typ"`
	Iss      string   `json:"iss"`
	Org      string   `json:"org"`
	Room     string   `json:"room"`
	Sub      string   `json:"sub,omitempty"`
	AllowAll bool     `json:"allowAll,omitempty"`
	Admins   []string `json:"admins,omitempty"`
	Iat      int64    `json:"iat"`
	// Exp is a pointer so that a missing exp is told apart from zero.
	Exp *int64 `json:"exp"`
	Jti string `json:"jti"`
}

// seal encrypts c as a compact JWE with dir + A256GCM under Keys[0].
func (g *guests) seal(c sealed) (string, error) {
	k := g.cfg.Keys[0]
	enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.DIRECT, Key: k.Key, KeyID: k.ID}, nil)
	if err != nil {
		return "", err
	}
	plain, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	obj, err := enc.Encrypt(plain)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

// open decrypts and checks a sealed token of type typ. Every failure is
// ErrInvalidArgument on field: the message says "expired" only once the
// token has proved authentic, so it is no oracle for forgers.
func (g *guests) open(field, token, typ string, now time.Time) (*sealed, error) {
	bad := invalidArg(field, "is not a valid invite")
	if token == "" {
		return nil, invalidArg(field, "is required")
	}
	if len(token) > MaxInviteTokenBytes {
		return nil, invalidArg(field, "is %d bytes long; the limit is %d", len(token), MaxInviteTokenBytes)
	}
	// Compact serialization only, with allow-lists: the JSON form and
	// every other algorithm are refused before any key is touched.
	obj, err := jose.ParseEncryptedCompact(token, []jose.KeyAlgorithm{jose.DIRECT}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		return nil, bad
	}
	i := slices.IndexFunc(g.cfg.Keys, func(k InviteKey) bool { return k.ID == obj.Header.KeyID })
	if i < 0 {
		return nil, bad
	}
	plain, err := obj.Decrypt(g.cfg.Keys[i].Key)
	if err != nil {
		return nil, bad
	}
	var c sealed
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || dec.More() {
		return nil, bad
	}
	if c.Typ != typ || c.Iss != sealedIssuer || c.Exp == nil || c.Room == "" {
		return nil, bad
	}
	if !now.Before(time.Unix(*c.Exp, 0)) {
		return nil, invalidArg(field, "has expired")
	}
	return &c, nil
}

// InviteRequest describes a guest invite.
type InviteRequest struct {
	// Org is the tenant the invite is for. Empty means the caller's
	// tenant; with a tenant, any other Org is refused (ErrForbidden). In
	// unauthenticated mode it is recorded as given (empty means the
	// guest's room is not ownership-checked either).
	Org string
	// Room is the room the guest may be admitted to. Required.
	Room string
	// Duration is how long the invite can be redeemed. Zero means
	// GuestConfig.DefaultInviteDuration; a duration outside
	// [MinInviteDuration, MaxInviteDuration], or negative, is refused.
	Duration time.Duration
	// AllowAll lets every admin of the tenant admit or deny the guest.
	AllowAll bool
	// AllowedAdmins are the subjects who may admit or deny the guest when
	// AllowAll is false. Empty means the inviting subject alone (the
	// caller's WithSubject); a caller without a subject must then name
	// the admins or set AllowAll (ErrInvalidArgument on AllowedAdmins).
	AllowedAdmins []string
}

// Invite is a guest invite.
type Invite struct {
	// URL is InviteBaseURL + "/join?invite_token=" + Token. Treat it as a
	// secret: it is the guest's credential until it expires.
	URL string
	// Token is the encrypted invite (a compact JWE).
	Token     string
	ExpiresAt time.Time
}

// String describes the invite without its URL and token, which are the
// guest's credential. It and the methods below have value receivers, so
// that an Invite prints without them by value or by pointer, alone or
// inside another value.
func (i Invite) String() string {
	return fmt.Sprintf("lkgate.Invite{URL: [REDACTED], Token: [REDACTED], ExpiresAt: %s}", i.ExpiresAt.Format(time.RFC3339))
}

// GoString is String, so that %#v does not print the token either.
func (i Invite) GoString() string { return i.String() }

// Format prints String for every verb, so that none reaches the token.
func (i Invite) Format(f fmt.State, verb rune) { formatRedacted(f, verb, i.String()) }

// LogValue logs the invite without its URL and token.
func (i Invite) LogValue() slog.Value {
	return slog.GroupValue(slog.String("url", "[REDACTED]"), slog.String("token", "[REDACTED]"), slog.Time("expires_at", i.ExpiresAt))
}

// MarshalJSON encodes the invite without its URL and token, as LogValue
// logs it. To hand the invite to its guest, encode i.URL itself.
func (i Invite) MarshalJSON() ([]byte, error) { return marshalLogValue(i.LogValue()) }

// Invite creates a guest invite for req.Room on behalf of the caller's
// subject (WithSubject), who alone may admit the guest unless req names
// the admins or allows all. With a tenant, req.Org is the tenant or empty
// (ErrForbidden otherwise). Under ScopedNames it costs no
// LiveKit call. Under SharedNames the room must be the tenant's: it is
// created and claimed if missing, as for Token (one LiveKit call for a
// room the tenant owns), and another tenant's room is ErrNotFound.
//
// Errors: ErrNotConfigured without Config.Guests; ErrInvalidArgument (Field
// names the InviteRequest field) before any LiveKit call; ErrForbidden;
// ErrNotFound; ErrUnauthenticated; ErrLimited; LiveKit failures as for
// Token.
func (m *Manager) Invite(ctx context.Context, tenant string, req InviteRequest) (*Invite, error) {
	inv, err := m.invite(ctx, tenant, req)
	ev := AuditEvent{Tenant: tenant, Action: ActionGuestInvite, Room: req.Room}
	if inv != nil {
		ev.Details = map[string]string{"expires_at": inv.ExpiresAt.Format(time.RFC3339)}
	}
	m.audit(ctx, ev, err)
	return inv, err
}

func (m *Manager) invite(ctx context.Context, tenant string, req InviteRequest) (*Invite, error) {
	ctx, cancel := m.withDeadline(ctx)
	defer cancel()
	const op = "guest invite"
	if m.guests == nil {
		return nil, withContext(errGuestsOff, op, "")
	}
	ref, err := m.resolve(tenant, req.Room)
	if err != nil {
		return nil, withContext(err, op, req.Room)
	}
	if ref.checked() && req.Org == "" {
		req.Org = tenant
	}
	ttl, admins, err := m.validateInvite(req, SubjectFrom(ctx))
	if err != nil {
		return nil, withContext(err, op, req.Room)
	}
	if ref.checked() && req.Org != tenant {
		return nil, &Error{Kind: ErrForbidden, Op: op, Room: req.Room, Field: "Org", Msg: "must be your own tenant (or left out)"}
	}
	if err := m.allowFor(ctx, tenant, LimitInviteRate, func(l Limits) Rate { return l.InviteRate }); err != nil {
		return nil, withContext(err, op, req.Room)
	}
	if m.cfg.RoomNames == SharedNames && ref.checked() {
		if err := m.prepareRoom(ctx, ref, false, nil); err != nil {
			return nil, withContext(masked(err), op, req.Room)
		}
	}
	now := m.now()
	exp := now.Add(ttl).Unix()
	tok, err := m.guests.seal(sealed{
		Typ: sealedInvite, Iss: sealedIssuer, Org: req.Org, Room: req.Room,
		AllowAll: req.AllowAll, Admins: admins,
		Iat: now.Unix(), Exp: &exp, Jti: randomID(),
	})
	if err != nil {
		return nil, &Error{Kind: ErrUpstream, Op: op, Room: req.Room, Msg: "encrypting the invite failed"}
	}
	m.log.InfoContext(ctx, "guest invite created", "tenant", tenant, "room", req.Room, "expires", time.Unix(exp, 0))
	return &Invite{
		URL:       m.guests.baseURL + "/join?" + url.Values{"invite_token": {tok}}.Encode(),
		Token:     tok,
		ExpiresAt: time.Unix(exp, 0).UTC(),
	}, nil
}

// validateInvite checks req and returns the invite's lifetime and its
// admins: req.AllowedAdmins, or subject when it names none and AllowAll is
// off.
func (m *Manager) validateInvite(req InviteRequest, subject string) (time.Duration, []string, error) {
	if err := validateOptionalText("Org", req.Org, MaxTenantBytes); err != nil {
		return 0, nil, err
	}
	if len(req.AllowedAdmins) > MaxAllowedAdmins {
		return 0, nil, invalidArg("AllowedAdmins", "has %d entries; the limit is %d", len(req.AllowedAdmins), MaxAllowedAdmins)
	}
	for _, a := range req.AllowedAdmins {
		if err := validateText("AllowedAdmins", a, MaxAdminBytes); err != nil {
			return 0, nil, err
		}
	}
	admins := slices.Clone(req.AllowedAdmins)
	if !req.AllowAll && len(admins) == 0 {
		// Never widened to every admin: a caller with no subject must say
		// who may admit.
		if subject == "" {
			return 0, nil, invalidArg("AllowedAdmins", "names nobody, not every admin is allowed, and the caller has no subject to default to: name the admins or allow all")
		}
		if err := validateText("AllowedAdmins", subject, MaxAdminBytes); err != nil {
			return 0, nil, invalidArg("AllowedAdmins", "names nobody, and the caller's subject cannot stand in (an admin is a name of at most %d bytes): name the admins or allow all", MaxAdminBytes)
		}
		admins = []string{subject}
	}
	g := m.guests.cfg
	switch d := req.Duration; {
	case d < 0:
		return 0, nil, invalidArg("Duration", "must not be negative")
	case d == 0:
		return g.DefaultInviteDuration, admins, nil
	case d < g.MinInviteDuration:
		return 0, nil, invalidArg("Duration", "is below the minimum of %s (%d seconds)", g.MinInviteDuration, int64(g.MinInviteDuration/time.Second))
	case d > g.MaxInviteDuration:
		return 0, nil, invalidArg("Duration", "is above the maximum of %s (%d seconds)", g.MaxInviteDuration, int64(g.MaxInviteDuration/time.Second))
	}
	return req.Duration, admins, nil
}

// randomID returns 128 random bits as 26 lowercase base32 characters.
func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return encode32(b)
}

// encode32 is unpadded lowercase base32: safe in identities, room names and
// URLs, and free of look-alike case pairs.
func encode32(b []byte) string {
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}
