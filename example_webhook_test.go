package lkgate_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/lkgatetest"
)

// A host's own webhook handler, in place of httpx's: it verifies LiveKit's
// signature, refuses replays, runs the join guard and frees the slots of
// ended calls, then does its own work. Here a participant of globex has
// slipped into acme's room, and the guard removes it.
func ExampleManager_GuardJoin() {
	fake := lkgatetest.NewUnstartedServer() // a real LiveKit URL in production
	fake.Start()
	defer fake.Close()
	m, err := lkgate.New(lkgate.Config{URL: fake.URL(), APIKey: lkgatetest.APIKey, APISecret: lkgatetest.APISecret})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	calls, err := lkgate.NewSIP(m, lkgate.SIPConfig{Trunks: lkgate.StaticTrunk("ST_pbx")})
	if err != nil {
		log.Fatal(err)
	}
	// Replicas behind one webhook URL share one store (redislimit's).
	seen := lkgate.NewMemorySeenEvents(m.Now)

	hook := func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		ev, err := m.VerifyWebhook(r)
		if err != nil {
			httpx.WriteError(w, err) // 401 for a bad signature
			return
		}
		deadline, err := m.WebhookDeadline(ev)
		if err != nil {
			httpx.WriteError(w, err) // 401 for an event past its replay window
			return
		}
		first, err := seen.Seen(ctx, ev.GetId(), deadline)
		if err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable) // LiveKit delivers again
			return
		}
		if !first {
			fmt.Fprintln(w, "duplicate")
			return
		}
		removed, err := m.GuardJoin(ctx, ev)
		if err == nil {
			err = calls.ReleaseCall(ctx, ev)
		}
		if err != nil {
			// Forget the id so that LiveKit's next delivery is handled.
			_ = seen.Forget(ctx, ev.GetId())
			httpx.WriteError(w, err)
			return
		}
		got := m.ResolveWebhook(ev) // the tenant and its own room name, for the host's work
		fmt.Fprintln(w, got.Event.GetEvent(), got.Tenant, got.Room, "removed:", removed)
	}
	srv := httptest.NewServer(http.HandlerFunc(hook))
	defer srv.Close()

	// alice joins acme's "standup" with a token lkgate minted; a
	// participant of globex is in the same LiveKit room.
	tok, err := m.Token(context.Background(), "acme", lkgate.TokenRequest{Room: "standup", Identity: "alice"})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := fake.Join(tok.JWT); err != nil {
		log.Fatal(err)
	}
	room, _ := m.LiveKitRoom("acme", "standup")
	intruder := fake.AddParticipant(room, lkgatetest.Participant{Identity: "mallory", Attributes: map[string]string{lkgate.TenantAttribute: "globex"}})
	info, _ := fake.Room(room)

	// LiveKit's delivery of participant_joined, signed with the API secret,
	// and a replay of it.
	body, err := protojson.Marshal(&livekit.WebhookEvent{Id: "EV_1", Event: "participant_joined", Room: info, Participant: intruder, CreatedAt: time.Now().Unix()})
	if err != nil {
		log.Fatal(err)
	}
	sum := sha256.Sum256(body)
	signature, err := auth.NewAccessToken(lkgatetest.APIKey, lkgatetest.APISecret).
		SetValidFor(5 * time.Minute).SetSha256(base64.StdEncoding.EncodeToString(sum[:])).ToJWT()
	if err != nil {
		log.Fatal(err)
	}
	for range 2 {
		req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/webhook+json")
		req.Header.Set("Authorization", signature)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		answer, _ := io.ReadAll(res.Body)
		res.Body.Close()
		fmt.Print(res.StatusCode, " ", string(answer))
	}
	for _, p := range fake.Participants(room) {
		fmt.Println("in the room:", p.Identity)
	}
	// Output:
	// 200 participant_joined acme standup removed: true
	// 200 duplicate
	// in the room: alice
}
