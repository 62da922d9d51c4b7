package main

import (
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/otelmetrics"
)

// newGoverned is lkgate with everything a multi-tenant operator turns on:
// limits that never refuse here (so that only their cost shows), audit
// records serialised as JSON, and OpenTelemetry metrics on every request
// and LiveKit call.
func newGoverned(lkURL, key, secret string, calls *atomic.Int64, auth httpx.Authenticator) (http.Handler, error) {
	mx, err := otelmetrics.New(otelmetrics.Config{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))})
	if err != nil {
		return nil, err
	}
	m, err := lkgate.New(lkgate.Config{URL: lkURL, APIKey: key, APISecret: secret,
		RoomService: mx.RoomService(countingRooms{RoomService: lkgate.NewRoomService(lkURL, key, secret), n: calls}),
		Auditor:     mx.Auditor(lkgate.NewSlogAuditor(slog.New(slog.NewJSONHandler(io.Discard, nil)))),
		Limits: lkgate.LimitConfig{Default: lkgate.Limits{
			MaxRooms:  1 << 20,
			TokenRate: lkgate.PerSecond(1<<20, 1<<20),
		}},
	})
	if err != nil {
		return nil, err
	}
	return httpx.New(m, httpx.Config{Authenticator: auth, Observer: mx})
}
