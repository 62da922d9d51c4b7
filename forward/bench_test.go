package forward_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/lkgate/lkgate/forward"
)

// BenchmarkForward is what OnWebhook costs LiveKit's answer: the rewrite,
// the encoding and the enqueue of one event.
func BenchmarkForward(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer sink.Close()
	f, err := forward.New(forward.Config{QueueSize: 1 << 20, TenantQueueSize: 1 << 20, Endpoint: func(string) (string, []byte, bool) {
		return sink.URL, []byte("s"), true
	}})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close(context.Background())
	ev := joined(b, "acme", "standup", "alice")
	b.ReportAllocs()
	for b.Loop() {
		f.Forward(context.Background(), ev)
	}
}

// BenchmarkDelivery is the throughput of signed deliveries to loopback
// receivers of eight tenants, with the default workers.
func BenchmarkDelivery(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := forward.Verify(r, []byte("s"), 0); err != nil {
			b.Error(err)
		}
	}))
	defer sink.Close()
	f, err := forward.New(forward.Config{QueueSize: 1 << 20, TenantQueueSize: 1 << 20, Endpoint: func(string) (string, []byte, bool) {
		return sink.URL, []byte("s"), true
	}})
	if err != nil {
		b.Fatal(err)
	}
	tenants := []string{"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7"}
	b.ResetTimer()
	for i := range b.N {
		f.Forward(context.Background(), joined(b, tenants[i%len(tenants)], "standup", "alice"))
	}
	if err := f.Close(context.Background()); err != nil { // timed: it waits for every delivery
		b.Fatal(err)
	}
	if s := f.Stats(); s.Delivered != uint64(b.N) {
		b.Errorf("Stats = %+v, want %d delivered", s, b.N)
	}
}
