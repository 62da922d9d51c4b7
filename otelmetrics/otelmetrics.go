// Package otelmetrics reports lkgate's metrics through OpenTelemetry. It is
// a separate package so that hosts that do not use OpenTelemetry do not
// import it: lkgate's core knows nothing of it.
//
// A Metrics wraps the parts lkgate already lets a host replace:
//
//	mx, err := otelmetrics.New(otelmetrics.Config{MeterProvider: provider})
//	m, err := lkgate.New(lkgate.Config{
//		// ...
//		RoomService: mx.RoomService(lkgate.NewRoomService(url, key, secret)),
//		Auditor:     mx.Auditor(lkgate.NewSlogAuditor(logger)),
//		Usage:       mx.UsageRecorder(billing), // the host's table, or lkgate.NewSlogUsageRecorder(logger)
//	})
//	calls, err := lkgate.NewSIP(m, lkgate.SIPConfig{
//		// ...
//		Service: mx.SIPService(lksdk.NewSIPClient(url, key, secret)),
//	})
//	h, err := httpx.New(m, httpx.Config{ /* ... */ SIP: calls, Observer: mx})
//
// Instruments:
//
//	lkgate.http.request.duration  histogram, s  http.route, http.response.status_code
//	lkgate.livekit.call.duration  histogram, s  rpc.method, lkgate.outcome
//	lkgate.limit.refusals         counter       lkgate.tenant, lkgate.limit
//	lkgate.audit.events           counter       lkgate.action, lkgate.outcome
//	lkgate.usage.participant.duration  counter, s  lkgate.tenant, lkgate.kind
//	lkgate.usage.participant.sessions  counter     lkgate.tenant, lkgate.kind
//	lkgate.usage.room.duration         counter, s  lkgate.tenant
//	lkgate.usage.room.sessions         counter     lkgate.tenant
//
// A histogram's count is the number of requests or calls. http.route is
// the matched route pattern ("unmatched" otherwise), never the raw path.
// lkgate.outcome of a LiveKit call is "ok", LiveKit's error code (such as
// "not_found" or "unavailable"), "deadline_exceeded", "canceled" or
// "error". lkgate.tenant has one value per tenant that was refused, and
// for usage one per tenant with rooms; lkgate.kind is a UsageRecord kind
// ("webrtc", "sip", "guest", "agent", "egress", "ingress"). Usage counters
// grow when a session ends (UsageRecorder wraps Config.Usage), by its
// whole duration.
package otelmetrics

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/lkgate/lkgate"
)

// ScopeName is the instrumentation scope of every instrument.
const ScopeName = "github.com/lkgate/lkgate/otelmetrics"

// Config configures New.
type Config struct {
	// MeterProvider provides the meter. Nil means otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
}

// Metrics holds lkgate's instruments. It is safe for concurrent use.
type Metrics struct {
	httpDuration    metric.Float64Histogram
	livekitDuration metric.Float64Histogram
	refusals        metric.Int64Counter
	auditEvents     metric.Int64Counter
	usage           usageInstruments

	// attrs caches the attribute options of the few label combinations
	// (route and status, method and outcome, action and outcome): building
	// an attribute set sorts and hashes, on every request. Every value comes
	// from a fixed set (route patterns, status codes, method names, error
	// codes, actions) or, for usage, is a tenant, so the cache grows with
	// the tenants only.
	attrs sync.Map // attrKey -> metric.MeasurementOption
}

// attrKey names one label combination of one instrument.
type attrKey struct {
	instrument string
	a, b       string
	n          int
}

// options returns the cached option for key, building its attributes with
// build the first time.
func (m *Metrics) options(key attrKey, build func() []attribute.KeyValue) metric.MeasurementOption {
	if o, ok := m.attrs.Load(key); ok {
		return o.(metric.MeasurementOption)
	}
	o := metric.WithAttributeSet(attribute.NewSet(build()...))
	m.attrs.Store(key, o)
	return o
}

// New creates the instruments.
func New(cfg Config) (*Metrics, error) {
	mp := cfg.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	meter := mp.Meter(ScopeName)
	var m Metrics
	var errs [4]error
	m.httpDuration, errs[0] = meter.Float64Histogram("lkgate.http.request.duration",
		metric.WithUnit("s"), metric.WithDescription("Duration of lkgate HTTP requests, by route and status."))
	m.livekitDuration, errs[1] = meter.Float64Histogram("lkgate.livekit.call.duration",
		metric.WithUnit("s"), metric.WithDescription("Duration of calls to LiveKit's API, by method and outcome."))
	m.refusals, errs[2] = meter.Int64Counter("lkgate.limit.refusals",
		metric.WithUnit("{refusal}"), metric.WithDescription("Operations refused by a tenant's limit, by tenant and limit."))
	m.auditEvents, errs[3] = meter.Int64Counter("lkgate.audit.events",
		metric.WithUnit("{event}"), metric.WithDescription("Audited actions, by action and outcome."))
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	var err error
	if m.usage, err = newUsageInstruments(meter); err != nil {
		return nil, err
	}
	return &m, nil
}

// ObserveRequest records one HTTP request; it makes Metrics an
// httpx.Observer.
func (m *Metrics) ObserveRequest(ctx context.Context, route string, status int, elapsed time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.httpDuration.Record(ctx, elapsed.Seconds(), m.options(attrKey{instrument: "http", a: route, n: status}, func() []attribute.KeyValue {
		return []attribute.KeyValue{attribute.String("http.route", route), attribute.Int("http.response.status_code", status)}
	}))
}

