package lkgate_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate"
)

// BenchmarkListRoomsTenants runs list requests of 100 tenants
// concurrently (100 goroutines) against the fake holding 1,000 rooms, 10
// per tenant, with each request making its own ListRooms (unshared, as
// before Config.ListStaleness) and with the shared list (the default, 1 s
// staleness). It reports the list requests served per LiveKit call
// (lists/lkcall) and LiveKit calls per request (lkcalls/op).
func BenchmarkListRoomsTenants(b *testing.B) {
	const tenants, perTenant = 100, 10
	for _, mode := range []struct {
		name string
		cfg  lkgate.Config
	}{{"unshared", lkgate.Config{UnsharedListRooms: true}}, {"shared", lkgate.Config{}}} {
		b.Run(mode.name, func(b *testing.B) {
			m, fake := newBenchManager(b, mode.cfg)
			defer m.Close()
			admin := adminClient(fake)
			for i := range tenants {
				for j := range perTenant {
					name := scoped(b, fmt.Sprintf("tenant-%03d", i), fmt.Sprintf("room-%02d", j))
					if _, err := admin.CreateRoom(context.Background(), &livekit.CreateRoomRequest{Name: name}); err != nil {
						b.Fatal(err)
					}
				}
			}
			fake.ResetCalls()
			listTenantsInParallel(b, m, tenants, perTenant)
			calls := fake.Calls("ListRooms")
			b.ReportMetric(float64(calls)/float64(b.N), "lkcalls/op")
			b.ReportMetric(float64(b.N)/float64(max(calls, 1)), "lists/lkcall")
		})
	}
}

// listTenantsInParallel has tenants tenants ("tenant-000"...) list their
// rooms through m from (tenants+1)/2 goroutines per core for b.N lists in
// all, each expecting perTenant rooms; the timer runs for the lists alone.
func listTenantsInParallel(b *testing.B, m *lkgate.Manager, tenants, perTenant int) {
	var next atomic.Int64
	b.SetParallelism((tenants + 1) / 2) // 100 goroutines on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		tenant := fmt.Sprintf("tenant-%03d", next.Add(1)%int64(tenants))
		for pb.Next() {
			rooms, err := m.ListRooms(context.Background(), tenant)
			if err != nil {
				b.Error(err)
				return
			}
			if len(rooms) != perTenant {
				b.Errorf("%s sees %d rooms, want %d", tenant, len(rooms), perTenant)
				return
			}
		}
	})
	b.StopTimer()
}
