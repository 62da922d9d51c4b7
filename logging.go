package lkgate

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// What Redact treats as secret-shaped.
var (
	// jwtPattern matches anything shaped like a JWT (or a JWE's first
	// parts): LiveKit echoes the full token in some error messages.
	jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*)*`)
	// credentialPattern matches the value of a name=value (or "name":
	// "value") pair whose name says secret, password, token, key or
	// credential, as in a connection string, a query or a JSON body.
	credentialPattern = regexp.MustCompile(`(?i)([A-Za-z0-9_.-]*(?:secret|passw(?:or)?d|pwd|token|key|credential)[A-Za-z0-9_-]*(?:=|"\s*:\s*)\s*)("[^"]*"|'[^']*'|[^\s&,;"'}\]]+)`)
	// authPattern matches the credentials of an Authorization header.
	authPattern = regexp.MustCompile(`\b((?i:bearer)|Basic)(\s+)[A-Za-z0-9._~+/=-]+`)
	// userinfoPattern matches the user and password of a URL, such as
	// redis://:password@host.
	userinfoPattern = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/\s?#@]+@`)
)

// Redact returns s with every secret-shaped substring replaced by
// "[REDACTED]": JWTs (and JWEs, such as invites), the values of
// name=value pairs whose name says secret, password, token, key or
// credential, Bearer and Basic credentials, and the user and password of
// URLs. lkgate passes every upstream and store error text through it (and
// Manager.Redact) before logging it or putting it in an Error's Msg.
func Redact(s string) string {
	// Named values first: a JWT in one is redacted with the rest of it.
	s = credentialPattern.ReplaceAllString(s, "$1[REDACTED]")
	s = authPattern.ReplaceAllString(s, "$1$2[REDACTED]")
	s = jwtPattern.ReplaceAllString(s, "[REDACTED]")
	return userinfoPattern.ReplaceAllString(s, "$1[REDACTED]@")
}

// Redact returns s redacted as the package-level Redact does, and with
// the Manager's own secrets (its API secret, and the invite keys of every
// [NewGuests] on it, in base64 and hex) replaced by "[REDACTED]" wherever
// they appear. It is what the Manager and httpx apply to every error text
// they log.
func (m *Manager) Redact(s string) string {
	return Redact(m.secrets.Load().Replace(s))
}

// addSecrets makes Redact replace the API secret, and every invite key's
// spellings in base64 and hex. Each is added once, however many Guests
// share a key.
func (m *Manager) addSecrets(apiSecret string, keys ...InviteKey) {
	m.secretsMu.Lock()
	defer m.secretsMu.Unlock()
	secrets := []string{apiSecret}
	for _, k := range keys {
		secrets = append(secrets, base64.StdEncoding.EncodeToString(k.Key), base64.RawURLEncoding.EncodeToString(k.Key), hex.EncodeToString(k.Key))
	}
	for _, s := range secrets {
		if s != "" && !slices.Contains(m.secretPairs, s) {
			m.secretPairs = append(m.secretPairs, s, "[REDACTED]")
		}
	}
	m.secrets.Store(strings.NewReplacer(m.secretPairs...))
}

// logFailure logs a failed store, lock, policy or LiveKit call, redacted
// and aggregated per message and kind of error (see faillog).
func (m *Manager) logFailure(ctx context.Context, level slog.Level, msg string, err error, attrs ...slog.Attr) {
	m.failures.Failure(ctx, level, msg, errorClass(err), err, attrs...)
}

// errorClass is err's sentinel, or "" for an error that is no *Error (a
// store's or a policy's own).
func errorClass(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Kind != nil {
		return e.Kind.Error()
	}
	return ""
}

// storeFailed logs a failed limit or lease store and returns the
// ErrUnavailable callers see, which never carries the store's text: it
// may name hosts, keys or passwords.
func (m *Manager) storeFailed(ctx context.Context, store string, err error, attrs ...slog.Attr) *Error {
	m.logFailure(ctx, slog.LevelError, store+" failed", err, attrs...)
	return &Error{Kind: ErrUnavailable, Msg: "the " + store + " is unavailable"}
}

// formatRedacted is the Format method of the types that hold a secret:
// whatever the verb, it prints their String, quoted for %q.
func formatRedacted(f fmt.State, verb rune, s string) {
	if verb == 'q' {
		s = strconv.Quote(s)
	}
	_, _ = io.WriteString(f, s)
}

// marshalLogValue encodes a group from a LogValue method as a JSON
// object of its attributes' strings.
func marshalLogValue(v slog.Value) ([]byte, error) {
	obj := map[string]string{}
	for _, a := range v.Group() {
		obj[a.Key] = a.Value.String()
		if a.Value.Kind() == slog.KindTime {
			obj[a.Key] = a.Value.Time().Format(time.RFC3339Nano)
		}
	}
	return json.Marshal(obj)
}

// String describes the message without its token. AdmissionMessage is a
// wire format (the guest's client reads it as JSON), so its JSON carries
// the token; fmt and slog's LogValue do not.
func (a AdmissionMessage) String() string {
	return fmt.Sprintf("lkgate.AdmissionMessage{Type: %s, URL: %s, Room: %q, Token: [REDACTED]}", a.Type, a.URL, a.Room)
}

// GoString is String.
func (a AdmissionMessage) GoString() string { return a.String() }

// Format prints String for every verb.
func (a AdmissionMessage) Format(f fmt.State, verb rune) { formatRedacted(f, verb, a.String()) }

// LogValue logs the message without its token.
func (a AdmissionMessage) LogValue() slog.Value {
	return slog.GroupValue(slog.String("type", a.Type), slog.String("url", a.URL), slog.String("room", a.Room), slog.String("token", "[REDACTED]"))
}
