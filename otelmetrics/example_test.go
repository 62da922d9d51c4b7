package otelmetrics_test

import (
	"context"
	"fmt"
	"log"
	"maps"
	"slices"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
	"github.com/lkgate/lkgate/otelmetrics"
)

// Report LiveKit calls and limit refusals to a MeterProvider. The Manager
// gets the timed RoomService and the counting Auditor; an httpx.Handler
// would take mx as its Config.Observer.
func Example() {
	fake := lkgatetest.NewUnstartedServer()
	fake.Start()
	defer fake.Close()

	reader := sdkmetric.NewManualReader()
	mx, err := otelmetrics.New(otelmetrics.Config{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))})
	if err != nil {
		log.Fatal(err)
	}
	m, err := lkgate.New(lkgate.Config{
		URL: fake.URL(), APIKey: lkgatetest.APIKey, APISecret: lkgatetest.APISecret,
		RoomService: mx.RoomService(lkgate.NewRoomService(fake.URL(), lkgatetest.APIKey, lkgatetest.APISecret)),
		Auditor:     mx.Auditor(nil),
		Limits:      lkgate.LimitConfig{Default: lkgate.Limits{TokenRate: lkgate.PerMinute(1, 1)}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	// Tokens cost no LiveKit call; listing the tenant's rooms costs one.
	for range 2 {
		_, _ = m.Token(ctx, "acme", lkgate.TokenRequest{Room: "standup", Identity: "alice"})
	}
	_, _ = m.ListRooms(ctx, "acme")

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		log.Fatal(err)
	}
	totals := map[string]int64{}
	for _, metric := range rm.ScopeMetrics[0].Metrics {
		switch d := metric.Data.(type) {
		case metricdata.Histogram[float64]:
			for _, p := range d.DataPoints {
				totals[metric.Name] += int64(p.Count)
			}
		case metricdata.Sum[int64]:
			for _, p := range d.DataPoints {
				totals[metric.Name] += p.Value
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(totals)) {
		fmt.Println(name, totals[name])
	}
	// Output:
	// lkgate.audit.events 2
	// lkgate.limit.refusals 1
	// lkgate.livekit.call.duration 1
}