// Auditor returns an lkgate.Auditor that counts events, and refusals by a
// limit, then passes every event to next (which may be nil).
func (m *Metrics) Auditor(next lkgate.Auditor) lkgate.Auditor {
	return lkgate.AuditorFunc(func(ctx context.Context, ev lkgate.AuditEvent) {
		m.auditEvents.Add(ctx, 1, m.options(attrKey{instrument: "audit", a: ev.Action, b: ev.Outcome}, func() []attribute.KeyValue {
			return []attribute.KeyValue{attribute.String("lkgate.action", ev.Action), attribute.String("lkgate.outcome", ev.Outcome)}
		}))
		if ev.Limit != "" {
			m.refusals.Add(ctx, 1, metric.WithAttributes(attribute.String("lkgate.tenant", ev.Tenant), attribute.String("lkgate.limit", ev.Limit)))
		}
		if next != nil {
			next.Audit(ctx, ev)
		}
	})
}

// record times one LiveKit call.
func record[T any](ctx context.Context, m *Metrics, method string, call func() (T, error)) (T, error) {
	start := time.Now()
	res, err := call()
	result := outcome(err)
	m.livekitDuration.Record(ctx, time.Since(start).Seconds(), m.options(attrKey{instrument: "livekit", a: method, b: result}, func() []attribute.KeyValue {
		return []attribute.KeyValue{attribute.String("rpc.method", method), attribute.String("lkgate.outcome", result)}
	}))
	return res, err
}

func outcome(err error) string {
	var twerr twirp.Error
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline_exceeded"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &twerr):
		return string(twerr.Code())
	default:
		return "error"
	}
}

// RoomService returns next with every call timed.
func (m *Metrics) RoomService(next lkgate.RoomService) lkgate.RoomService {
	return &roomService{m: m, next: next}
}

type roomService struct {
	m    *Metrics
	next lkgate.RoomService
}

func (s *roomService) CreateRoom(ctx context.Context, req *livekit.CreateRoomRequest) (*livekit.Room, error) {
	return record(ctx, s.m, "CreateRoom", func() (*livekit.Room, error) { return s.next.CreateRoom(ctx, req) })
}

func (s *roomService) DeleteRoom(ctx context.Context, req *livekit.DeleteRoomRequest) (*livekit.DeleteRoomResponse, error) {
	return record(ctx, s.m, "DeleteRoom", func() (*livekit.DeleteRoomResponse, error) { return s.next.DeleteRoom(ctx, req) })
}

func (s *roomService) ListRooms(ctx context.Context, req *livekit.ListRoomsRequest) (*livekit.ListRoomsResponse, error) {
	return record(ctx, s.m, "ListRooms", func() (*livekit.ListRoomsResponse, error) { return s.next.ListRooms(ctx, req) })
}

func (s *roomService) UpdateRoomMetadata(ctx context.Context, req *livekit.UpdateRoomMetadataRequest) (*livekit.Room, error) {
	return record(ctx, s.m, "UpdateRoomMetadata", func() (*livekit.Room, error) { return s.next.UpdateRoomMetadata(ctx, req) })
}

func (s *roomService) ListParticipants(ctx context.Context, req *livekit.ListParticipantsRequest) (*livekit.ListParticipantsResponse, error) {
	return record(ctx, s.m, "ListParticipants", func() (*livekit.ListParticipantsResponse, error) { return s.next.ListParticipants(ctx, req) })
}

func (s *roomService) GetParticipant(ctx context.Context, req *livekit.RoomParticipantIdentity) (*livekit.ParticipantInfo, error) {
	return record(ctx, s.m, "GetParticipant", func() (*livekit.ParticipantInfo, error) { return s.next.GetParticipant(ctx, req) })
}

func (s *roomService) RemoveParticipant(ctx context.Context, req *livekit.RoomParticipantIdentity) (*livekit.RemoveParticipantResponse, error) {
	return record(ctx, s.m, "RemoveParticipant", func() (*livekit.RemoveParticipantResponse, error) { return s.next.RemoveParticipant(ctx, req) })
}

func (s *roomService) MutePublishedTrack(ctx context.Context, req *livekit.MuteRoomTrackRequest) (*livekit.MuteRoomTrackResponse, error) {
	return record(ctx, s.m, "MutePublishedTrack", func() (*livekit.MuteRoomTrackResponse, error) { return s.next.MutePublishedTrack(ctx, req) })
}

func (s *roomService) UpdateParticipant(ctx context.Context, req *livekit.UpdateParticipantRequest) (*livekit.ParticipantInfo, error) {
	return record(ctx, s.m, "UpdateParticipant", func() (*livekit.ParticipantInfo, error) { return s.next.UpdateParticipant(ctx, req) })
}

// SIPService returns next with every call timed, for
// lkgate.SIPConfig.Service.
func (m *Metrics) SIPService(next lkgate.SIPService) lkgate.SIPService {
	return &sipService{m: m, next: next}
}

type sipService struct {
	m    *Metrics
	next lkgate.SIPService
}

func (s *sipService) CreateSIPParticipant(ctx context.Context, req *livekit.CreateSIPParticipantRequest) (*livekit.SIPParticipantInfo, error) {
	return record(ctx, s.m, "CreateSIPParticipant", func() (*livekit.SIPParticipantInfo, error) { return s.next.CreateSIPParticipant(ctx, req) })
}

func (s *sipService) TransferSIPParticipant(ctx context.Context, req *livekit.TransferSIPParticipantRequest) (*emptypb.Empty, error) {
	return record(ctx, s.m, "TransferSIPParticipant", func() (*emptypb.Empty, error) { return s.next.TransferSIPParticipant(ctx, req) })
}
