package integration

import (
	"context"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/redis/go-redis/v9"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/internal/lkserver"
	"github.com/lkgate/lkgate/redislimit"
	"github.com/lkgate/lkgate/redislock"
)

// newManager returns a Manager on srv with cfg's optional fields, closed
// (its lease sweeper stopped, under SharedNames) when t ends.
func newManager(t *testing.T, srv *lkserver.Server, cfg lkgate.Config) *lkgate.Manager {
	t.Helper()
	cfg.URL, cfg.APIKey, cfg.APISecret = srv.URL, srv.APIKey, srv.APISecret
	m, err := lkgate.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// withRedis gives cfg what a replica shares through the Redis at addr, on
// a connection of its own: the lock, the limits and, under SharedNames,
// the leases.
func withRedis(t *testing.T, addr string, cfg lkgate.Config) lkgate.Config {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { client.Close() })
	store, err := redislimit.New(redislimit.Config{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	lock, err := redislock.New(redislock.Config{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Locker, cfg.Limits.Store, cfg.Bans = lock, store, store
	if cfg.RoomNames == lkgate.SharedNames {
		cfg.Leases = store
	}
	return cfg
}

// namings are both room namings, for tests of behaviour that matters in
// each.
var namings = []lkgate.RoomNaming{lkgate.ScopedNames, lkgate.SharedNames}

// lkRoom is the LiveKit name of tenant's room under m's naming.
func lkRoom(t *testing.T, m *lkgate.Manager, tenant, room string) string {
	t.Helper()
	name, err := m.LiveKitRoom(tenant, room)
	if err != nil {
		t.Fatal(err)
	}
	return name
}

func adminClient(srv *lkserver.Server) *lksdk.RoomServiceClient {
	return lksdk.NewRoomServiceClient(srv.URL, srv.APIKey, srv.APISecret)
}

// joinAs connects a real participant with a token minted straight from the
// dev keys, the way a token from another tool (or an old one) would.
func joinAs(t *testing.T, srv *lkserver.Server, room, identity string, attributes map[string]string) *lksdk.Room {
	t.Helper()
	tok := auth.NewAccessToken(srv.APIKey, srv.APISecret).SetIdentity(identity).SetAttributes(attributes).
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: room}).SetValidFor(time.Minute)
	jwt, err := tok.ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	r := srv.Join(t, jwt)
	waitForParticipant(t, srv, room, identity)
	return r
}

// waitForParticipant polls until the server lists identity in room.
func waitForParticipant(t *testing.T, srv *lkserver.Server, room, identity string) *livekit.ParticipantInfo {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, err := adminClient(srv).GetParticipant(context.Background(), &livekit.RoomParticipantIdentity{Room: room, Identity: identity})
		if err == nil {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("participant %s never appeared in %s: %s", identity, room, lkgate.Redact(err.Error()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitForTracks polls until identity in room has n published tracks.
func waitForTracks(t *testing.T, srv *lkserver.Server, room, identity string, n int) *livekit.ParticipantInfo {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p := waitForParticipant(t, srv, room, identity)
		if len(p.Tracks) == n {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d tracks, want %d", identity, len(p.Tracks), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
