package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

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
// with the real LiveKit; and, for each naming, (c) of Manager.Token called
// directly and (d) of the signature alone. The handler's own overhead is
// the in-process figure less d. In process, the HTTP stack and the load
// generator, which dominate the driven rows' CPU, are out of the figures.
func (b *bench) handlerShare() {
	log.Printf("bench: handler overhead")
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
	scopedToken, scopedSign := b.tokenCost(b.scoped.m, n)
	sharedToken, sharedSign := b.tokenCost(stub, n)

	round := func(d time.Duration) time.Duration { return d.Round(100 * time.Nanosecond) }
	fmt.Println()
	fmt.Println("### Handler overhead")
	fmt.Println()
	fmt.Println("token request CPU in lkgate's process, one request at a time, no network between client and handler:")
	fmt.Println()
	fmt.Printf("- scoped names: %s (no LiveKit call): `Manager.Token` called directly %s, of which the signature itself (HMAC-SHA256 and base64url over the token's header and claims) %s; httpx (authentication, the request's decoding, the response) %s = %.1f%%\n",
		round(scoped), round(scopedToken), round(scopedSign), round(scoped-scopedToken), 100*float64(scoped-scopedToken)/float64(scoped))
	fmt.Printf("- scoped names, governed without room quota (token rate, JSON audit records, OpenTelemetry metrics): %s, %s more\n",
		round(governed), round(governed-scoped))
	fmt.Printf("- shared names, memory leases: %s with the real LiveKit (its client included), %s with LiveKit in memory, of which `Manager.Token` %s and the signature itself %s: lkgate and httpx's own work (the in-memory request less the signature) %s = %.1f%% of the request on the real LiveKit\n",
		round(sharedFull), round(sharedInMemory), round(sharedToken), round(sharedSign), round(sharedInMemory-sharedSign), 100*float64(sharedInMemory-sharedSign)/float64(sharedFull))
}

// tokenCost is the CPU of m.Token for acme's room 1, called directly (no
// httpx, no HTTP), and of the signature alone: HMAC-SHA256 over the
// token's header and claims and the MAC's base64url, whatever encodes the
// claims.
func (b *bench) tokenCost(m *lkgate.Manager, n int) (token, signature time.Duration) {
	ctx := context.Background()
	req := lkgate.TokenRequest{Room: roomName(1), Identity: "user-1"}
	tok, err := m.Token(ctx, "acme", req)
	if err != nil {
		log.Fatal(err)
	}
	start := cpuTime()
	for range n {
		if _, err := m.Token(ctx, "acme", req); err != nil {
			log.Fatal(err)
		}
	}
	token = (cpuTime() - start) / time.Duration(n)
	input := tok.JWT[:strings.LastIndexByte(tok.JWT, '.')]
	start = cpuTime()
	for range n {
		mac := hmac.New(sha256.New, []byte(b.secret))
		mac.Write([]byte(input))
		_ = base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	}
	return token, (cpuTime() - start) / time.Duration(n)
}
