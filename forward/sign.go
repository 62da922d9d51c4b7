package forward

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lkgate/lkgate"
)

const (
	// SignatureHeader carries a delivery's signature:
	// "t=<unix seconds>,v1=<hex HMAC-SHA256>", the HMAC keyed with the
	// tenant's secret over the decimal timestamp, a ".", and the body.
	SignatureHeader = "Lkgate-Signature"
	// EventIDHeader carries LiveKit's event id, the same on every attempt
	// of a delivery: receivers dedupe on it.
	EventIDHeader = "Lkgate-Event-Id"
	// DefaultTolerance is how far a signature's timestamp may be from the
	// receiver's clock when Verify is given no tolerance.
	DefaultTolerance = 5 * time.Minute
	// MaxBodyBytes is the largest body Verify reads.
	MaxBodyBytes = 1 << 20
)

// Sign returns the [SignatureHeader] value for body sent at t under
// secret.
func Sign(secret, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify is what a receiver calls on each delivery: it reads r's body (at
// most [MaxBodyBytes]) and returns it if its [SignatureHeader] was made
// with secret no further than tolerance (zero: [DefaultTolerance]) from
// now. The body is the tenant's event in LiveKit's webhook JSON
// (protojson of livekit.WebhookEvent). Errors wrap
// [lkgate.ErrUnauthenticated] for an empty secret and a missing, malformed,
// stale or wrong signature, and [lkgate.ErrInvalidArgument] for a body
// that is too large or cannot be read.
func Verify(r *http.Request, secret []byte, tolerance time.Duration) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &lkgate.Error{Kind: lkgate.ErrInvalidArgument, Op: "verify delivery", Msg: "the body is too large"}
		}
		return nil, &lkgate.Error{Kind: lkgate.ErrInvalidArgument, Op: "verify delivery", Msg: "the body cannot be read"}
	}
	if err := VerifySignature(secret, body, r.Header.Get(SignatureHeader), time.Now(), tolerance); err != nil {
		return nil, err
	}
	return body, nil
}

// VerifySignature checks a [SignatureHeader] value against body as
// [Verify] does, at now; for receivers that read the body themselves.
func VerifySignature(secret, body []byte, header string, now time.Time, tolerance time.Duration) error {
	refuse := func(msg string) error {
		return &lkgate.Error{Kind: lkgate.ErrUnauthenticated, Op: "verify delivery", Msg: msg}
	}
	if len(secret) == 0 {
		return refuse("no secret to verify with")
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			if sig, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, sig)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return refuse("the " + SignatureHeader + " header is missing or malformed")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return refuse("the signature's timestamp is outside the tolerance")
	}
	want := mac(secret, ts, body)
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			return nil
		}
	}
	return refuse("the signature does not match")
}
