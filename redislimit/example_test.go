package redislimit_test

import (
	"log"
	"net/http"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/redislimit"
)

// Replicas behind one load balancer share one Store: each tenant's limits
// hold across them, and a webhook event one replica handled is a duplicate
// to the others. Under lkgate.SharedNames the Store also keeps the names'
// leases (Config.Leases), with redislock's Locker for claims.
//
// This example needs a Redis, so it is compiled but not run.
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")})
	store, err := redislimit.New(redislimit.Config{Client: rdb})
	if err != nil {
		log.Fatal(err)
	}
	m, err := lkgate.New(lkgate.Config{
		URL:       os.Getenv("LIVEKIT_URL"),
		APIKey:    os.Getenv("LIVEKIT_API_KEY"),
		APISecret: os.Getenv("LIVEKIT_API_SECRET"),
		Limits: lkgate.LimitConfig{
			Default: lkgate.Limits{TokenRate: lkgate.PerMinute(60, 10), MaxRooms: 20},
			Store:   store,
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	keys, err := httpx.NewStaticKeys(httpx.StaticKeysConfig{Keys: map[string]httpx.Principal{
		os.Getenv("ACME_API_KEY"): {Tenant: "acme", Permissions: httpx.AllPermissions},
	}})
	if err != nil {
		log.Fatal(err)
	}
	api, err := httpx.New(m, httpx.Config{Authenticator: keys, SeenEvents: store})
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.ListenAndServe(":8080", http.StripPrefix("/api/v1", api)))
}
