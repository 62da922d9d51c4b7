package lkgate

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
)

// DefaultListStaleness is Config.ListStaleness's default.
const DefaultListStaleness = time.Second

// MaxListStaleness is the longest Config.ListStaleness accepted.
const MaxListStaleness = time.Minute

// sharedList is the one unfiltered LiveKit room list that the list
// requests of every tenant share (Manager.ListRooms, and nothing that
// decides): concurrent requests wait for one ListRooms, and its answer
// serves the requests that follow for up to staleness. invalidate drops
// it, so that a room this process creates, claims or deletes shows in the
// next list at once.
//
// A generation tells answers apart: invalidate moves to the next one, a
// request only waits for a call of the current generation, and an answer
// is kept only if no invalidation happened while it was on its way, so
// that no request after a write is served a list read before it. An error
// is never kept.
type sharedList struct {
	staleness time.Duration // 0: no sharing

	mu     sync.Mutex
	gen    uint64
	answer *listAnswer // nil: none
	flight *listFlight // the call on its way, if any
}

// listAnswer is one answer of LiveKit's ListRooms, and the lists its
// tenants made of it, so that a tenant's next requests within the
// staleness cost its own rooms, not everyone's.
type listAnswer struct {
	rooms []*livekit.Room // read-only: shared by every request
	at    time.Time       // when the call started

	mu       sync.Mutex
	byTenant map[string][]Room // read-only once stored
}

// of returns the tenant's list, made by filter once per answer and
// tenant; the caller may change the slice.
func (a *listAnswer) of(tenant string, filter func([]*livekit.Room) []Room) []Room {
	a.mu.Lock()
	r, ok := a.byTenant[tenant]
	a.mu.Unlock()
	if !ok {
		r = filter(a.rooms)
		a.mu.Lock()
		if a.byTenant == nil {
			a.byTenant = map[string][]Room{}
		}
		a.byTenant[tenant] = r
		a.mu.Unlock()
	}
	return slices.Clone(r)
}

// listFlight is one ListRooms call that requests wait for.
type listFlight struct {
	gen    uint64
	done   chan struct{} // closed once answer and err are set
	answer *listAnswer
	err    error
	// left: the call failed because the request that made it ended
	// (canceled, or its caller's deadline): the others try again.
	left bool
}

// invalidate drops the shared answer and detaches the call on its way.
func (l *sharedList) invalidate() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gen++
	l.answer = nil
}

// list returns LiveKit's rooms, read at most staleness ago and after the
// last invalidate. The answer is shared: read only.
//
// The request that finds no answer nor call makes the call itself, on its
// own context, exactly as an unshared one would (its deadline, the
// breaker's view of it); the others wait for it as long as their own
// contexts allow.
func (l *sharedList) list(ctx context.Context, rooms RoomService) (*listAnswer, error) {
	if l.staleness <= 0 {
		return fetchRooms(ctx, rooms)
	}
	for {
		l.mu.Lock()
		if a := l.answer; a != nil && time.Since(a.at) < l.staleness {
			l.mu.Unlock()
			return a, nil
		}
		if f := l.flight; f != nil && f.gen == l.gen {
			l.mu.Unlock()
			select {
			case <-f.done:
				if f.left && ctx.Err() == nil {
					continue
				}
				return f.answer, f.err
			case <-ctx.Done():
				return nil, contextError(ctx.Err(), "listing rooms")
			}
		}
		f := &listFlight{gen: l.gen, done: make(chan struct{})}
		l.flight = f
		l.mu.Unlock()

		f.answer, f.err = fetchRooms(ctx, rooms)
		f.left = f.err != nil && (errors.Is(ctx.Err(), context.Canceled) || callerDeadlineExpired(ctx))
		l.mu.Lock()
		if f.err == nil && l.gen == f.gen {
			l.answer = f.answer
		}
		if l.flight == f {
			l.flight = nil
		}
		l.mu.Unlock()
		close(f.done)
		return f.answer, f.err
	}
}

func fetchRooms(ctx context.Context, rooms RoomService) (*listAnswer, error) {
	start := time.Now()
	res, err := rooms.ListRooms(ctx, &livekit.ListRoomsRequest{})
	if err != nil {
		return nil, fromLiveKit("list rooms", "", err)
	}
	return &listAnswer{rooms: res.GetRooms(), at: start}, nil
}
