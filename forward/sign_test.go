package forward_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/forward"
)

func TestVerifyRefusesTampering(t *testing.T) {
	secret, body := []byte("s3cret"), []byte(`{"event":"room_started"}`)
	now := time.Unix(1700000000, 0)
	sig := forward.Sign(secret, body, now)
	if err := forward.VerifySignature(secret, body, sig, now.Add(time.Minute), 0); err != nil {
		t.Fatalf("a fresh signature: %v", err)
	}
	_, mac, _ := strings.Cut(sig, ",")
	for name, c := range map[string]struct {
		secret, body []byte
		header       string
		now          time.Time
	}{
		"tampered body":      {secret, []byte(`{"event":"room_finished"}`), sig, now},
		"tampered timestamp": {secret, body, "t=1700000100," + mac, now},
		"stale":              {secret, body, sig, now.Add(forward.DefaultTolerance + time.Second)},
		"from the future":    {secret, body, sig, now.Add(-forward.DefaultTolerance - time.Second)},
		"other secret":       {[]byte("other"), body, sig, now},
		"no secret":          {nil, body, sig, now},
		"no header":          {secret, body, "", now},
		"no timestamp":       {secret, body, mac, now},
	} {
		if err := forward.VerifySignature(c.secret, c.body, c.header, c.now, 0); !errors.Is(err, lkgate.ErrUnauthenticated) {
			t.Errorf("%s: VerifySignature = %v, want ErrUnauthenticated", name, err)
		}
	}
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)+" "))
	req.Header.Set(forward.SignatureHeader, forward.Sign(secret, body, time.Now()))
	if _, err := forward.Verify(req, secret, 0); !errors.Is(err, lkgate.ErrUnauthenticated) {
		t.Errorf("Verify of a changed body = %v, want ErrUnauthenticated", err)
	}
}
