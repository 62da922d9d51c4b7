package lkgate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const sampleJWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"

func TestFromLiveKit(t *testing.T) {
	sipBusy, err := status.New(codes.Unavailable, "sip call failed").WithDetails(&livekit.SIPStatus{Code: livekit.SIPStatusCode_SIP_STATUS_BUSY_HERE})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      error
		kind    error
		sip     int
		msgPart string
	}{
		{"twirp not found", twirp.NewError(twirp.NotFound, "requested room does not exist"), ErrNotFound, 0, "requested room does not exist"},
		{"twirp invalid", twirp.NewError(twirp.InvalidArgument, "metadata size exceeds limits"), ErrInvalidArgument, 0, "metadata"},
		{"twirp precondition", twirp.NewError(twirp.FailedPrecondition, "remote unmute not enabled"), ErrConflict, 0, "remote unmute"},
		{"twirp permission", twirp.NewError(twirp.PermissionDenied, "refer refused"), ErrForbidden, 0, ""},
		{"twirp unavailable", twirp.NewError(twirp.Unavailable, "x"), ErrUnavailable, 0, ""},
		{"twirp unauthenticated", twirp.NewError(twirp.Unauthenticated, "permissions denied"), ErrUpstream, 0, "API key"},
		{"twirp internal", twirp.NewError(twirp.Internal, "boom"), ErrUpstream, 0, ""},
		{"grpc with SIP status", sipBusy.Err(), ErrUnavailable, 486, "sip call failed"},
		{"grpc not found", status.Error(codes.NotFound, "no trunk"), ErrNotFound, 0, ""},
		{"grpc deadline", status.Error(codes.DeadlineExceeded, "x"), ErrTimeout, 0, ""},
		{"grpc exists", status.Error(codes.AlreadyExists, "x"), ErrConflict, 0, ""},
		{"grpc permission", status.Error(codes.PermissionDenied, "x"), ErrForbidden, 0, ""},
		{"grpc unauthenticated", status.Error(codes.Unauthenticated, "x"), ErrUpstream, 0, "API key"},
		{"deadline", fmt.Errorf("wrapped: %w", context.DeadlineExceeded), ErrTimeout, 0, ""},
		{"transport wrapped in twirp", twirp.InternalErrorWith(&timeoutErr{}), ErrTimeout, 0, ""},
		{"plain", errors.New("weird"), ErrUpstream, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := fromLiveKit("op", "room", tt.in)
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, tt.kind) {
				t.Fatalf("fromLiveKit(%v) = %v, want kind %v", tt.in, err, tt.kind)
			}
			if e.SIPStatus != tt.sip || !strings.Contains(e.Msg, tt.msgPart) {
				t.Errorf("got sip=%d msg=%q", e.SIPStatus, e.Msg)
			}
			if errors.Unwrap(err) != tt.kind {
				t.Errorf("Unwrap exposes %v, want only the sentinel", errors.Unwrap(err))
			}
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestUpstreamTokensAreRedacted(t *testing.T) {
	in := twirp.NewError(twirp.Unauthenticated, "invalid token: "+sampleJWT+", error: expired")
	for _, in := range []error{in, twirp.NewError(twirp.Internal, "join failed for "+sampleJWT), errors.New(sampleJWT)} {
		if msg := fromLiveKit("op", "r", in).Error(); strings.Contains(msg, "eyJ") {
			t.Errorf("token leaked: %s", msg)
		}
	}
	for in, want := range map[string]string{
		"a " + sampleJWT + " b":                       "a [REDACTED] b",
		"jwe eyJhbGciOiJkaXIifQ..aXY.Y3Q.dGFn end":    "jwe [REDACTED] end",
		"header only eyJhbGciOiJIUzI1NiJ9, then text": "header only [REDACTED], then text",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOwnerOf(t *testing.T) {
	tests := []struct {
		metadata string
		owner    string
		state    ownerState
	}{
		{"", "", unowned},
		{"{}", "", unowned},
		{`{"topic":"x"}`, "", unowned},
		{`{"auth_id":"acme"}`, "acme", owned},
		{`{"auth_id":"acme","topic":"x"}`, "acme", owned},
		{`{"auth_id":""}`, "", unowned},
		{`{"auth_id":null}`, "", unowned},
		{`{"auth_id":7}`, "", unclaimable},
		{`not json`, "", unclaimable},
		{`[]`, "", unclaimable},
		{`null`, "", unclaimable},
		{`"auth_id"`, "", unclaimable},
	}
	for _, tt := range tests {
		owner, state := ownerOf(tt.metadata)
		if owner != tt.owner || state != tt.state {
			t.Errorf("ownerOf(%q) = %q, %v; want %q, %v", tt.metadata, owner, state, tt.owner, tt.state)
		}
	}
}

func TestMetadataWithOwner(t *testing.T) {
	got, err := metadataWithOwner(`{"b":1,"a":{"x":[true]},"auth_id":"old"}`, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":{"x":[true]},"auth_id":"acme","b":1}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if _, err := metadataWithOwner("text", "acme"); !errors.Is(err, ErrConflict) {
		t.Errorf("non-JSON metadata: %v", err)
	}
	big := `{"k":"` + strings.Repeat("x", MaxRoomMetadataBytes) + `"}`
	if _, err := metadataWithOwner(big, "acme"); !errors.Is(err, ErrConflict) {
		t.Errorf("oversized metadata: %v", err)
	}
}

func FuzzMetadataWithOwner(f *testing.F) {
	for _, s := range []string{"", "{}", `{"auth_id":"x"}`, `{"a":1}`, "[]", "null", `{"auth_id":1}`} {
		f.Add(s, "acme")
	}
	f.Fuzz(func(t *testing.T, metadata, tenant string) {
		out, err := metadataWithOwner(metadata, tenant)
		if err != nil || validateText("tenant", tenant, MaxTenantBytes) != nil {
			return // every caller passes a validated tenant
		}
		if owner, state := ownerOf(out); tenant != "" && (state != owned || owner != tenant) {
			t.Fatalf("ownerOf(metadataWithOwner(%q, %q)) = %q, %v", metadata, tenant, owner, state)
		}
	})
}

func TestLocalLocker(t *testing.T) {
	l := NewLocalLocker().(*localLocker)
	var inside, maxInside atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			unlock, err := l.Lock(context.Background(), "k")
			if err != nil {
				t.Error(err)
				return
			}
			n := inside.Add(1)
			if n > maxInside.Load() {
				maxInside.Store(n)
			}
			time.Sleep(time.Millisecond)
			inside.Add(-1)
			unlock()
			unlock() // a second call is harmless
		})
	}
	wg.Wait()
	if maxInside.Load() != 1 {
		t.Errorf("%d holders at once", maxInside.Load())
	}

	unlock, _ := l.Lock(context.Background(), "k")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.Lock(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lock on a held key = %v, want deadline exceeded", err)
	}
	other, err := l.Lock(context.Background(), "other")
	if err != nil {
		t.Fatalf("other key blocked: %v", err)
	}
	other()
	unlock()
	if len(l.held) != 0 {
		t.Errorf("%d lock entries left behind", len(l.held))
	}
}

