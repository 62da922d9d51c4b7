package lkgate_test

import (
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/livekit/protocol/auth"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

// fixedNow is the clock of tests that compare token times.
var fixedNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// newManager returns a Manager on a fresh fake, with cfg's optional fields.
func newManager(t *testing.T, cfg lkgate.Config) (*lkgate.Manager, *lkgatetest.Server) {
	t.Helper()
	fake := lkgatetest.NewServer(t)
	cfg.URL = fake.URL()
	cfg.APIKey = lkgatetest.APIKey
	cfg.APISecret = lkgatetest.APISecret
	m, err := lkgate.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m, fake
}

// adminClient is an SDK client with full admin rights on the fake.
func adminClient(fake *lkgatetest.Server) *lksdk.RoomServiceClient {
	return lksdk.NewRoomServiceClient(fake.URL(), lkgatetest.APIKey, lkgatetest.APISecret)
}

type decodedClaims struct {
	jwt.RegisteredClaims
	auth.ClaimGrants
}

// decode verifies a minted token's signature and returns its claims.
func decode(t *testing.T, token string) decodedClaims {
	t.Helper()
	var c decodedClaims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) {
		return []byte(lkgatetest.APISecret), nil
	}, jwt.WithValidMethods([]string{"HS256"}), jwt.WithoutClaimsValidation())
	if err != nil {
		t.Fatalf("token does not verify: %v", err)
	}
	return c
}

// steppedClock is a settable clock, safe for concurrent use.
type steppedClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *steppedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *steppedClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
