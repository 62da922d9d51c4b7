package redislock_test

import (
	"log"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/redislimit"
	"github.com/lkgate/lkgate/redislock"
)

// Replicas that share room names (lkgate.SharedNames) claim rooms under
// one lock, and keep the names' leases in one store, both in the Redis
// their LiveKit cluster already runs. (Under the default
// lkgate.ScopedNames nothing is claimed or leased.)
//
// This example needs a Redis, so it is compiled but not run.
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")})
	locker, err := redislock.New(redislock.Config{Client: rdb})
	if err != nil {
		log.Fatal(err)
	}
	leases, err := redislimit.New(redislimit.Config{Client: rdb})
	if err != nil {
		log.Fatal(err)
	}
	m, err := lkgate.New(lkgate.Config{
		URL:       os.Getenv("LIVEKIT_URL"),
		APIKey:    os.Getenv("LIVEKIT_API_KEY"),
		APISecret: os.Getenv("LIVEKIT_API_SECRET"),
		RoomNames: lkgate.SharedNames,
		Locker:    locker,
		Leases:    leases,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
}
