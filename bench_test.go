package lkgate_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

// BenchmarkOperations runs each operation against the fake and reports the
// LiveKit round trips it costs (lkcalls/op), the figure that dominates on a
// real deployment. Time per op here is lkgate plus the fake over loopback.
func BenchmarkOperations(b *testing.B) {
	ctx := context.Background()
	m, fake := newBenchManager(b, lkgate.Config{})
	if _, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: "bench", Identity: "x"}); err != nil {
		b.Fatal(err)
	}
	mic := lkgatetest.Track{Source: livekit.TrackSource_MICROPHONE, Type: livekit.TrackType_AUDIO}
	bench := lkName(b, m, "acme", "bench")
	fake.AddParticipant(bench, lkgatetest.Participant{Identity: "alice", Tracks: []lkgatetest.Track{mic}})

	run := func(name string, op func(b *testing.B)) { benchCalls(b, fake, name, op) }
	run("Token/owned", func(b *testing.B) {
		if _, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: "bench", Identity: "alice"}); err != nil {
			b.Fatal(err)
		}
	})
	unauth, _ := newBenchManager(b, lkgate.Config{AllowUnauthenticated: true})
	run("Token/unauthenticated", func(b *testing.B) {
		if _, err := unauth.Token(ctx, "", lkgate.TokenRequest{Room: "bench", Identity: "alice"}); err != nil {
			b.Fatal(err)
		}
	})
	run("ListRooms", func(b *testing.B) {
		if _, err := m.ListRooms(ctx, "acme"); err != nil {
			b.Fatal(err)
		}
	})
	run("Room", func(b *testing.B) {
		if _, err := m.Room(ctx, "acme", "bench"); err != nil {
			b.Fatal(err)
		}
	})
	run("MuteTrack", func(b *testing.B) {
		if _, err := m.MuteTrack(ctx, "acme", lkgate.MuteRequest{Room: "bench", Identity: "alice", Source: lkgate.SourceMicrophone, Muted: true}); err != nil {
			b.Fatal(err)
		}
	})
	run("RemoveParticipant", func(b *testing.B) {
		b.StopTimer()
		fake.AddParticipant(bench, lkgatetest.Participant{Identity: "leaver"}) // direct API: no RPC
		b.StartTimer()
		if err := m.RemoveParticipant(ctx, "acme", "bench", "leaver"); err != nil {
			b.Fatal(err)
		}
	})
}

func newBenchManager(b *testing.B, cfg lkgate.Config) (*lkgate.Manager, *lkgatetest.Server) {
	fake := lkgatetest.NewServer(b)
	cfg.URL, cfg.APIKey, cfg.APISecret = fake.URL(), lkgatetest.APIKey, lkgatetest.APISecret
	m, err := lkgate.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return m, fake
}

// BenchmarkSIP reports the LiveKit round trips of a call into a room the
// tenant owns and of a transfer, against the fake.
func BenchmarkSIP(b *testing.B) {
	ctx := context.Background()
	fake := lkgatetest.NewServer(b)
	trunk := fake.AddOutboundTrunk("pbx.example:5060", "+15550000001")
	m := fake.NewManager(b, lkgate.Config{})
	sip := fake.NewSIP(b, m, lkgate.SIPConfig{Trunks: lkgate.TenantTrunks(map[string]string{"acme": trunk})})
	call := lkgate.CallRequest{Room: "bench", Identity: "phone", To: "+15550100", WaitUntilAnswered: true}
	if _, err := sip.Call(ctx, "acme", call); err != nil {
		b.Fatal(err)
	}
	bench := lkName(b, m, "acme", "bench")
	run := func(name string, op func(b *testing.B)) { benchCalls(b, fake, name, op) }
	run("Call/owned", func(b *testing.B) {
		if _, err := sip.Call(ctx, "acme", call); err != nil {
			b.Fatal(err)
		}
	})
	run("TransferCall", func(b *testing.B) {
		b.StopTimer()
		// A completed transfer ends the call; put the caller back without an RPC.
		fake.AddParticipant(bench, lkgatetest.Participant{Identity: "phone", Kind: livekit.ParticipantInfo_SIP,
			Attributes: map[string]string{"sip.phoneNumber": "+15550100"}})
		b.StartTimer()
		if _, err := sip.Transfer(ctx, "acme", lkgate.TransferRequest{Room: "bench", Identity: "phone", TransferTo: "+15550199"}); err != nil {
			b.Fatal(err)
		}
	})
}

// benchCalls runs op as sub-benchmark name, with allocations and the
// LiveKit round trips it costs against fake (lkcalls/op).
func benchCalls(b *testing.B, fake *lkgatetest.Server, name string, op func(b *testing.B)) {
	b.Run(name, func(b *testing.B) {
		b.ReportAllocs()
		fake.ResetCalls()
		for b.Loop() {
			op(b)
		}
		b.ReportMetric(float64(fake.TotalCalls())/float64(b.N), "lkcalls/op")
	})
}

// BenchmarkLimits reports what limits cost under ScopedNames: one LiveKit
// call (the room's read) on the path of an owned room, five for a new room
// under a room quota (read, count, create, owner's record, settle read),
// none for a refusal.
func BenchmarkLimits(b *testing.B) {
	ctx := context.Background()
	generous := lkgate.Limits{MaxRooms: 1 << 30, TokenRate: lkgate.PerSecond(1<<30, 1<<30)}
	m, fake := newBenchManager(b, lkgate.Config{Limits: lkgate.LimitConfig{Default: generous}})
	if _, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: "bench", Identity: "x"}); err != nil {
		b.Fatal(err)
	}
	run := func(name string, op func(b *testing.B)) { benchCalls(b, fake, name, op) }
	run("Token/owned", func(b *testing.B) {
		if _, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: "bench", Identity: "alice"}); err != nil {
			b.Fatal(err)
		}
	})
	n := 0
	run("Token/new-room-under-quota", func(b *testing.B) {
		n++
		if _, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: fmt.Sprint("new-", n), Identity: "alice"}); err != nil {
			b.Fatal(err)
		}
	})
	limited, _ := newBenchManager(b, lkgate.Config{Limits: lkgate.LimitConfig{Default: lkgate.Limits{TokenRate: lkgate.PerMinute(1, 1)}}})
	run("Token/refused-by-rate", func(b *testing.B) {
		if _, err := limited.Token(ctx, "acme", lkgate.TokenRequest{Room: "bench", Identity: "alice"}); err == nil && b.N > 1 {
			b.Fatal("not refused")
		}
	})
}

// BenchmarkMemoryLimitStore is the in-process rate check on the token path,
// over 1000 tenants.
func BenchmarkMemoryLimitStore(b *testing.B) {
	s := lkgate.NewMemoryLimitStore(nil)
	ctx := context.Background()
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprint("lkgate:limit:token_rate:tenant-", i)
	}
	r := lkgate.PerSecond(1<<30, 1<<30)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, _, err := s.Allow(ctx, keys[i%len(keys)], r); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
