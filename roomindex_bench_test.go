package lkgate_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/internal/counting"
	"github.com/lkgate/lkgate/lkgatetest"
)

// roomsCounted is a RoomService that counts the rooms LiveKit's ListRooms
// answers carry: what a list costs LiveKit to read and send.
type roomsCounted struct {
	lkgate.RoomService
	rooms *atomic.Int64
}

func (r roomsCounted) ListRooms(ctx context.Context, req *livekit.ListRoomsRequest) (*livekit.ListRoomsResponse, error) {
	res, err := r.RoomService.ListRooms(ctx, req)
	r.rooms.Add(int64(len(res.GetRooms())))
	return res, err
}

// BenchmarkListRoomsIndexed lists the rooms of 100 tenants concurrently
// (100 goroutines) against the fake holding rooms rooms, 10 per tenant
// and the rest another tool's: each request making its own unfiltered
// ListRooms (unshared), with the shared list (the default), and with a
// room index (ListRooms by the tenant's names). It reports LiveKit calls
// per request (lkcalls/op) and the rooms LiveKit's answers carry per
// request (lkrooms/op), which with an index is the tenant's 10 whatever
// the server holds. The fake answers a list by names in time linear in
// all its rooms, where LiveKit looks each name up: compare the times of
// the indexed mode on a real server.
func BenchmarkListRoomsIndexed(b *testing.B) {
	const tenants, perTenant = 100, 10
	for _, total := range []int{1000, 10000} {
		for _, mode := range []string{"unshared", "shared", "indexed"} {
			b.Run(fmt.Sprintf("rooms=%d/%s", total, mode), func(b *testing.B) {
				fake := lkgatetest.NewServer(b)
				var rooms atomic.Int64
				cfg := lkgate.Config{UnsharedListRooms: mode == "unshared",
					RoomService: roomsCounted{lkgate.NewRoomService(fake.URL(), lkgatetest.APIKey, lkgatetest.APISecret), &rooms}}
				if mode == "indexed" {
					cfg.RoomIndex, cfg.RoomIndexReconcile = lkgate.NewMemoryRoomIndex(nil), -1
				}
				m := fake.NewManager(b, cfg)
				admin := adminClient(fake)
				for i := range total {
					name := fmt.Sprint("other-", i)
					if i < tenants*perTenant {
						name = scoped(b, fmt.Sprintf("tenant-%03d", i/perTenant), fmt.Sprintf("room-%02d", i%perTenant))
					}
					if _, err := admin.CreateRoom(context.Background(), &livekit.CreateRoomRequest{Name: name}); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := m.ReconcileRoomIndex(context.Background()); err != nil {
					b.Fatal(err)
				}
				fake.ResetCalls()
				rooms.Store(0)
				b.ReportAllocs()
				listTenantsInParallel(b, m, tenants, perTenant)
				b.ReportMetric(float64(fake.Calls("ListRooms"))/float64(b.N), "lkcalls/op")
				b.ReportMetric(float64(rooms.Load())/float64(b.N), "lkrooms/op")
			})
		}
	}
}

// BenchmarkTokenRoomQuota mints tokens for new rooms of a tenant with 10
// rooms, under a room quota (MaxRooms), against the fake holding 10,000
// rooms of others: counting them with one unfiltered ListRooms, and with
// a room index. Each room is deleted again outside the timing. It reports
// LiveKit calls per token (lkcalls/op), unfiltered ListRooms per token
// (unfiltered/op) and the rooms LiveKit's answers carry (lkrooms/op).
func BenchmarkTokenRoomQuota(b *testing.B) {
	const others, own = 10000, 10
	for _, mode := range []string{"unfiltered", "indexed"} {
		b.Run(mode, func(b *testing.B) {
			fake := lkgatetest.NewServer(b)
			var rooms atomic.Int64
			calls := &counting.ListNames{RoomService: roomsCounted{lkgate.NewRoomService(fake.URL(), lkgatetest.APIKey, lkgatetest.APISecret), &rooms}}
			cfg := lkgate.Config{RoomService: calls, Limits: lkgate.LimitConfig{Default: lkgate.Limits{MaxRooms: own + 1, TokenRate: noRate}}}
			if mode == "indexed" {
				cfg.RoomIndex, cfg.RoomIndexReconcile = lkgate.NewMemoryRoomIndex(nil), -1
			}
			m := fake.NewManager(b, cfg)
			admin := adminClient(fake)
			ctx := context.Background()
			for i := range others {
				if _, err := admin.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: fmt.Sprint("other-", i)}); err != nil {
					b.Fatal(err)
				}
			}
			for i := range own {
				if err := tokenFor(m, "acme", fmt.Sprint("own-", i)); err != nil {
					b.Fatal(err)
				}
			}
			var lk, unfiltered, lkRooms int
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				fake.ResetCalls()
				calls.Take()
				rooms.Store(0)
				if err := tokenFor(m, "acme", fmt.Sprint("new-", i)); err != nil {
					b.Fatal(err)
				}
				lk += fake.TotalCalls()
				lkRooms += int(rooms.Load())
				for _, n := range calls.Take() {
					if n == 0 {
						unfiltered++
					}
				}
				b.StopTimer()
				if err := m.DeleteRoom(ctx, "acme", fmt.Sprint("new-", i)); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.StopTimer()
			b.ReportMetric(float64(lk)/float64(b.N), "lkcalls/op")
			b.ReportMetric(float64(unfiltered)/float64(b.N), "unfiltered/op")
			b.ReportMetric(float64(lkRooms)/float64(b.N), "lkrooms/op")
		})
	}
}
