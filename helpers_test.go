package lkgate_test

import (
	"context"
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
// See newManagerOn.
func newManager(t *testing.T, cfg lkgate.Config) (*lkgate.Manager, *lkgatetest.Server) {
	t.Helper()
	return newManagerOn(t, lkgatetest.NewServer(t), cfg)
}

// newManagerOn returns a Manager on fake, closed when the test ends. Under
// SharedNames it returns once the Manager's first lease sweep is done and
// one more has run synchronously, with the fake's call counts reset: the
// sweeper's ListRooms then never lands in a test's count, and the Manager
// trusts its sweeps as of its clock's present.
func newManagerOn(t *testing.T, fake *lkgatetest.Server, cfg lkgate.Config) (*lkgate.Manager, *lkgatetest.Server) {
	t.Helper()
	if cfg.RoomNames == lkgate.SharedNames && cfg.Leases == nil {
		cfg.Leases = lkgate.NewMemoryLeaseStore(cfg.Now)
	}
	m := fake.NewManager(t, cfg)
	if cfg.RoomNames == lkgate.SharedNames {
		waitForSweep(t, m, fake, cfg.Leases)
	}
	return m, fake
}

// waitForSweep waits for the first sweep of m's background sweeper to
// complete, runs one more, and resets the fake's call counts.
func waitForSweep(t *testing.T, m *lkgate.Manager, fake *lkgatetest.Server, store lkgate.LeaseStore) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(5 * time.Second)
	for {
		last, err := store.LastSweep(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !last.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lease sweeper did not complete its first sweep")
		}
		time.Sleep(time.Millisecond)
	}
	if err := m.SweepLeases(ctx); err != nil {
		t.Fatal(err)
	}
	fake.ResetCalls()
}

// namings are the two room namings, for tests of behaviour both have.
var namings = []lkgate.RoomNaming{lkgate.ScopedNames, lkgate.SharedNames}

// forEachNaming runs test as one subtest per room naming.
func forEachNaming(t *testing.T, test func(t *testing.T, naming lkgate.RoomNaming)) {
	t.Helper()
	for _, naming := range namings {
		t.Run(naming.String(), func(t *testing.T) { test(t, naming) })
	}
}

// lkName is the LiveKit name of tenant's room under m's naming.
func lkName(t testing.TB, m *lkgate.Manager, tenant, room string) string {
	t.Helper()
	name, err := m.LiveKitRoom(tenant, room)
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// scoped is ScopedRoomName for names known to be valid.
func scoped(t testing.TB, tenant, room string) string {
	t.Helper()
	name, err := lkgate.ScopedRoomName(tenant, room)
	if err != nil {
		t.Fatal(err)
	}
	return name
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
