package main

import (
	"context"
	"fmt"
	"log"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/internal/counting"
	"github.com/lkgate/lkgate/internal/lkserver"
)

// scaleTenants is how many tenants list at once in the scale test: acme,
// which has one room in ten, and the others, which share the rest.
const scaleTenants = 100

// listingScale measures a tenant's room list, under scoped names, as the
// server holds more rooms, with scaleTenants tenants listing at once for
// the run's duration: LiveKit cannot filter by name prefix, so one list
// is one unfiltered ListRooms of every room. It measures the same load
// twice in one run: on a Manager whose lists share LiveKit's answers (the
// default, Config.ListStaleness) and on one that makes a ListRooms per
// request (UnsharedListRooms).
//
// It runs on the bench's livekit-server, which keeps its rooms in process
// (one node, no Redis), then, with Redis, on a livekit-server of its own
// that keeps them in Redis, as every node of a multi-node LiveKit does.
// The two answer a list by names differently: the first compares every
// room with every name, the second reads the names (HMGET).
func (b *bench) listingScale(counts string) {
	fmt.Println()
	fmt.Printf("### Listing scale: %d tenants listing at once\n", scaleTenants)
	fmt.Println()
	fmt.Printf("Scoped names; one room in ten is acme's, the others are spread over %d more tenants; each tenant lists its rooms in a loop for %s, one lister per tenant. `shared`: the default (`ListStaleness` 1 s); `unshared`: `UnsharedListRooms`, one unfiltered `ListRooms` per list request; `indexed`: `RoomIndex` (in memory, reconciled once the rooms are made), one `ListRooms` by the tenant's names per list request, none for a tenant without rooms. p50 and p99 are over every list request, acme's p50 over acme's (the tenant with the most rooms); a tenant with fewer rooms lists faster, and so more often. `unshared, acme alone`: acme's list, 20 times one at a time with no other lister (its p99 is the slowest of the 20): one unfiltered `ListRooms` without queueing.\n", scaleTenants-1, b.duration)
	b.listingScaleOn(lkTarget{"one livekit-server, rooms in process", b.lkURL, b.admin}, counts)
	if b.redisAddr == "" {
		return
	}
	srv, err := lkserver.Launch(lkserver.WithRedis(b.redisAddr))
	if err != nil {
		log.Fatalf("bench: starting livekit-server with Redis: %v", err)
	}
	defer srv.Stop()
	b.listingScaleOn(lkTarget{"livekit-server with its rooms in Redis (as in a multi-node LiveKit)", srv.URL, lksdk.NewRoomServiceClient(srv.URL, b.key, b.secret)}, counts)
}

// lkTarget is a livekit-server the scale test fills and lists.
type lkTarget struct {
	label string
	url   string
	admin *lksdk.RoomServiceClient
}

func (b *bench) listingScaleOn(lk lkTarget, counts string) {
	ctx := context.Background()
	b.deleteAllRooms(ctx, lk.admin)
	type lister struct {
		label string
		m     *lkgate.Manager
		calls *atomic.Int64
	}
	newLister := func(label string, cfg lkgate.Config) lister {
		calls := &atomic.Int64{}
		cfg.URL, cfg.APIKey, cfg.APISecret = lk.url, b.key, b.secret
		cfg.RoomService = counting.Rooms{RoomService: lkgate.NewRoomService(lk.url, b.key, b.secret), N: calls}
		m, err := lkgate.New(cfg)
		if err != nil {
			log.Fatal(err)
		}
		return lister{label, m, calls}
	}
	// The indexed Manager reconciles only when told to, after each count's
	// rooms are made: the bench sends it no webhooks.
	indexed := newLister("indexed", lkgate.Config{RoomIndex: lkgate.NewMemoryRoomIndex(nil), RoomIndexReconcile: -1})
	listers := []lister{newLister("unshared", lkgate.Config{UnsharedListRooms: true}), newLister("shared", lkgate.Config{}), indexed}
	defer func() {
		for _, l := range listers {
			l.m.Close()
		}
	}()
	fmt.Println()
	fmt.Printf("#### %s\n\n", lk.label)
	fmt.Println("| rooms on the server | acme's rooms | lists | list requests/s | p50 | p99 | acme's p50 | LiveKit calls per list request | failed |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	created := 0
	var last map[string]listLoad
	var lastRooms int
	for _, field := range strings.Split(counts, ",") {
		target, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil {
			log.Fatalf("bench: -scale: %v", err)
		}
		existing, err := lk.admin.ListRooms(ctx, &livekit.ListRoomsRequest{})
		if err != nil {
			log.Fatal(err)
		}
		log.Printf("bench: listing scale, %d rooms", target)
		b.createRooms(ctx, lk.admin, &created, target-len(existing.Rooms))
		total, err := lk.admin.ListRooms(ctx, &livekit.ListRoomsRequest{})
		if err != nil {
			log.Fatal(err)
		}
		start := time.Now()
		rec, err := indexed.m.ReconcileRoomIndex(ctx)
		if err != nil {
			log.Fatalf("bench: reconciling the room index: %v", err)
		}
		log.Printf("bench: room index reconciled in %s (%d added)", time.Since(start), rec.Added)
		last, lastRooms = map[string]listLoad{}, len(total.GetRooms())
		alone := listAlone(ctx, listers[0].m)
		fmt.Printf("| %d | %d | unshared, acme alone | %.0f | %s | %s | %s | 1.0000 | 0 |\n", len(total.GetRooms()), alone.acme,
			alone.rps, ms(alone.p50), ms(alone.p99), ms(alone.p50))
		for _, l := range listers {
			r := b.listConcurrently(ctx, l.m, l.calls)
			last[l.label] = r
			fmt.Printf("| %d | %d | %s | %.0f | %s | %s | %s | %.4f | %d |\n", len(total.GetRooms()), r.acme, l.label,
				r.rps, ms(r.p50), ms(r.p99), ms(r.acmeP50), r.callsPerList, r.failed)
		}
	}
	if last == nil {
		return
	}
	// Issue 18, part 2's goals, at the largest count.
	shared, unshared := last["shared"], last["unshared"]
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "not met"
	}
	speedup := float64(unshared.p50) / float64(shared.p50)
	fmt.Println()
	fmt.Printf("At %d rooms, shared p50 %s against unshared %s, %.0fx lower (goal ≥ 10x: %s); %.4f LiveKit calls per list request (goal < 0.1: %s).\n",
		lastRooms, ms(shared.p50), ms(unshared.p50), speedup, verdict(speedup >= 10), shared.callsPerList, verdict(shared.callsPerList < 0.1))
}

