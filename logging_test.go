package lkgate_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twitchtv/twirp"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/lkgatetest"
	"github.com/lkgate/lkgate/redislimit"
	"github.com/lkgate/lkgate/redislock"
)

// printedForms are the ways a value reaches a log or a terminal: every fmt
// verb that prints a struct's fields, and slog's text and JSON handlers,
// both as an attribute of its own and inside another value (wire formats,
// whose JSON carries their token, only as an attribute of their own).
func printedForms(v any, wire bool) []string {
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		out = append(out, verb+" "+fmt.Sprintf(verb, v))
	}
	for _, h := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var b bytes.Buffer
		if wire {
			slog.New(h(&b)).Info("value", "v", v)
		} else {
			slog.New(h(&b)).Info("value", "v", v, "nested", struct{ V any }{v}, "list", []any{v})
		}
		out = append(out, b.String())
	}
	return out
}

// spellings are the forms in which a secret would show: as it is, and
// as fmt prints bytes and strings under %x, %X and %d.
func spellings(secret string) []string {
	return []string{secret, hex.EncodeToString([]byte(secret)), strings.ToUpper(hex.EncodeToString([]byte(secret))),
		strings.Trim(fmt.Sprint([]byte(secret)), "[]"), base64.StdEncoding.EncodeToString([]byte(secret))}
}