func BenchmarkMetadataWithOwner(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := metadataWithOwner(`{"topic":"weekly sync","color":"#ff8800","tags":["eng","all-hands"]}`, "acme"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOwnerOf(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, state := ownerOf(`{"auth_id":"acme","topic":"weekly sync","color":"#ff8800"}`); state != owned {
			b.Fatal(state)
		}
	}
}

// BenchmarkSignToken is the floor of a token request: building the claims
// and signing them (HMAC-SHA256 over their JSON).
func BenchmarkSignToken(b *testing.B) {
	b.ReportAllocs()
	now := time.Now()
	req := TokenRequest{Room: "standup", Identity: "alice", Name: "Alice"}
	s := newSigner(strings.Repeat("s", 36))
	for b.Loop() {
		c := tokenClaims("devkey", "acme", "t4_acme_standup", RoomOptions{}, req, now, 10*time.Minute)
		if _, err := s.sign(&c); err != nil {
			b.Fatal(err)
		}
	}
}

// mayName must never skip a room the tenant owns, however the owner is
// encoded.
func TestMayNameNeverSkipsAnOwner(t *testing.T) {
	for _, tt := range []struct{ metadata, tenant string }{
		{`{"auth_id":"acme"}`, "acme"},
		{`{"auth_id":"\u0061cme"}`, "acme"},
		{`{"auth_id":"a\"b"}`, `a"b`},
		{`{"auth_id":"\u003ctag\u003e"}`, "<tag>"},
		{`{"auth_id":"ünï"}`, "ünï"},
		{"{\"auth_id\":\"a\xffb\"}", "a\uFFFDb"},
	} {
		owner, state := ownerOf(tt.metadata)
		if state != owned || owner != tt.tenant {
			t.Fatalf("bad case %q", tt.metadata)
		}
		if !mayName(tt.metadata, tt.tenant) {
			t.Errorf("mayName(%q, %q) skips the owner", tt.metadata, tt.tenant)
		}
	}
	if mayName(`{"auth_id":"globex"}`, "acme") {
		t.Error("mayName does not skip another tenant's room")
	}
}

func FuzzMayName(f *testing.F) {
	f.Add(`{"auth_id":"acme"}`, "acme")
	f.Add(`{"auth_id":"\u0061cme"}`, "acme")
	f.Add("{\"auth_id\":\"a\xffb\"}", "a\uFFFDb")
	f.Fuzz(func(t *testing.T, metadata, tenant string) {
		if owner, state := ownerOf(metadata); state == owned && owner == tenant && !mayName(metadata, tenant) {
			t.Fatalf("mayName(%q, %q) skips the owner", metadata, tenant)
		}
	})
}

// ownsPlain is a shortcut: it must agree with the full parse wherever it
// answers yes.
func FuzzOwnsPlain(f *testing.F) {
	f.Add(`{"auth_id":"acme"}`, "acme")
	f.Add(`{"auth_id":"a"b"}`, `a"b`)
	f.Add(`{"auth_id":"a\b"}`, `a\b`)
	f.Fuzz(func(t *testing.T, metadata, tenant string) {
		if validateText("tenant", tenant, MaxTenantBytes) != nil || !ownsPlain(metadata, tenant) {
			return
		}
		if owner, state := ownerOf(metadata); state != owned || owner != tenant {
			t.Fatalf("ownsPlain(%q, %q) but the parse says %q, %v", metadata, tenant, owner, state)
		}
	})
}

func TestOwnsPlain(t *testing.T) {
	for _, tt := range []struct {
		metadata, tenant string
		want             bool
	}{
		{`{"auth_id":"acme"}`, "acme", true},
		{`{"auth_id":"acme"}`, "acm", false},
		{`{"auth_id":"acme","x":1}`, "acme", false},
		{`{"auth_id":"a"b"}`, `a"b`, false},
		{`{"auth_id":"a\"}`, `a\`, false},
	} {
		if got := ownsPlain(tt.metadata, tt.tenant); got != tt.want {
			t.Errorf("ownsPlain(%q, %q) = %v", tt.metadata, tt.tenant, got)
		}
	}
}

// BenchmarkInvite measures sealing and opening an invite (JWE, dir +
// A256GCM), with no LiveKit involved.
func BenchmarkInvite(b *testing.B) {
	cfg, err := GuestConfig{Keys: []InviteKey{{ID: "k1", Key: make([]byte, InviteKeyBytes)}}, InviteBaseURL: "https://app.example"}.resolved()
	if err != nil {
		b.Fatal(err)
	}
	g := &Guests{cfg: cfg}
	now := time.Now()
	exp := now.Add(time.Hour).Unix()
	claims := sealed{Typ: sealedInvite, Iss: sealedIssuer, Org: "acme", Room: "standup", Admins: []string{"alice", "bob"}, Iat: now.Unix(), Exp: &exp, Jti: "j"}
	token, err := g.seal(claims)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("seal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := g.seal(claims); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("open", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := g.open("inviteToken", token, sealedInvite, now); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestSIPError(t *testing.T) {
	withSIP := func(code codes.Code, sip livekit.SIPStatusCode) error {
		st, err := status.New(code, "INVITE failed").WithDetails(&livekit.SIPStatus{Code: sip})
		if err != nil {
			t.Fatal(err)
		}
		return st.Err()
	}
	tests := []struct {
		name string
		op   string
		in   error
		kind error
		sip  int
	}{
		{"busy", "call", withSIP(codes.Unavailable, livekit.SIPStatusCode_SIP_STATUS_BUSY_HERE), ErrBusy, 486},
		{"busy everywhere", "call", withSIP(codes.ResourceExhausted, livekit.SIPStatusCode_SIP_STATUS_GLOBAL_BUSY_EVERYWHERE), ErrBusy, 600},
		{"declined", "call", withSIP(codes.Unavailable, livekit.SIPStatusCode_SIP_STATUS_GLOBAL_DECLINE), ErrDeclined, 603},
		{"forbidden INVITE", "call", withSIP(codes.PermissionDenied, livekit.SIPStatusCode_SIP_STATUS_FORBIDDEN), ErrDeclined, 403},
		{"temporarily unavailable", "call", withSIP(codes.Unavailable, livekit.SIPStatusCode_SIP_STATUS_TEMPORARILY_UNAVAILABLE), ErrNoAnswer, 480},
		{"not found far end", "call", withSIP(codes.NotFound, livekit.SIPStatusCode_SIP_STATUS_NOTFOUND), ErrCallFailed, 404},
		{"ringing timeout", "call", twirp.NewError(twirp.Canceled, "twirp error unknown: canceled"), ErrNoAnswer, 0},
		{"unknown trunk", "call", twirp.NewError(twirp.NotFound, "twirp error unknown: requested sip trunk does not exist"), ErrNotConfigured, 0},
		{"not connected", "call", twirp.NewError(twirp.Internal, "sip not connected (redis required)"), ErrNotConfigured, 0},
		{"our deadline", "call", fmt.Errorf("twirp: %w", context.DeadlineExceeded), ErrTimeout, 0},
		{"refer refused", "transfer call", twirp.NewError(twirp.PermissionDenied, "twirp error unknown: SIP REFER was denied"), ErrTransferRefused, 0},
		{"refer refused with status", "transfer call", withSIP(codes.PermissionDenied, livekit.SIPStatusCode_SIP_STATUS_FORBIDDEN), ErrTransferRefused, 403},
		{"notify failed", "transfer call", twirp.NewError(twirp.Canceled, "twirp error unknown: call transfer failed"), ErrTransferFailed, 0},
		{"refer unanswered", "transfer call", twirp.NewError(twirp.DeadlineExceeded, "twirp error unknown: deadline exceeded"), ErrTransferFailed, 0},
		{"participant gone", "transfer call", twirp.NewError(twirp.NotFound, "participant does not exist"), ErrNotFound, 0},
		{"transfer unavailable", "transfer call", twirp.NewError(twirp.Unavailable, "x"), ErrUnavailable, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := sipError(tc.op, "r", tc.in)
			var e *Error
			if !errors.Is(err, tc.kind) || !errors.As(err, &e) || e.SIPStatus != tc.sip {
				t.Errorf("sipError = %v (%+v), want %v with SIP status %d", err, e, tc.kind, tc.sip)
			}
		})
	}
}

func TestTransferTarget(t *testing.T) {
	for in, want := range map[string]string{
		"+4930123456":                   "tel:+4930123456",
		"tel:+4930123456":               "tel:+4930123456",
		"TEL:+4930123456":               "tel:+4930123456",
		"sip:desk@pbx.example":          "sip:desk@pbx.example",
		"sips:desk@pbx.example:5061":    "sips:desk@pbx.example:5061",
		"sip:+4930@10.0.0.1;user=phone": "sip:+4930@10.0.0.1;user=phone",
	} {
		if got, _, err := (TransferRequest{TransferTo: in}).validate(); err != nil || got != want {
			t.Errorf("TransferRequest.validate(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "4930", "tel:4930", "tel:+49 30", "sip:", "sip:a@", "sip:a@b c", "sip:a@b>x", "<sip:a@b>", "sip:a@b\r\nX: y", "mailto:a@b", "sip:" + strings.Repeat("a", 300) + "@b"} {
		if _, _, err := (TransferRequest{TransferTo: bad}).validate(); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("TransferRequest.validate(%q) accepted", bad)
		}
	}
}

func TestSchemeSwaps(t *testing.T) {
	for in, want := range map[string]string{
		"http://h:7880": "ws://h:7880", "https://h": "wss://h", "wss://h": "wss://h", "ws://h": "ws://h",
	} {
		if got := toWebSocketURL(in); got != want {
			t.Errorf("toWebSocketURL(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"ws://h:7880": "http://h:7880", "wss://h": "https://h", "https://h": "https://h", "http://h": "http://h",
	} {
		if got := toHTTPURL(in); got != want {
			t.Errorf("toHTTPURL(%q) = %q, want %q", in, got, want)
		}
	}
}