// listLoad is what scaleTenants tenants listing at once measured.
type listLoad struct {
	acme         int // acme's rooms in its last list
	acmeP50      time.Duration
	failed       int // list requests LiveKit failed
	rps          float64
	p50, p99     time.Duration
	callsPerList float64
}

// listConcurrently has scaleTenants tenants list their rooms through m in
// a loop for the bench's duration.
func (b *bench) listConcurrently(ctx context.Context, m *lkgate.Manager, calls *atomic.Int64) listLoad {
	var mu sync.Mutex
	var lat, acmeLat []time.Duration
	var acme, failed int
	calls.Store(0)
	start := time.Now()
	var wg sync.WaitGroup
	for t := range scaleTenants {
		tenant := scaleTenant(t)
		wg.Go(func() {
			var mine []time.Duration
			n, errs := 0, 0
			for time.Since(start) < b.duration {
				t0 := time.Now()
				rooms, err := m.ListRooms(ctx, tenant)
				if err != nil {
					// LiveKit gives up under this load at a large scale:
					// counted, and the figures are of the lists it answered.
					if errs == 0 {
						log.Printf("bench: listing %s's rooms: %v", tenant, err)
					}
					errs++
					continue
				}
				mine = append(mine, time.Since(t0))
				n = len(rooms)
			}
			mu.Lock()
			failed += errs
			lat = append(lat, mine...)
			if tenant == "acme" {
				acme, acmeLat = n, mine
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	slices.Sort(acmeLat)
	if len(lat) == 0 || len(acmeLat) == 0 {
		log.Fatalf("bench: LiveKit answered no list (%d failed)", failed)
	}
	return listLoad{acme: acme, acmeP50: acmeLat[len(acmeLat)/2], failed: failed, rps: float64(len(lat)) / elapsed.Seconds(), p50: lat[len(lat)/2], p99: lat[len(lat)*99/100],
		callsPerList: float64(calls.Load()) / float64(len(lat))}
}

// listAlone measures acme's list through m, one request at a time: what
// one unfiltered ListRooms costs at this scale without queueing.
func listAlone(ctx context.Context, m *lkgate.Manager) listLoad {
	var lat []time.Duration
	var n int
	start := time.Now()
	for range 20 {
		t0 := time.Now()
		rooms, err := m.ListRooms(ctx, "acme")
		if err != nil {
			log.Fatalf("bench: listing acme's rooms: %v", err)
		}
		lat = append(lat, time.Since(t0))
		n = len(rooms)
	}
	elapsed := time.Since(start)
	slices.Sort(lat)
	return listLoad{acme: n, rps: float64(len(lat)) / elapsed.Seconds(), p50: lat[len(lat)/2], p99: lat[len(lat)-1]}
}

// scaleTenant names the scale test's tenants: 0 is acme.
func scaleTenant(i int) string {
	if i == 0 {
		return "acme"
	}
	return "tenant-" + strconv.Itoa(i-1)
}

// createRooms creates n rooms, one in ten of acme's and the rest of other
// tenants', the way lkgate with PrecreateRooms leaves them: a scoped name,
// and the owner in the metadata for tools that read it.
func (b *bench) createRooms(ctx context.Context, admin *lksdk.RoomServiceClient, created *int, n int) {
	var wg sync.WaitGroup
	work := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range work {
				owner := scaleTenant(1 + i%(scaleTenants-1))
				if i%10 == 0 {
					owner = "acme"
				}
				name, err := b.scoped.m.LiveKitRoom(owner, fmt.Sprintf("scale-%06d", i))
				if err != nil {
					log.Fatal(err)
				}
				_, err = admin.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: name, EmptyTimeout: 600,
					Metadata: `{"auth_id":"` + owner + `"}`})
				if err != nil {
					log.Fatalf("bench: creating rooms: %v", err)
				}
			}
		})
	}
	for range max(n, 0) {
		work <- *created
		*created++
	}
	close(work)
	wg.Wait()
}

// deleteAllRooms empties the server, so the scale test counts only its own rooms.
func (b *bench) deleteAllRooms(ctx context.Context, admin *lksdk.RoomServiceClient) {
	res, err := admin.ListRooms(ctx, &livekit.ListRoomsRequest{})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range res.GetRooms() {
		if _, err := admin.DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: r.GetName()}); err != nil {
			log.Fatalf("bench: deleting room %s: %v", r.GetName(), err)
		}
	}
}
