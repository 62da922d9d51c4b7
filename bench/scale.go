package main

import (
	"context"
	"fmt"
	"log"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate"
)

// listingScale measures a tenant's room list, under scoped names, as the
// server holds more rooms: LiveKit cannot filter by name prefix, so lkgate
// lists them all and keeps the tenant's. One room in ten belongs to the
// tenant.
func (b *bench) listingScale(counts string) {
	ctx := context.Background()
	b.deleteAllRooms(ctx)
	// One LiveKit ListRooms per request, as each request costs when no
	// shared answer is fresh: what a tenant's list costs at this scale.
	unshared, err := lkgate.New(lkgate.Config{URL: b.lkURL, APIKey: b.key, APISecret: b.secret, UnsharedListRooms: true})
	if err != nil {
		log.Fatal(err)
	}
	defer unshared.Close()
	fmt.Println()
	fmt.Println("| rooms on the server | tenant's rooms | list p50 | list p99 |")
	fmt.Println("|---|---|---|---|")
	created := 0
	for _, field := range strings.Split(counts, ",") {
		target, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil {
			log.Fatalf("bench: -scale: %v", err)
		}
		existing, err := b.admin.ListRooms(ctx, &livekit.ListRoomsRequest{})
		if err != nil {
			log.Fatal(err)
		}
		b.createRooms(ctx, &created, target-len(existing.Rooms))
		var lat []time.Duration
		var mine int
		for range 50 {
			start := time.Now()
			rooms, err := unshared.ListRooms(ctx, "acme")
			if err != nil {
				log.Fatal(err)
			}
			lat = append(lat, time.Since(start))
			mine = len(rooms)
		}
		slices.Sort(lat)
		total, _ := b.admin.ListRooms(ctx, &livekit.ListRoomsRequest{})
		fmt.Printf("| %d | %d | %s | %s |\n", len(total.GetRooms()), mine, ms(lat[len(lat)/2]), ms(lat[len(lat)*99/100]))
	}
}

// createRooms creates n rooms, one in ten of acme's and the rest of other
// tenants', the way lkgate with PrecreateRooms leaves them: a scoped name,
// and the owner in the metadata for tools that read it.
func (b *bench) createRooms(ctx context.Context, created *int, n int) {
	var wg sync.WaitGroup
	work := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range work {
				owner := "tenant-" + strconv.Itoa(i%97)
				if i%10 == 0 {
					owner = "acme"
				}
				name, err := b.scoped.m.LiveKitRoom(owner, fmt.Sprintf("scale-%06d", i))
				if err != nil {
					log.Fatal(err)
				}
				_, err = b.admin.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: name, EmptyTimeout: 600,
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
func (b *bench) deleteAllRooms(ctx context.Context) {
	res, err := b.admin.ListRooms(ctx, &livekit.ListRoomsRequest{})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range res.GetRooms() {
		if _, err := b.admin.DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: r.GetName()}); err != nil {
			log.Fatalf("bench: deleting room %s: %v", r.GetName(), err)
		}
	}
}
