package otelmetrics

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/lkgate/lkgate"
)

// usageInstruments count usage records per tenant (and kind).
type usageInstruments struct {
	participantSeconds  metric.Float64Counter
	participantSessions metric.Int64Counter
	roomSeconds         metric.Float64Counter
	roomSessions        metric.Int64Counter
}

func newUsageInstruments(meter metric.Meter) (usageInstruments, error) {
	var u usageInstruments
	var errs [4]error
	u.participantSeconds, errs[0] = meter.Float64Counter("lkgate.usage.participant.duration",
		metric.WithUnit("s"), metric.WithDescription("Time participants spent in rooms, by tenant and kind, counted when each session ends."))
	u.participantSessions, errs[1] = meter.Int64Counter("lkgate.usage.participant.sessions",
		metric.WithUnit("{session}"), metric.WithDescription("Participant sessions that ended, by tenant and kind."))
	u.roomSeconds, errs[2] = meter.Float64Counter("lkgate.usage.room.duration",
		metric.WithUnit("s"), metric.WithDescription("Time rooms were open, by tenant, counted when each room closes."))
	u.roomSessions, errs[3] = meter.Int64Counter("lkgate.usage.room.sessions",
		metric.WithUnit("{session}"), metric.WithDescription("Room sessions that ended, by tenant."))
	return u, errors.Join(errs[:]...)
}

// UsageRecorder returns an lkgate.UsageRecorder that counts each record
// next accepted (next may be nil): a record next refused is retried by
// LiveKit and counted then, so that counters and next agree.
func (m *Metrics) UsageRecorder(next lkgate.UsageRecorder) lkgate.UsageRecorder {
	return lkgate.UsageRecorderFunc(func(ctx context.Context, rec lkgate.UsageRecord) error {
		if next != nil {
			if err := next.RecordUsage(ctx, rec); err != nil {
				return err
			}
		}
		u := m.usage
		if rec.Type == lkgate.UsageRoomSession {
			o := m.options(attrKey{instrument: "usage.room", a: rec.Tenant}, func() []attribute.KeyValue {
				return []attribute.KeyValue{attribute.String("lkgate.tenant", rec.Tenant)}
			})
			u.roomSeconds.Add(ctx, rec.Duration.Seconds(), o)
			u.roomSessions.Add(ctx, 1, o)
			return nil
		}
		o := m.options(attrKey{instrument: "usage.participant", a: rec.Tenant, b: rec.Kind}, func() []attribute.KeyValue {
			return []attribute.KeyValue{attribute.String("lkgate.tenant", rec.Tenant), attribute.String("lkgate.kind", rec.Kind)}
		})
		u.participantSeconds.Add(ctx, rec.Duration.Seconds(), o)
		u.participantSessions.Add(ctx, 1, o)
		return nil
	})
}
