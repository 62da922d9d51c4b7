package integration

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/redis/go-redis/v9"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/internal/lkserver"
	"github.com/lkgate/lkgate/internal/redisserver"
	"github.com/lkgate/lkgate/redislock"
)

// The attack LiveKit's name-based tokens allow, and its blocking: tenant A
// holds a valid token for room X; X closes; tenant B re-creates X; A's
// client joins B's room with the old token. The real server delivers
// participant_joined to lkgate's webhook route, whose guard removes A.
func TestJoinGuardBlocksOldTokenInRecreatedRoom(t *testing.T) {
	var handler atomic.Pointer[http.Handler]
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*handler.Load()).ServeHTTP(w, r)
	}))
	defer hook.Close()
	srv := lkserver.Start(t, lkserver.WithWebhook(hook.URL+"/livekit/webhook"))
	m := newManager(t, srv, lkgate.Config{})
	joined := make(chan string, 16)
	h, err := httpx.New(m, httpx.Config{
		Authenticator: httpx.AuthenticatorFunc(func(*http.Request) (httpx.Principal, error) { return httpx.Principal{}, errors.New("unused") }),
		OnWebhook: func(_ context.Context, ev *livekit.WebhookEvent) {
			if ev.GetEvent() == "participant_joined" {
				joined <- ev.GetParticipant().GetIdentity()
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var hh http.Handler = h
	handler.Store(&hh)

	ctx := context.Background()
	room := fmt.Sprintf("reused-%d", time.Now().UnixNano())
	old, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: room, Identity: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adminClient(srv).DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: room}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Token(ctx, "globex", lkgate.TokenRequest{Room: room, Identity: "gina"}); err != nil {
		t.Fatalf("globex re-creating the closed room: %v", err)
	}
	mintAndJoin(t, srv, m, "globex", room, "gina", nil)

	reason := make(chan lksdk.DisconnectionReason, 1)
	srv.JoinWithCallback(t, old.JWT, &lksdk.RoomCallback{
		OnDisconnectedWithReason: func(r lksdk.DisconnectionReason) { reason <- r },
	})
	select {
	case r := <-reason:
		if r != lksdk.ParticipantRemoved {
			t.Errorf("alice disconnected with %v, want ParticipantRemoved", r)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the old token's participant was never removed from the re-created room")
	}
	// OnWebhook runs after the guard's removal returns, so it may trail
	// alice's disconnection a little.
	seen := map[string]bool{}
	for deadline := time.After(10 * time.Second); !seen["alice"] || !seen["gina"]; {
		select {
		case id := <-joined:
			seen[id] = true
		case <-deadline:
			t.Fatalf("webhook events seen for %v, want alice and gina", seen)
		}
	}
	time.Sleep(500 * time.Millisecond)
	res, err := adminClient(srv).ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: room})
	if err != nil || len(res.Participants) != 1 || res.Participants[0].Identity != "gina" {
		t.Errorf("participants after the guard: %v %v; want gina alone", res.GetParticipants(), err)
	}
}

// Two replicas (two Managers, each with its own Redis connection and lock)
// on one LiveKit: many concurrent token requests from two tenants for the
// same new room; exactly one tenant ever gets tokens, every trial.
func TestReplicasShareRedisLock(t *testing.T) {
	srv := lkserver.Shared(t)
	rs := redisserver.Start(t)
	var replicas []*lkgate.Manager
	for range 2 {
		client := redis.NewClient(&redis.Options{Addr: rs.Addr})
		t.Cleanup(func() { client.Close() })
		lock, err := redislock.New(redislock.Config{Client: client})
		if err != nil {
			t.Fatal(err)
		}
		replicas = append(replicas, newManager(t, srv, lkgate.Config{Locker: lock}))
	}
	for trial := range 10 {
		raceTenants(t, srv, replicas, fmt.Sprintf("replicas-%d-%d", trial, time.Now().UnixNano()), 60)
	}
}
