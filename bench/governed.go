package main

import (
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/internal/counting"
	"github.com/lkgate/lkgate/otelmetrics"
)

// newGoverned is lkgate (scoped names) with everything a multi-tenant
// operator turns on: limits that never refuse here (so that only their
// cost shows), audit records serialised as JSON, and OpenTelemetry metrics
// on every request and LiveKit call. Without quota it has no room quota,
// the one limit that costs a LiveKit call (the room's read).
func newGoverned(lkURL, key, secret string, quota bool, calls *atomic.Int64, auth httpx.Authenticator) (http.Handler, error) {
	mx, err := otelmetrics.New(otelmetrics.Config{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))})
	if err != nil {
		return nil, err
	}
	limits := lkgate.Limits{TokenRate: lkgate.PerSecond(1<<20, 1<<20)}
	if quota {
		limits.MaxRooms = 1 << 20
	}
	m, err := lkgate.New(lkgate.Config{URL: lkURL, APIKey: key, APISecret: secret,
		RoomService: mx.RoomService(counting.Rooms{RoomService: lkgate.NewRoomService(lkURL, key, secret), N: calls}),
		Auditor:     mx.Auditor(lkgate.NewSlogAuditor(slog.New(slog.NewJSONHandler(io.Discard, nil)))),
		Limits:      lkgate.LimitConfig{Default: limits},
	})
	if err != nil {
		return nil, err
	}
	return httpx.New(m, httpx.Config{Authenticator: auth, Observer: mx})
}
