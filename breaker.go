package lkgate

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/sony/gobreaker/v2"
	"github.com/twitchtv/twirp"
	"google.golang.org/protobuf/types/known/emptypb"
)

// breaker stops lkgate from calling LiveKit while LiveKit is down, so that
// requests fail at once instead of each dialing (or, against a host that
// drops packets, waiting out the deadline). It wraps the Manager's
// RoomService and the SIPService of every SIP built on the Manager, the
// default clients and a host's alike.
// gobreaker counts consecutive failures and keeps the state; while it is
// not closed no request goes through: the half-open state's one call is a
// probe run in the background, so no client waits on it.
type breaker struct {
	m        *Manager
	rooms    RoomService // unguarded, for the probe
	cb       *gobreaker.TwoStepCircuitBreaker[struct{}]
	openFor  time.Duration
	openedAt atomic.Int64 // unix nanoseconds of the last trip
	probing  atomic.Bool
}

func newBreaker(m *Manager, rooms RoomService, failures int, openFor time.Duration) *breaker {
	b := &breaker{m: m, rooms: rooms, openFor: openFor}
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        "livekit",
		MaxRequests: 1,
		Timeout:     openFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= uint32(failures) },
		OnStateChange: func(_ string, _, to gobreaker.State) {
			if to == gobreaker.StateOpen {
				b.openedAt.Store(time.Now().UnixNano())
			}
		},
		IsSuccessful: func(err error) bool { return !upstreamDown(err) },
		// The caller hanging up says nothing about LiveKit.
		IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
	})
	return b
}

// allow admits one call, or refuses it with ErrUnavailable while the
// breaker is open or probing; done records the call's outcome.
func (b *breaker) allow() (done func(error), err error) {
	switch b.cb.State() {
	case gobreaker.StateClosed:
		if done, err := b.cb.Allow(); err == nil {
			return done, nil
		}
	case gobreaker.StateHalfOpen:
		b.startProbe()
	}
	retry := time.Second
	if left := b.openFor - time.Since(time.Unix(0, b.openedAt.Load())); left > retry {
		retry = left.Truncate(time.Second) + time.Second
	}
	return nil, &Error{Kind: ErrUnavailable, RetryAfter: retry,
		Msg: "LiveKit is unreachable; lkgate stopped calling it for a moment (retry after " + strconv.Itoa(int(retry/time.Second)) + " s)"}
}

// startProbe runs the half-open state's one call, unless one runs already:
// a ListRooms by a name no room has, on its own deadline, which closes the
// breaker if LiveKit answers and opens it again if not.
func (b *breaker) startProbe() {
	if !b.probing.CompareAndSwap(false, true) {
		return
	}
	done, err := b.cb.Allow()
	if err != nil {
		b.probing.Store(false)
		return
	}
	b.m.bgWork.Add(1)
	go func() {
		defer b.m.bgWork.Done()
		defer b.probing.Store(false)
		ctx, cancel := context.WithTimeout(b.m.bg, b.m.cfg.RequestTimeout)
		defer cancel()
		_, err := b.rooms.ListRooms(ctx, &livekit.ListRoomsRequest{Names: []string{"lkgate-probe"}})
		if b.m.bg.Err() != nil {
			err = context.Canceled // closing, not LiveKit's fault
		}
		done(err)
	}()
}

// BreakerOpen reports whether lkgate has stopped calling LiveKit, after
// [Config].BreakerFailures failed calls in a row, until its background
// probe gets an answer: operations then fail at once with [ErrUnavailable].
func (m *Manager) BreakerOpen() bool { return m.breaker.cb.State() != gobreaker.StateClosed }

