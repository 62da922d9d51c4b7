package lkgate

import (
	"bytes"
	"cmp"
	"crypto/rand"
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

// GuestConfig configures the guests of one [Guests]. Keys and
// InviteBaseURL are required; every other zero value means its default.
type GuestConfig struct {
	// Keys encrypt and decrypt invites and the admission pass each waiting
	// guest carries. Keys[0] encrypts; every key decrypts. To rotate, put
	// the new key first and keep the old one until the invites and passes
	// it encrypted have expired (MaxInviteDuration, LobbyTTL).
	Keys []InviteKey
	// InviteBaseURL is the address of the host's guest page; an invite URL
	// is InviteBaseURL + "/join?invite_token=<token>".
	InviteBaseURL string
	// DefaultInviteDuration is an invite's lifetime when the request gives
	// none. Zero means [DefaultInviteDuration].
	DefaultInviteDuration time.Duration
	// MinInviteDuration and MaxInviteDuration bound the lifetime a request
	// may ask for: [Guests.Invite] refuses one outside them
	// ([ErrInvalidArgument] on Duration, naming the limit) rather than
	// change it. Zero means [DefaultMinInviteDuration] and
	// [DefaultMaxInviteDuration].
	MinInviteDuration time.Duration
	MaxInviteDuration time.Duration
	// LobbyTTL is how long a guest may wait for admission: the lifetime of
	// its admission pass, counted from [Guests.RoomAuth]. A guest still
	// waiting once its pass has expired can no longer be admitted. Zero
	// means [DefaultLobbyTTL].
	LobbyTTL time.Duration
}

// Guests invites guests who have no account and lets a tenant's admins
// admit or deny them from their lobbies (see the package tour). Build it
// with [NewGuests]; it is safe for concurrent use.
type Guests struct {
	m       *Manager
	cfg     GuestConfig // defaults filled in, keys cloned
	baseURL string
}

// Manager returns the Manager g was built from.
func (g *Guests) Manager() *Manager { return g.m }

// NewGuests validates cfg and returns the guests of m, using m's limits
// ([Limits.InviteRate], [Limits.GuestWaitRate] and the waiting caps). It
// makes no network call. Errors wrap [ErrInvalidArgument] and name the
// faulty GuestConfig field, or "Manager" for a nil m.
func NewGuests(m *Manager, cfg GuestConfig) (*Guests, error) {
	if m == nil {
		return nil, invalidArg("Manager", "is required")
	}
	cfg, err := cfg.resolved()
	if err != nil {
		return nil, err
	}
	m.addSecrets("", cfg.Keys...) // [Manager.Redact] hides them from now on
	return &Guests{m: m, cfg: cfg, baseURL: strings.TrimRight(cfg.InviteBaseURL, "/")}, nil
}

// resolved validates cfg and returns it with its defaults filled in and its
// keys cloned, so that the caller's slices cannot change them later.
func (cfg GuestConfig) resolved() (GuestConfig, error) {
	if len(cfg.Keys) == 0 {
		return cfg, invalidArg("GuestConfig.Keys", "is required: at least one key encrypts the invites")
	}
	seen := map[string]bool{}
	for i, k := range cfg.Keys {
		field := fmt.Sprintf("GuestConfig.Keys[%d]", i)
		if k.ID == "" || len(k.ID) > maxKeyIDBytes || strings.ContainsFunc(k.ID, isControlOrSpace) {
			return cfg, invalidArg(field+".ID", "must be 1 to %d printable bytes without spaces", maxKeyIDBytes)
		}
		if seen[k.ID] {
			return cfg, invalidArg(field+".ID", "%q is used twice", k.ID)
		}
		seen[k.ID] = true
		if len(k.Key) != InviteKeyBytes {
			return cfg, invalidArg(field+".Key", "is %d bytes long; it must be %d random bytes", len(k.Key), InviteKeyBytes)
		}
	}
	if err := validateURL("GuestConfig.InviteBaseURL", cfg.InviteBaseURL); err != nil {
		return cfg, err
	}
	if u, _ := url.Parse(cfg.InviteBaseURL); u.Scheme != "http" && u.Scheme != "https" {
		return cfg, invalidArg("GuestConfig.InviteBaseURL", "scheme must be http or https")
	}
	cfg.DefaultInviteDuration = cmp.Or(cfg.DefaultInviteDuration, DefaultInviteDuration)
	cfg.MinInviteDuration = cmp.Or(cfg.MinInviteDuration, DefaultMinInviteDuration)
	cfg.MaxInviteDuration = cmp.Or(cfg.MaxInviteDuration, DefaultMaxInviteDuration)
	cfg.LobbyTTL = cmp.Or(cfg.LobbyTTL, DefaultLobbyTTL)
	switch {
	case cfg.MinInviteDuration < time.Second:
		return cfg, invalidArg("GuestConfig.MinInviteDuration", "must be at least 1s")
	case cfg.MaxInviteDuration < cfg.MinInviteDuration:
		return cfg, invalidArg("GuestConfig.MaxInviteDuration", "%s is below MinInviteDuration %s", cfg.MaxInviteDuration, cfg.MinInviteDuration)
	case cfg.DefaultInviteDuration < cfg.MinInviteDuration || cfg.DefaultInviteDuration > cfg.MaxInviteDuration:
		return cfg, invalidArg("GuestConfig.DefaultInviteDuration", "must lie between MinInviteDuration and MaxInviteDuration")
	case cfg.LobbyTTL < time.Minute:
		return cfg, invalidArg("GuestConfig.LobbyTTL", "must be at least 1m")
	}
	cfg.Keys = slices.Clone(cfg.Keys)
	for i := range cfg.Keys {
		cfg.Keys[i].Key = bytes.Clone(cfg.Keys[i].Key)
	}
	return cfg, nil
}

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
func (g *Guests) seal(c sealed) (string, error) {
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
func (g *Guests) open(field, token, typ string, now time.Time) (*sealed, error) {
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
