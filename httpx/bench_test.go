package httpx_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/lkgatetest"
)

// BenchmarkHandlers serves each route against the fake, in process, with
// allocations; lkcalls/op is the LiveKit round trips per request.
func BenchmarkHandlers(b *testing.B) {
	e := newEnv(b, lkgate.Config{}, httpx.StaticKeysConfig{})
	seed := httptest.NewRequest("POST", "/livekit/token", strings.NewReader(`{"room_name":"bench","participant_identity":"x"}`))
	seed.Header.Set("Content-Type", "application/json")
	seed.Header.Set("Authorization", "Bearer "+keyAcme)
	e.h.ServeHTTP(httptest.NewRecorder(), seed)
	mic := lkgatetest.Track{Source: livekit.TrackSource_MICROPHONE, Type: livekit.TrackType_AUDIO}
	e.fake.AddParticipant(e.lkRoom(b, "acme", "bench"), lkgatetest.Participant{Identity: "alice", Tracks: []lkgatetest.Track{mic}})

	routes := []struct{ name, method, path, body string }{
		{"token", "POST", "/livekit/token", `{"room_name":"bench","participant_identity":"alice","participant_name":"Alice"}`},
		{"list rooms", "GET", "/livekit/rooms", ""},
		{"room", "GET", "/livekit/rooms/bench", ""},
		{"mute", "POST", "/livekit/participant/mute", `{"room_name":"bench","participant_identity":"alice","source":"microphone","muted":true}`},
		{"remove", "DELETE", "/livekit/participant", `{"room_name":"bench","participant_identity":"leaver"}`},
	}
	for _, r := range routes {
		b.Run(r.name, func(b *testing.B) {
			b.ReportAllocs()
			e.fake.ResetCalls()
			for b.Loop() {
				if r.name == "remove" {
					b.StopTimer()
					e.fake.AddParticipant(e.lkRoom(b, "acme", "bench"), lkgatetest.Participant{Identity: "leaver"})
					b.StartTimer()
				}
				req := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+keyAcme)
				rec := httptest.NewRecorder()
				e.h.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
			b.ReportMetric(float64(e.fake.TotalCalls())/float64(b.N), "lkcalls/op")
		})
	}
}