// upstreamDown tells whether err says that LiveKit could not be reached or
// could not serve, rather than that it answered: a refused, reset or
// closed connection, no answer before the deadline, a proxy's 429, 502,
// 503 or 504 (twirp reads them as "unavailable") or LiveKit's own
// "unavailable". A SIP call's outcome (a busy callee comes as
// "unavailable" with a SIP status) is an answer, and so is any other
// error LiveKit or a proxy sends, a 500 included.
func upstreamDown(err error) bool {
	if err == nil || lksdk.SIPStatusFrom(err) != nil {
		return false
	}
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &netErr) {
		return true
	}
	code, _, ok := liveKitCode(err)
	return ok && code == twirp.Unavailable
}

// guardedRooms is a RoomService behind the breaker. It names its fields,
// rather than embedding, so that a method added to RoomService cannot
// bypass the breaker.
type guardedRooms struct {
	rooms RoomService
	b     *breaker
}

// guardedSIP is a SIPService behind the breaker.
type guardedSIP struct {
	sip SIPService
	b   *breaker
}

func guarded[Req, Res any](b *breaker, ctx context.Context, req Req, fn func(context.Context, Req) (Res, error)) (Res, error) {
	done, err := b.allow()
	if err != nil {
		var zero Res
		return zero, err
	}
	res, err := fn(ctx, req)
	if err != nil && callerDeadlineExpired(ctx) {
		done(context.Canceled) // the caller's short deadline says nothing about LiveKit
	} else {
		done(err)
	}
	return res, err
}

func (g guardedRooms) CreateRoom(ctx context.Context, req *livekit.CreateRoomRequest) (*livekit.Room, error) {
	return guarded(g.b, ctx, req, g.rooms.CreateRoom)
}

func (g guardedRooms) DeleteRoom(ctx context.Context, req *livekit.DeleteRoomRequest) (*livekit.DeleteRoomResponse, error) {
	return guarded(g.b, ctx, req, g.rooms.DeleteRoom)
}

func (g guardedRooms) ListRooms(ctx context.Context, req *livekit.ListRoomsRequest) (*livekit.ListRoomsResponse, error) {
	return guarded(g.b, ctx, req, g.rooms.ListRooms)
}

func (g guardedRooms) UpdateRoomMetadata(ctx context.Context, req *livekit.UpdateRoomMetadataRequest) (*livekit.Room, error) {
	return guarded(g.b, ctx, req, g.rooms.UpdateRoomMetadata)
}

func (g guardedRooms) ListParticipants(ctx context.Context, req *livekit.ListParticipantsRequest) (*livekit.ListParticipantsResponse, error) {
	return guarded(g.b, ctx, req, g.rooms.ListParticipants)
}

func (g guardedRooms) GetParticipant(ctx context.Context, req *livekit.RoomParticipantIdentity) (*livekit.ParticipantInfo, error) {
	return guarded(g.b, ctx, req, g.rooms.GetParticipant)
}

func (g guardedRooms) RemoveParticipant(ctx context.Context, req *livekit.RoomParticipantIdentity) (*livekit.RemoveParticipantResponse, error) {
	return guarded(g.b, ctx, req, g.rooms.RemoveParticipant)
}

func (g guardedRooms) MutePublishedTrack(ctx context.Context, req *livekit.MuteRoomTrackRequest) (*livekit.MuteRoomTrackResponse, error) {
	return guarded(g.b, ctx, req, g.rooms.MutePublishedTrack)
}

func (g guardedRooms) UpdateParticipant(ctx context.Context, req *livekit.UpdateParticipantRequest) (*livekit.ParticipantInfo, error) {
	return guarded(g.b, ctx, req, g.rooms.UpdateParticipant)
}

func (g guardedSIP) CreateSIPParticipant(ctx context.Context, req *livekit.CreateSIPParticipantRequest) (*livekit.SIPParticipantInfo, error) {
	return guarded(g.b, ctx, req, g.sip.CreateSIPParticipant)
}

func (g guardedSIP) TransferSIPParticipant(ctx context.Context, req *livekit.TransferSIPParticipantRequest) (*emptypb.Empty, error) {
	return guarded(g.b, ctx, req, g.sip.TransferSIPParticipant)
}
