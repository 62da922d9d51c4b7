package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
)

// ownedRoom is a RoomService that answers ListRooms from memory with a room
// acme owns: with it, a token request costs lkgate's own work and nothing
// of LiveKit's. lkgate calls no other method for an owned room.
type ownedRoom struct{ lkgate.RoomService }

func (ownedRoom) ListRooms(_ context.Context, req *livekit.ListRoomsRequest) (*livekit.ListRoomsResponse, error) {
	return &livekit.ListRoomsResponse{Rooms: []*livekit.Room{{Name: req.Names[0], Sid: "RM_x", Metadata: `{"auth_id":"acme"}`}}}, nil
}

// handlerShare measures, on one goroutine with no network between client
// and handler, the CPU of a token request served by the handler (a) with
// LiveKit in memory and (b) with the real LiveKit, and (c) of the JWT
// signing alone. The handler's own overhead is a - c, as a share of b.
func (b *bench) handlerShare() {
	const n = 20000
	stub, err := lkgate.New(lkgate.Config{URL: b.lkURL, APIKey: b.key, APISecret: b.secret, RoomService: ownedRoom{}})
	if err != nil {
		log.Fatal(err)
	}
	keys, _ := httpx.NewStaticKeys(httpx.StaticKeysConfig{Keys: map[string]httpx.Principal{apiKey: {Tenant: "acme"}}})
	inMemory, _ := httpx.New(stub, httpx.Config{Authenticator: keys})
	onLiveKit, _ := httpx.New(b.m, httpx.Config{Authenticator: keys})

	serve := func(h http.Handler, count int) time.Duration {
		body := tokenBody("bench-room-01", 1)
		start := cpuTime()
		for range count {
			req := httptest.NewRequest("POST", "/livekit/token", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+apiKey)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 {
				log.Fatalf("bench: handler answered %d: %s", rec.Code, rec.Body)
			}
		}
		return (cpuTime() - start) / time.Duration(count)
	}
	handler := serve(inMemory, n)
	full := serve(onLiveKit, n/10)

	tok, err := stub.Token(context.Background(), "acme", lkgate.TokenRequest{Room: "bench-room-01", Identity: "user-1"})
	if err != nil {
		log.Fatal(err)
	}
	var claims struct {
		jwt.RegisteredClaims
		auth.ClaimGrants
	}
	if _, _, err := jwt.NewParser().ParseUnverified(tok.JWT, &claims); err != nil {
		log.Fatal(err)
	}
	start := cpuTime()
	for range n {
		if _, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(b.secret)); err != nil {
			log.Fatal(err)
		}
	}
	sign := (cpuTime() - start) / n

	overhead := handler - sign
	fmt.Printf("token request CPU in lkgate's process: %s with the real LiveKit (its client included), %s with LiveKit in memory, of which JWT signing %s\n",
		full.Round(100*time.Nanosecond), handler.Round(100*time.Nanosecond), sign.Round(100*time.Nanosecond))
	fmt.Printf("handler overhead (all but LiveKit and signing): %s = %.1f%% of a token request's CPU\n",
		overhead.Round(100*time.Nanosecond), 100*float64(overhead)/float64(full))

}
