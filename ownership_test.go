package lkgate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

func token(m *lkgate.Manager, tenant, room string) error {
	_, err := m.Token(context.Background(), tenant, lkgate.TokenRequest{Room: room, Identity: "id-" + tenant})
	return err
}

func roomMetadata(t *testing.T, fake *lkgatetest.Server, room string) map[string]any {
	t.Helper()
	r, ok := fake.Room(room)
	if !ok {
		t.Fatalf("room %q does not exist", room)
	}
	var md map[string]any
	if err := json.Unmarshal([]byte(r.Metadata), &md); err != nil {
		t.Fatalf("room metadata %q: %v", r.Metadata, err)
	}
	return md
}

// The tests in this file are about claims: room ownership through
// metadata, under SharedNames. Scoped names need none (naming_test.go).

func TestNewRoomIsCreatedAndClaimed(t *testing.T) {
	m, fake := newManager(t, lkgate.Config{RoomNames: lkgate.SharedNames, Room: lkgate.RoomOptions{EmptyTimeout: time.Minute, MaxParticipants: 5}})
	if err := token(m, "acme", "standup"); err != nil {
		t.Fatal(err)
	}
	calls := map[string]int{}
	for _, method := range []string{"ListRooms", "CreateRoom", "UpdateRoomMetadata", "ListParticipants"} {
		calls[method] = fake.Calls(method)
	}
	want := map[string]int{"ListRooms": 1, "CreateRoom": 1, "UpdateRoomMetadata": 1, "ListParticipants": 0}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("LiveKit calls for a new room (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{lkgate.OwnerKey: "acme"}, roomMetadata(t, fake, "standup")); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
	r, _ := fake.Room("standup")
	if r.EmptyTimeout != 60 || r.MaxParticipants != 5 {
		t.Errorf("room options not applied: empty_timeout=%d max_participants=%d", r.EmptyTimeout, r.MaxParticipants)
	}

	fake.ResetCalls()
	if err := token(m, "acme", "standup"); err != nil {
		t.Fatal(err)
	}
	if n := fake.TotalCalls(); n != 1 || fake.Calls("ListRooms") != 1 {
		t.Errorf("token for an owned room made %d LiveKit calls, want 1 ListRooms", n)
	}
}

func TestOtherTenantsRoomIsForbidden(t *testing.T) {
	m, fake := newManager(t, lkgate.Config{RoomNames: lkgate.SharedNames})
	if err := token(m, "acme", "standup"); err != nil {
		t.Fatal(err)
	}
	fake.ResetCalls()
	err := token(m, "globex", "standup")
	if !errors.Is(err, lkgate.ErrForbidden) {
		t.Fatalf("other tenant's token = %v, want ErrForbidden", err)
	}
	if fake.TotalCalls() != 1 {
		t.Errorf("refusal made %d calls, want 1", fake.TotalCalls())
	}
	if got := roomMetadata(t, fake, "standup")[lkgate.OwnerKey]; got != "acme" {
		t.Errorf("owner changed to %v", got)
	}
}

func TestClaimKeepsOtherMetadataKeys(t *testing.T) {
	m, fake := newManager(t, lkgate.Config{RoomNames: lkgate.SharedNames})
	_, err := adminClient(fake).CreateRoom(context.Background(), &livekit.CreateRoomRequest{Name: "r", Metadata: `{"topic":"retro","n":[1,2],"o":{"k":true}}`})
	if err != nil {
		t.Fatal(err)
	}
	if err := token(m, "acme", "r"); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"topic": "retro", "n": []any{1.0, 2.0}, "o": map[string]any{"k": true}, lkgate.OwnerKey: "acme"}
	if diff := cmp.Diff(want, roomMetadata(t, fake, "r")); diff != "" {
		t.Errorf("metadata after claim (-want +got):\n%s", diff)
	}
}

