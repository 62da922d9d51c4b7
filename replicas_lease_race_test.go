package lkgate_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/lkgate/lkgate"
)

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
		var wg sync.WaitGroup
		results := make(chan string, 20)
		start := make(chan struct{})
		for i := range 20 {
			m, tenant := one, "acme"
			if i%2 == 1 {
				m, tenant = two, "globex"
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
		if len(winners) != 1 {
			t.Fatalf("trial %d: winners %v, want exactly one tenant", trial, winners)
		}
		owner := roomMetadata(t, fake, room)[lkgate.OwnerKey]
		if _, ok := winners[owner.(string)]; !ok {
			t.Fatalf("trial %d: owner %v is not the winner %v", trial, owner, winners)
		}
	}
}
