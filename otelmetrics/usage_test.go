package otelmetrics_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/otelmetrics"
)

// sums maps each data point of the counter name to its value, keyed by
// its attributes as "k=v,k=v".
func sums(t *testing.T, reader *sdkmetric.ManualReader, name string) map[string]float64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	key := func(set attribute.Set) string {
		var parts []string
		for _, kv := range set.ToSlice() {
			parts = append(parts, string(kv.Key)+"="+kv.Value.String())
		}
		return strings.Join(parts, ",")
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[float64]:
				for _, p := range d.DataPoints {
					out[key(p.Attributes)] += p.Value
				}
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out[key(p.Attributes)] += float64(p.Value)
				}
			default:
				t.Errorf("%s has data %T", name, m.Data)
			}
		}
	}
	return out
}

// Usage counters grow per tenant and kind by each record the wrapped
// recorder accepted, never by one it refused.
func TestUsageRecorder(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mx, err := otelmetrics.New(otelmetrics.Config{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))})
	if err != nil {
		t.Fatal(err)
	}
	var refuse error
	var passed int
	rec := mx.UsageRecorder(lkgate.UsageRecorderFunc(func(context.Context, lkgate.UsageRecord) error {
		if refuse == nil {
			passed++
		}
		return refuse
	}))
	ctx := context.Background()
	for _, r := range []lkgate.UsageRecord{
		{Type: lkgate.UsageParticipantSession, Tenant: "acme", Kind: lkgate.UsageWebRTC, Duration: 90 * time.Second},
		{Type: lkgate.UsageParticipantSession, Tenant: "acme", Kind: lkgate.UsageWebRTC, Duration: 30 * time.Second},
		{Type: lkgate.UsageParticipantSession, Tenant: "acme", Kind: lkgate.UsageSIP, Duration: 5 * time.Second},
		{Type: lkgate.UsageParticipantSession, Tenant: "globex", Kind: lkgate.UsageGuest, Duration: time.Minute},
		{Type: lkgate.UsageRoomSession, Tenant: "acme", Duration: 2 * time.Minute},
	} {
		if err := rec.RecordUsage(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	refuse = errors.New("table locked")
	if err := rec.RecordUsage(ctx, lkgate.UsageRecord{Type: lkgate.UsageRoomSession, Tenant: "acme", Duration: time.Hour}); err != refuse {
		t.Fatalf("the recorder's error is not returned: %v", err)
	}
	for _, tt := range []struct {
		name string
		want map[string]float64
	}{
		{"lkgate.usage.participant.duration", map[string]float64{"lkgate.kind=webrtc,lkgate.tenant=acme": 120, "lkgate.kind=sip,lkgate.tenant=acme": 5, "lkgate.kind=guest,lkgate.tenant=globex": 60}},
		{"lkgate.usage.participant.sessions", map[string]float64{"lkgate.kind=webrtc,lkgate.tenant=acme": 2, "lkgate.kind=sip,lkgate.tenant=acme": 1, "lkgate.kind=guest,lkgate.tenant=globex": 1}},
		{"lkgate.usage.room.duration", map[string]float64{"lkgate.tenant=acme": 120}},
		{"lkgate.usage.room.sessions", map[string]float64{"lkgate.tenant=acme": 1}},
	} {
		got := sums(t, reader, tt.name)
		if len(got) != len(tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("%s{%s} = %v, want %v", tt.name, k, got[k], v)
			}
		}
	}
	if passed != 5 {
		t.Errorf("next got %d records, want 5", passed)
	}
}