func TestUnownedRoomPolicy(t *testing.T) {
	tests := []struct {
		name     string
		policy   lkgate.UnownedRoomPolicy
		metadata string
		joined   map[string]string // attributes of a participant already in the room; nil: empty room
		wantErr  error
	}{
		{"empty room is claimed", lkgate.ClaimUnowned, "", nil, nil},
		{"own tenant's participant", lkgate.ClaimUnowned, "", map[string]string{lkgate.TenantAttribute: "acme"}, nil},
		{"other tenant's participant", lkgate.ClaimUnowned, "", map[string]string{lkgate.TenantAttribute: "globex"}, lkgate.ErrForbidden},
		{"participant not from lkgate", lkgate.ClaimUnowned, "", map[string]string{}, lkgate.ErrForbidden},
		{"deny policy", lkgate.DenyUnowned, "", nil, lkgate.ErrForbidden},
		{"metadata not JSON", lkgate.ClaimUnowned, "plain text", nil, lkgate.ErrForbidden},
		{"metadata a JSON array", lkgate.ClaimUnowned, "[1]", nil, lkgate.ErrForbidden},
		{"owner not a string", lkgate.ClaimUnowned, `{"auth_id":42}`, nil, lkgate.ErrForbidden},
		{"empty owner", lkgate.ClaimUnowned, `{"auth_id":""}`, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, fake := newManager(t, lkgate.Config{RoomNames: lkgate.SharedNames, UnownedRooms: tt.policy})
			if _, err := adminClient(fake).CreateRoom(context.Background(), &livekit.CreateRoomRequest{Name: "r", Metadata: tt.metadata}); err != nil {
				t.Fatal(err)
			}
			if tt.joined != nil {
				fake.AddParticipant("r", lkgatetest.Participant{Identity: "early", Attributes: tt.joined})
			}
			err := token(m, "acme", "r")
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Token = %v, want %v", err, tt.wantErr)
			}
			r, _ := fake.Room("r")
			if tt.wantErr != nil && r.Metadata != tt.metadata {
				t.Errorf("refused claim still wrote metadata %q", r.Metadata)
			}
		})
	}
}