// The API secret, every JWT, invites and invite keys, API keys and Redis
// passwords never print, by value or by pointer, alone or inside other
// values, under any fmt verb or slog handler; the API key may (every
// client token carries it as its issuer).
func TestSecretNeverPrinted(t *testing.T) {
	key := lkgate.InviteKey{ID: "k1", Key: []byte("invite-key-hunter2-0123456789abc")}
	guests := lkgate.GuestConfig{Keys: []lkgate.InviteKey{key}, InviteBaseURL: "https://app.example"}
	m, _ := newManager(t, lkgate.Config{})
	ctx := lkgate.WithSubject(context.Background(), "host")
	tok, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: "r", Identity: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := newGuests(t, m, guests).Invite(ctx, "acme", lkgate.InviteRequest{Room: "r"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := lkgate.Config{URL: "http://127.0.0.1:7880", APIKey: lkgatetest.APIKey, APISecret: lkgatetest.APISecret}
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", Password: "redis-password-hunter2"})
	defer rdb.Close()
	limits, err := redislimit.New(redislimit.Config{Client: rdb})
	if err != nil {
		t.Fatal(err)
	}
	keys := httpx.StaticKeysConfig{Keys: map[string]httpx.Principal{"api-key-hunter2-0123456789": {Tenant: "acme", Permissions: httpx.AllPermissions}}}

	jwtParts := strings.Split(tok.JWT, ".")
	invParts := strings.Split(inv.Token, ".")
	secrets := map[string]string{
		"API secret":       lkgatetest.APISecret,
		"JWT":              tok.JWT,
		"JWT signature":    jwtParts[2],
		"invite":           inv.Token,
		"invite URL":       inv.URL,
		"invite sealed":    invParts[3],
		"invite key":       string(key.Key),
		"static API key":   "api-key-hunter2-0123456789",
		"Redis password":   "redis-password-hunter2",
		"any hunter2 text": "hunter2",
	}
	holders := map[string]any{
		"Config": cfg, "*Config": &cfg, "GuestConfig": guests, "*GuestConfig": &guests,
		"InviteKey": key, "*InviteKey": &key, "[]InviteKey": guests.Keys,
		"Token": *tok, "*Token": tok, "[]Token": []lkgate.Token{*tok}, "[]*Token": []*lkgate.Token{tok},
		"Invite": *inv, "*Invite": inv, "map of Invites": map[string]lkgate.Invite{"i": *inv},
		"struct of all": struct {
			T lkgate.Token
			I *lkgate.Invite
			C lkgate.Config
			K httpx.StaticKeysConfig
		}{*tok, inv, cfg, keys},
		// Only as a pointer: a Manager holds locks and is never copied
		// (vet's copylocks refuses *m).
		"*Manager":         m,
		"GuestSession":     lkgate.GuestSession{Token: tok, LobbyRoom: "l"},
		"StaticKeysConfig": keys, "*StaticKeysConfig": &keys,
		"redislimit.Config": redislimit.Config{Client: rdb}, "redislimit.Store": limits,
		"redislock.Config": redislock.Config{Client: rdb},
	}
	// Wire formats, whose JSON is what carries the credential to a client.
	wire := map[string]any{
		"AdmissionMessage":       lkgate.AdmissionMessage{Type: lkgate.AdmissionAdmit, Token: tok.JWT, URL: tok.URL, Room: "r"},
		"httpx.TokenResponse":    httpx.TokenResponse{Token: tok.JWT, ParticipantToken: tok.JWT, RoomName: "r"},
		"httpx.InviteResponse":   httpx.InviteResponse{InviteURL: inv.URL},
		"httpx.RoomAuthRequest":  httpx.RoomAuthRequest{InviteToken: inv.Token, GuestName: "g"},
		"httpx.RoomAuthResponse": httpx.RoomAuthResponse{LiveKitToken: tok.JWT, LobbyRoom: "l"},
	}
	for name, v := range wire {
		holders[name] = v
	}
	for name, v := range holders {
		_, isWire := wire[name]
		for _, out := range printedForms(v, isWire) {
			for what, secret := range secrets {
				for _, s := range spellings(secret) {
					if strings.Contains(out, s) {
						t.Errorf("%s printed its %s: %.300s", name, what, out)
					}
				}
			}
		}
	}
	for name, v := range map[string]slog.LogValuer{"Token": *tok, "*Token": tok, "Invite": *inv, "*Invite": inv, "InviteKey": key, "Config": cfg, "StaticKeysConfig": keys} {
		got := v.LogValue().String()
		for what, secret := range secrets {
			if strings.Contains(got, secret) {
				t.Errorf("%s.LogValue() shows its %s: %s", name, what, got)
			}
		}
	}
	// What is no secret still prints, so that the printouts stay useful.
	for _, want := range []string{fmt.Sprint(*tok), fmt.Sprintf("%+v", tok), fmt.Sprint(cfg)} {
		if !strings.Contains(want, `alice`) && !strings.Contains(want, lkgatetest.APIKey) {
			t.Errorf("printout lost its public fields: %s", want)
		}
	}
	if got := fmt.Sprint(cfg); !strings.Contains(got, "APIKey: "+lkgatetest.APIKey) {
		t.Errorf("Config prints %s, want its API key (an identifier)", got)
	}
}

// leakyText is what a failing store, policy or LiveKit might say: every
// secret-shaped string the log must not show, each marked hunter2 (the
// JWT's payload reads {"sub":"hunter2"}), and the Manager's own API secret.
const leakyText = `dial redis://lkgate:redispass-hunter2@10.0.0.7:6379: refused; secret=hunter2 password="pw hunter2" ` +
	`access_token=tok-hunter2 Authorization: Bearer bearer-hunter2 eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJodW50ZXIyIn0.c2ln ` + lkgatetest.APISecret

// leaked returns what of leakyText survives in s: a secret-shaped string,
// or the Manager's API secret.
func leaked(s string) []string {
	found := leakedShapes(s)
	if strings.Contains(s, lkgatetest.APISecret) {
		found = append(found, "the API secret")
	}
	return found
}

// leakedShapes returns the secret-shaped strings of leakyText that
// survive in s. Errors are redacted by shape only (Redact): the Manager's
// own secrets, which LiveKit never sends, are replaced in what the
// Manager and httpx write (Manager.Redact).
func leakedShapes(s string) []string {
	var found []string
	for _, secret := range []string{"hunter2", "eyJ", "aHVudGVyMi"} {
		if strings.Contains(s, secret) {
			found = append(found, secret)
		}
	}
	return found
}

// syncBuffer is a log sink for a Manager whose background work logs too.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type leakyLimits struct{ lkgate.LimitStore }

func (leakyLimits) Allow(context.Context, string, lkgate.Rate) (bool, time.Duration, error) {
	return false, 0, errors.New(leakyText)
}

type leakyLocker struct{}

func (leakyLocker) Lock(context.Context, string) (func(), error) { return nil, errors.New(leakyText) }

type leakyLeases struct {
	lkgate.LeaseStore
	sweep bool // fail the sweep's reads too
}

func (leakyLeases) Lease(context.Context, string, string, time.Time, time.Time) (string, error) {
	return "", errors.New(leakyText)
}

func (l leakyLeases) LastSweep(ctx context.Context) (time.Time, error) {
	if l.sweep {
		return time.Time{}, errors.New(leakyText)
	}
	return l.LeaseStore.LastSweep(ctx)
}

// Every store, lock, policy and LiveKit error is logged through one
// redacting helper: the line is there, with [REDACTED] where the secrets
// were, and the error returned carries none of them either.
func TestFailureLogsAreRedacted(t *testing.T) {
	token := func(m *lkgate.Manager) error {
		_, err := m.Token(context.Background(), "acme", lkgate.TokenRequest{Room: "r", Identity: "alice"})
		return err
	}
	dial := func(trunks lkgate.TrunkPolicy) func(m *lkgate.Manager) error {
		return func(m *lkgate.Manager) error {
			sip, err := lkgate.NewSIP(m, lkgate.SIPConfig{Trunks: trunks})
			if err != nil {
				return err
			}
			_, err = sip.Call(context.Background(), "acme", call("support", "+4930123456"))
			return err
		}
	}
	tests := []struct {
		name, line string
		cfg        lkgate.Config
		fault      func(fake *lkgatetest.Server)
		run        func(m *lkgate.Manager) error
	}{
		{name: "limit store", line: "limit store failed", run: token,
			cfg: lkgate.Config{Limits: lkgate.LimitConfig{Default: lkgate.Limits{TokenRate: lkgate.PerSecond(10, 10)}, Store: leakyLimits{}}}},
		{name: "lock", line: "lock failed", run: token,
			cfg: lkgate.Config{Locker: leakyLocker{}, Limits: lkgate.LimitConfig{Default: lkgate.Limits{MaxRooms: 5}}}},
		{name: "lease store", line: "lease store failed", run: token,
			cfg: lkgate.Config{RoomNames: lkgate.SharedNames, Leases: leakyLeases{LeaseStore: lkgate.NewMemoryLeaseStore(nil)}}},
		{name: "lease sweep", line: "lease store failed", run: func(m *lkgate.Manager) error { return m.SweepLeases(context.Background()) },
			cfg: lkgate.Config{RoomNames: lkgate.SharedNames, Leases: leakyLeases{LeaseStore: lkgate.NewMemoryLeaseStore(nil), sweep: true}}},
		{name: "trunk policy", line: "trunk policy failed",
			run: dial(lkgate.TrunkPolicyFunc(func(context.Context, string) (string, error) { return "", errors.New(leakyText) }))},
		// The injected error answers before the trunk is looked up.
		{name: "LiveKit", line: "call failed", run: dial(lkgate.StaticTrunk("ST_any")),
			fault: func(fake *lkgatetest.Server) {
				fake.SetError("CreateSIPParticipant", twirp.NewError(twirp.Internal, leakyText))
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs syncBuffer
			cfg := tt.cfg
			cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			fake := lkgatetest.NewServer(t)
			if tt.fault != nil {
				tt.fault(fake)
			}
			m := fake.NewManager(t, cfg)
			err := tt.run(m)
			if err == nil {
				t.Fatal("the operation succeeded; want it to fail")
			}
			if got := leakedShapes(err.Error()); len(got) > 0 {
				t.Errorf("the returned error carries %q: %s", got, err)
			}
			if got := leakedShapes(httpx.ProblemFor(err).Detail); len(got) > 0 {
				t.Errorf("the problem detail carries %q", got)
			}
			// The first failure of a kind is the one logged, and it may be a
			// background one (the lease sweeper's at start) still writing.
			want := `"msg":"` + tt.line
			log := logs.String()
			for deadline := time.Now().Add(2 * time.Second); !strings.Contains(log, want) && time.Now().Before(deadline); log = logs.String() {
				time.Sleep(5 * time.Millisecond)
			}
			if got := leaked(log); len(got) > 0 {
				t.Errorf("the log carries %q:\n%s", got, log)
			}
			if !strings.Contains(log, want) || !strings.Contains(log, "[REDACTED]") {
				t.Errorf("no redacted %q line in the log:\n%s", tt.line, log)
			}
		})
	}
}

// Redact catches each secret-shaped string on its own and keeps the rest.
func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln expired":              "token [REDACTED] expired",
		"connect redis://:pw@10.0.0.7:6379/0 refused":                          "connect redis://[REDACTED]@10.0.0.7:6379/0 refused",
		"GET https://user:pw@lk.example/x?access_token=abc&x=1":                "GET https://[REDACTED]@lk.example/x?access_token=[REDACTED]&x=1",
		"auth: secret=s3 password='p w' api_key=k, then":                       "auth: secret=[REDACTED] password=[REDACTED] api_key=[REDACTED], then",
		`{"client_secret": "s3", "room":"r"}`:                                  `{"client_secret": [REDACTED], "room":"r"}`,
		"Authorization: Bearer abc.def-1 rest":                                 "Authorization: Bearer [REDACTED] rest",
		"GET /rtc?access_token=eyJhbGciOiJIUzI1NiJ9.e30.c2ln&auto_subscribe=1": "GET /rtc?access_token=[REDACTED]&auto_subscribe=1",
		"the token has expired; key not found":                                 "the token has expired; key not found",
	} {
		if got := lkgate.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// An outage writes one line at once and then, per 10 s, one line per
// kind with the count, instead of a line per failure.
func TestFailureLogIsAggregated(t *testing.T) {
	var logs syncBuffer
	clock := lkgatetest.NewClock(fixedNow)
	m, _ := newManager(t, lkgate.Config{Now: clock.Now, Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
		Limits: lkgate.LimitConfig{Default: lkgate.Limits{TokenRate: lkgate.PerSecond(10, 10)}, Store: leakyLimits{}}})
	token := func(n int) {
		for range n {
			if err := tokenFor(m, "acme", "r"); !errors.Is(err, lkgate.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
		}
	}
	lines := func() []map[string]any {
		var out []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var v map[string]any
			if err := json.Unmarshal([]byte(l), &v); err != nil {
				t.Fatal(err)
			}
			if v["msg"] == "limit store failed" {
				out = append(out, v)
			}
		}
		return out
	}
	token(500)
	if got := lines(); len(got) != 1 || got[0]["repeated"] != nil {
		t.Fatalf("%d lines for 500 failures in an instant, want 1", len(got))
	}
	clock.Advance(10 * time.Second)
	token(1)
	got := lines()
	if len(got) != 2 || got[1]["repeated"] != float64(499) || got[1]["limit"] != lkgate.LimitTokenRate {
		t.Fatalf("after 10 s: %v, want a second line counting the 499 others", got)
	}
	if l := leaked(fmt.Sprint(got)); len(l) > 0 {
		t.Errorf("the summary carries %q", l)
	}
}
