package redislimit_test

import (
	"log"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/redislimit"
)

// Replicas share one room index in Redis: listing a tenant's rooms and
// counting them for its quota then cost the tenant's rooms, not every
// room on LiveKit. httpx's webhook route feeds it LiveKit's room_started
// and room_finished events; each replica reconciles it with LiveKit every
// Config.RoomIndexReconcile.
//
// This example needs a Redis, so it is compiled but not run.
func ExampleNewRoomIndex() {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")})
	index, err := redislimit.NewRoomIndex(redislimit.Config{Client: rdb})
	if err != nil {
		log.Fatal(err)
	}
	m, err := lkgate.New(lkgate.Config{
		URL:       os.Getenv("LIVEKIT_URL"),
		APIKey:    os.Getenv("LIVEKIT_API_KEY"),
		APISecret: os.Getenv("LIVEKIT_API_SECRET"),
		RoomIndex: index,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
}