// raceForRoom has n requests, alternating acme on a and globex on b, ask
// at once for a token for room, and returns how many each tenant won.
// Refusals must be ErrForbidden, or ErrConflict where a lease decided.
func raceForRoom(t *testing.T, a, b *lkgate.Manager, room string, n int) map[string]int {
	t.Helper()
	var wg sync.WaitGroup
	results := make(chan string, n)
	start := make(chan struct{})
	for i := range n {
		m, tenant := a, "acme"
		if i%2 == 1 {
			m, tenant = b, "globex"
		}
		wg.Go(func() {
			<-start
			err := token(m, tenant, room)
			switch {
			case err == nil:
				results <- tenant
			case !errors.Is(err, lkgate.ErrForbidden) && !errors.Is(err, lkgate.ErrConflict):
				t.Errorf("unexpected error: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	close(results)
	winners := map[string]int{}
	for w := range results {
		winners[w]++
	}
	return winners
}

// Two tenants race for one new room: exactly one wins, every time.
func TestConcurrentClaimsOneWinner(t *testing.T) {
	m, fake := newManager(t, lkgate.Config{RoomNames: lkgate.SharedNames})
	for trial := range 20 {
		room := fmt.Sprintf("race-%d", trial)
		winners := raceForRoom(t, m, m, room, 50)
		if len(winners) != 1 || winners["acme"]+winners["globex"] != 25 {
			t.Fatalf("trial %d: winners %v, want exactly one tenant with all 25 requests", trial, winners)
		}
		owner := roomMetadata(t, fake, room)[lkgate.OwnerKey]
		if _, ok := winners[owner.(string)]; !ok {
			t.Fatalf("trial %d: owner %v is not the winner %v", trial, owner, winners)
		}
	}
}

// Two replicas that share the lease store but not a lock (each has its
// own in-process Locker): the lease store's atomic take alone decides
// which tenant gets a new shared name. TestConcurrentClaimsOneWinner runs
// on one Manager, whose lock decides as well, so it cannot show this.
func TestReplicasLeaseDecidesTheWinner(t *testing.T) {
	leases := lkgate.NewMemoryLeaseStore(nil)
	one, fake := newManager(t, lkgate.Config{RoomNames: lkgate.SharedNames, Leases: leases, Locker: lkgate.NewLocalLocker()})
	two, _ := newManagerOn(t, fake, lkgate.Config{RoomNames: lkgate.SharedNames, Leases: leases, Locker: lkgate.NewLocalLocker()})
	for trial := range 20 {
		room := fmt.Sprintf("replica-race-%d", trial)
		winners := raceForRoom(t, one, two, room, 20)
		if len(winners) != 1 {
			t.Fatalf("trial %d: winners %v, want exactly one tenant", trial, winners)
		}
		owner := roomMetadata(t, fake, room)[lkgate.OwnerKey]
		if _, ok := winners[owner.(string)]; !ok {
			t.Fatalf("trial %d: owner %v is not the winner %v", trial, owner, winners)
		}
	}
}

// A burst of identical requests for a new room is served by one ensure:
// under SharedNames a read, a create and a claim; under ScopedNames with
// PrecreateRooms a create and the owner's record.
func TestConcurrentEnsuresAreCoalesced(t *testing.T) {
	forEachNaming(t, func(t *testing.T, naming lkgate.RoomNaming) {
		m, fake := newManager(t, lkgate.Config{RoomNames: naming, PrecreateRooms: naming == lkgate.ScopedNames})
		first, want := "ListRooms", 3
		if naming == lkgate.ScopedNames {
			first, want = "CreateRoom", 2
		}
		fake.SetDelay(first, 200*time.Millisecond)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 100 {
			wg.Go(func() {
				<-start
				if err := token(m, "acme", "burst"); err != nil {
					t.Error(err)
				}
			})
		}
		close(start)
		wg.Wait()
		if n := fake.TotalCalls(); n != want {
			t.Errorf("100 concurrent requests made %d LiveKit calls, want %d (one ensure)", n, want)
		}
	})
}

// faultyFirstCall is the first LiveKit call of a token for a new room:
// the read of a shared name, the creation of a precreated scoped room.
func faultyFirstCall(naming lkgate.RoomNaming) string {
	if naming == lkgate.ScopedNames {
		return "CreateRoom"
	}
	return "ListRooms"
}

func TestLiveKitFaults(t *testing.T) {
	forEachNaming(t, func(t *testing.T, naming lkgate.RoomNaming) {
		// Under ScopedNames only PrecreateRooms makes a token reach LiveKit.
		cfg := lkgate.Config{RoomNames: naming, PrecreateRooms: naming == lkgate.ScopedNames}
		method := faultyFirstCall(naming)
		t.Run("error codes", func(t *testing.T) {
			tests := []struct {
				err  error
				want error
			}{
				{twirp.NewError(twirp.Unavailable, "down"), lkgate.ErrUnavailable},
				{twirp.NewError(twirp.Internal, "boom"), lkgate.ErrUpstream},
				{twirp.NewError(twirp.Unauthenticated, "permissions denied"), lkgate.ErrUpstream},
				{twirp.NewError(twirp.DeadlineExceeded, "slow"), lkgate.ErrTimeout},
			}
			for _, tt := range tests {
				m, fake := newManager(t, cfg)
				fake.SetError(method, tt.err)
				if err := token(m, "acme", "r"); !errors.Is(err, tt.want) {
					t.Errorf("LiveKit %v: Token = %v, want %v", tt.err, err, tt.want)
				}
			}
		})
		t.Run("unreachable", func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := l.Addr().String()
			l.Close()
			cfg := cfg
			cfg.URL, cfg.APIKey, cfg.APISecret = "http://"+addr, "devkey", testSecret
			m, err := lkgate.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { m.Close() })
			if err := token(m, "acme", "r"); !errors.Is(err, lkgate.ErrUnavailable) {
				t.Errorf("Token = %v, want ErrUnavailable", err)
			}
		})
		t.Run("slower than the caller's deadline", func(t *testing.T) {
			m, fake := newManager(t, cfg)
			fake.SetDelay(method, 2*time.Second)
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			_, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: "r", Identity: "i"})
			if !errors.Is(err, lkgate.ErrTimeout) {
				t.Errorf("Token = %v, want ErrTimeout", err)
			}
		})
	})
}

// A caller hanging up mid-claim does not leave the room created but unowned.
func TestClaimCompletesAfterCallerLeaves(t *testing.T) {
	m, fake := newManager(t, lkgate.Config{RoomNames: lkgate.SharedNames})
	fake.SetDelay("UpdateRoomMetadata", 150*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: "r", Identity: "i"}); !errors.Is(err, lkgate.ErrTimeout) {
		t.Fatalf("Token = %v, want ErrTimeout", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if r, ok := fake.Room("r"); ok && r.Metadata != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("claim was abandoned when the caller left")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := roomMetadata(t, fake, "r")[lkgate.OwnerKey]; got != "acme" {
		t.Errorf("owner = %v", got)
	}
}
