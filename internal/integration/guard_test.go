package integration

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/internal/lkserver"
	"github.com/lkgate/lkgate/internal/redisserver"
)

// guardHook is lkgate's webhook route in front of a real server: the
// handler of the Manager serve was last given, and the participant_joined
// and participant_left events it passed on.
type guardHook struct {
	handler atomic.Pointer[http.Handler]
	joined  chan lkgate.WebhookEvent
	left    chan *livekit.ParticipantInfo
}

// startGuarded starts a livekit-server whose webhooks reach g.
func startGuarded(t *testing.T) (*lkserver.Server, *guardHook) {
	g := &guardHook{joined: make(chan lkgate.WebhookEvent, 16), left: make(chan *livekit.ParticipantInfo, 16)}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*g.handler.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(hook.Close)
	return lkserver.Start(t, lkserver.WithWebhook(hook.URL+"/livekit/webhook")), g
}

// serve makes m's webhook route, join guard on, the one LiveKit calls.
func (g *guardHook) serve(t *testing.T, m *lkgate.Manager) {
	h, err := httpx.New(m, httpx.Config{
		Authenticator: httpx.AuthenticatorFunc(func(*http.Request) (httpx.Principal, error) { return httpx.Principal{}, errors.New("unused") }),
		OnWebhook: func(_ context.Context, ev lkgate.WebhookEvent) {
			switch ev.Event.GetEvent() {
			case "participant_joined":
				g.joined <- ev
			case "participant_left":
				select {
				case g.left <- ev.Event.GetParticipant():
				default: // nobody is waiting for departures any more
				}
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var hh http.Handler = h
	g.handler.Store(&hh)
}

// joinRemoved joins with token and waits for LiveKit to remove who, as the
// guard does: for the client's disconnection as removed, or for the
// server's participant_left of who with the reason PARTICIPANT_REMOVED.
// The removal may come while the SDK is still connecting (the guard acts on
// participant_joined, before the client's media is up); the SDK may then
// report no disconnection and fail the join with "could not connect after
// timeout" 15 s later (the flake this once showed), so the server's event
// is the proof that does not depend on the client's timing. The join
// runs aside, and is waited for before returning.
func joinRemoved(t *testing.T, srv *lkserver.Server, hook *guardHook, token, who string) {
	t.Helper()
	reason := make(chan lksdk.DisconnectionReason, 1)
	type join struct {
		room *lksdk.Room
		err  error
	}
	joined := make(chan join, 1)
	go func() {
		room, err := lksdk.ConnectToRoomWithToken(srv.WSURL, token, &lksdk.RoomCallback{
			OnDisconnectedWithReason: func(r lksdk.DisconnectionReason) {
				select {
				case reason <- r:
				default:
				}
			},
		}, lksdk.WithAutoSubscribe(false))
		joined <- join{room, err}
	}()
	var j *join
	var other lksdk.DisconnectionReason
	defer func() {
		if j == nil {
			res := <-joined
			j = &res
		}
		if j.err == nil {
			j.room.Disconnect()
		}
	}()
	for deadline := time.After(20 * time.Second); ; {
		select {
		case r := <-reason:
			if r == lksdk.ParticipantRemoved {
				return
			}
			other = r // a disconnection the SDK could not name: the server's event decides
		case p := <-hook.left:
			if p.GetIdentity() != who {
				continue
			}
			if p.GetDisconnectReason() != livekit.DisconnectReason_PARTICIPANT_REMOVED {
				t.Errorf("%s left with %v, want PARTICIPANT_REMOVED", who, p.GetDisconnectReason())
			}
			return
		case res := <-joined:
			j = &res
		case <-deadline:
			if j != nil && j.err != nil {
				t.Fatalf("%s was never removed (disconnected: %q), and could not join: %s", who, other, lkgate.Redact(j.err.Error()))
			}
			t.Fatalf("%s was never removed from the room (disconnected: %q)", who, other)
		}
	}
}

// sawJoins waits for the participant_joined events of identities, and
// checks that each resolved to tenant's room.
func (g *guardHook) sawJoins(t *testing.T, tenant, room string, identities ...string) {
	t.Helper()
	seen := map[string]bool{}
	// OnWebhook runs after the guard's removal returns, so it may trail
	// the disconnection a little.
	for deadline := time.After(10 * time.Second); len(seen) < len(identities); {
		select {
		case ev := <-g.joined:
			id := ev.Event.GetParticipant().GetIdentity()
			if !slices.Contains(identities, id) {
				continue
			}
			seen[id] = true
			if ev.Tenant != tenant || ev.Room != room {
				t.Errorf("%s's participant_joined resolved to tenant %q room %q, want %q and %q", id, ev.Tenant, ev.Room, tenant, room)
			}
		case <-deadline:
			t.Fatalf("webhook events seen for %v, want %v", seen, identities)
		}
	}
}

// wantAlone checks that identity is alone in the LiveKit room lk, once
// the server has had time to act on any removal.
func wantAlone(t *testing.T, srv *lkserver.Server, lk, identity string) {
	t.Helper()
	time.Sleep(500 * time.Millisecond)
	res, err := adminClient(srv).ListParticipants(context.Background(), &livekit.ListParticipantsRequest{Room: lk})
	if err != nil || len(res.Participants) != 1 || res.Participants[0].Identity != identity {
		t.Errorf("participants of %s after the guard: %v %v; want %s alone", lk, res.GetParticipants(), err, identity)
	}
}

// The attack LiveKit's name-based tokens allow, and its blocking: tenant A
// holds a valid token for room X; X closes; tenant B re-creates X; A's
// client joins B's room with the old token. The real server delivers
// participant_joined to lkgate's webhook route, whose guard removes A.
//
// Under SharedNames, leases keep X from B while A's token lives; with the
// in-process lease store a restart of lkgate forgets them (the restart
// gap), which is where the guard still stands. Under ScopedNames A's old
// token names A's own room, whatever happens to B's: only a token from
// outside lkgate can enter B's room, and the guard removes it.
func TestWebhookJoinGuardRemovesForeignParticipant(t *testing.T) {
	t.Run("shared", func(t *testing.T) {
		srv, hook := startGuarded(t)
		ctx := context.Background()
		before := newManager(t, srv, lkgate.Config{RoomNames: lkgate.SharedNames})
		hook.serve(t, before)
		room := fmt.Sprintf("reused-%d", time.Now().UnixNano())
		old, err := before.Token(ctx, "acme", lkgate.TokenRequest{Room: room, Identity: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := adminClient(srv).DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: room}); err != nil {
			t.Fatal(err)
		}
		if _, err := before.Token(ctx, "globex", lkgate.TokenRequest{Room: room, Identity: "gina"}); !errors.Is(err, lkgate.ErrForbidden) {
			t.Fatalf("globex re-creating acme's leased name: %v, want ErrForbidden", err)
		}
		before.Close()
		m := newManager(t, srv, lkgate.Config{RoomNames: lkgate.SharedNames})
		hook.serve(t, m)
		if _, err := m.Token(ctx, "globex", lkgate.TokenRequest{Room: room, Identity: "gina"}); err != nil {
			t.Fatalf("globex re-creating the closed room after a restart: %v", err)
		}
		mintAndJoin(t, srv, m, "globex", room, "gina", nil)

		joinRemoved(t, srv, hook, old.JWT, "alice")
		hook.sawJoins(t, "globex", room, "alice", "gina")
		wantAlone(t, srv, room, "gina")
	})
	t.Run("scoped", func(t *testing.T) {
		srv, hook := startGuarded(t)
		ctx := context.Background()
		m := newManager(t, srv, lkgate.Config{})
		hook.serve(t, m)
		room := fmt.Sprintf("reused-%d", time.Now().UnixNano())
		old, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: room, Identity: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		mintAndJoin(t, srv, m, "globex", room, "gina", nil)
		globex := lkRoom(t, m, "globex", room)

		// The old token joins acme's own room, not globex's.
		srv.Join(t, old.JWT)
		waitForParticipant(t, srv, lkRoom(t, m, "acme", room), "alice")
		hook.sawJoins(t, "globex", room, "gina")

		// A token from outside lkgate that says acme, for globex's room.
		tok, err := auth.NewAccessToken(srv.APIKey, srv.APISecret).SetIdentity("mallory").
			SetAttributes(map[string]string{lkgate.TenantAttribute: "acme"}).
			SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: globex}).SetValidFor(time.Minute).ToJWT()
		if err != nil {
			t.Fatal(err)
		}
		joinRemoved(t, srv, hook, tok, "mallory")
		hook.sawJoins(t, "globex", room, "mallory")
		wantAlone(t, srv, globex, "gina")
	})
}

// Two replicas (two Managers, each with its own Redis connection, lock and
// lease store) under SharedNames on one LiveKit: many concurrent token requests from two tenants for the
// same new room; exactly one tenant ever gets tokens, every trial.
func TestReplicasShareRedisLock(t *testing.T) {
	srv := lkserver.Shared(t)
	rs := redisserver.Start(t)
	var replicas []*lkgate.Manager
	for range 2 {
		replicas = append(replicas, newManager(t, srv, withRedis(t, rs.Addr, lkgate.Config{RoomNames: lkgate.SharedNames})))
	}
	for trial := range 10 {
		raceTenants(t, srv, replicas, fmt.Sprintf("replicas-%d-%d", trial, time.Now().UnixNano()), 60)
	}
}
