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
// acme owns: with it, a token request under shared names costs lkgate's own
// work and nothing of LiveKit's. lkgate calls no other method for an owned
// room; the lease sweep's unfiltered ListRooms finds no room.
type ownedRoom struct{ lkgate.RoomService }

func (ownedRoom) ListRooms(_ context.Context, req *livekit.ListRoomsRequest) (*livekit.ListRoomsResponse, error) {
	if len(req.Names) == 0 {
		return &livekit.ListRoomsResponse{}, nil
	}
	return &livekit.ListRoomsResponse{Rooms: []*livekit.Room{{Name: req.Names[0], Sid: "RM_x", Metadata: `{"auth_id":"acme"}`}}}, nil
}

// handlerShare measures, on one goroutine with no network between client
// and handler, the CPU of a token request: under scoped names (no LiveKit
// call at all), with and without governance; under shared names with the
// in-process lease store, (a) with LiveKit answered from memory and (b)
// with the real LiveKit; and (c) of the JWT signing alone, for each
// naming's claims. The handler's own overhead is the in-process figure
// less c. In process, the HTTP stack and the load generator, which
// dominate the driven rows' CPU, are out of the figures.
func (b *bench) handlerShare() {
	const n = 20000
	stub, err := lkgate.New(lkgate.Config{URL: b.lkURL, APIKey: b.key, APISecret: b.secret, RoomService: ownedRoom{},
		RoomNames: lkgate.SharedNames})
	if err != nil {
		log.Fatal(err)
	}
	defer stub.Close()
	inMemory, err := httpx.New(stub, httpx.Config{Authenticator: b.keys})
	if err != nil {
		log.Fatal(err)
	}
	serve := func(h http.Handler, count int) time.Duration {
		body := tokenBody(roomName(1), 1)
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
	scoped := serve(b.scoped.h, n)
	governed := serve(b.governedNoQuota.h, n)
	sharedInMemory := serve(inMemory, n)
	sharedFull := serve(b.sharedMem.h, n/10)
	scopedSign := b.signCost(b.scoped.m, n)
	sharedSign := b.signCost(stub, n)

	round := func(d time.Duration) time.Duration { return d.Round(100 * time.Nanosecond) }
	fmt.Println()
	fmt.Println("token request CPU in lkgate's process, one request at a time, no network between client and handler:")
	fmt.Printf("- scoped names: %s (no LiveKit call), of which JWT signing %s: handler overhead %s = %.1f%%\n",
		round(scoped), round(scopedSign), round(scoped-scopedSign), 100*float64(scoped-scopedSign)/float64(scoped))
	fmt.Printf("- scoped names, governed without room quota (token rate, JSON audit records, OpenTelemetry metrics): %s, %s more\n",
		round(governed), round(governed-scoped))
	fmt.Printf("- shared names, memory leases: %s with the real LiveKit (its client included), %s with LiveKit in memory, of which JWT signing %s: handler overhead %s = %.1f%% of the request on the real LiveKit\n",
		round(sharedFull), round(sharedInMemory), round(sharedSign), round(sharedInMemory-sharedSign), 100*float64(sharedInMemory-sharedSign)/float64(sharedFull))
}

// signCost is the CPU of signing, n times, the claims of a token m mints
// for acme's room 1.
func (b *bench) signCost(m *lkgate.Manager, n int) time.Duration {
	tok, err := m.Token(context.Background(), "acme", lkgate.TokenRequest{Room: roomName(1), Identity: "user-1"})
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
	return (cpuTime() - start) / time.Duration(n)
}
