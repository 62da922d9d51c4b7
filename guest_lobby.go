package lkgate

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
)

// WaitingGuest is a guest waiting in its lobby.
type WaitingGuest struct {
	Identity string
	Name     string
	// Since is when the guest joined its lobby.
	Since time.Time
}

// WaitingGuests lists the guests waiting for the tenant's room, longest
// waiting first: those in their lobby and not admitted yet (a denied guest
// is removed from its lobby). Cost: 2 + n LiveKit calls: ListRooms by name
// (the ownership check), one unfiltered ListRooms (LiveKit cannot filter by
// prefix, so the cost grows with the rooms on the server), and
// ListParticipants for each of the n lobbies of this room (admitted guests'
// lobbies included until they leave), 8 at a time.
//
// Errors: ErrNotConfigured; ErrNotFound for a missing or foreign room.
func (m *Manager) WaitingGuests(ctx context.Context, tenant, room string) ([]WaitingGuest, error) {
	const op = "guest waiting list"
	if m.guests == nil {
		return nil, withContext(errGuestsOff, op, "")
	}
	checked, err := m.tenantMode(tenant)
	if err != nil {
		return nil, withContext(err, op, "")
	}
	if _, err := m.authorize(ctx, tenant, room, false); err != nil {
		return nil, withContext(err, op, room)
	}
	res, err := m.rooms.ListRooms(ctx, &livekit.ListRoomsRequest{})
	if err != nil {
		return nil, fromLiveKit(op, room, err)
	}
	prefix := m.guests.lobbyPrefix(room)
	var lobbies []string
	for _, r := range res.GetRooms() {
		if strings.HasPrefix(r.GetName(), prefix) {
			lobbies = append(lobbies, r.GetName())
		}
	}
	now := m.now()
	var (
		mu       sync.Mutex
		waiting  = []WaitingGuest{}
		firstErr error
		wg       sync.WaitGroup
		slots    = make(chan struct{}, waitingConcurrency)
	)
	for _, lobby := range lobbies {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			res, err := m.rooms.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: lobby})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = fromLiveKit(op, room, err)
				}
				return
			}
			for _, p := range res.GetParticipants() {
				pass := m.guests.passOf(p, room, now)
				if pass == nil || (checked && pass.Org != tenant) || m.guests.lobbyName(room, p.GetIdentity()) != lobby ||
					p.GetAttributes()[AdmissionAttribute] != "" {
					continue
				}
				waiting = append(waiting, WaitingGuest{Identity: p.GetIdentity(), Name: p.GetName(), Since: participantOf(p).JoinedAt})
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	slices.SortFunc(waiting, func(a, b WaitingGuest) int {
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		return strings.Compare(a.Identity, b.Identity)
	})
	return waiting, nil
}

// passOf returns the valid pass a lobby participant carries for room, or
// nil. The attribute was set by lkgate in the guest's token and the guest
// cannot change it; the identity check binds the pass to this participant.
func (g *guests) passOf(p *livekit.ParticipantInfo, room string, now time.Time) *sealed {
	pass, err := g.open("pass", p.GetAttributes()[GuestPassAttribute], sealedPass, now)
	if err != nil || pass.Sub != p.GetIdentity() || pass.Room != room {
		return nil
	}
	return pass
}

// lobbyPrefix is the start of the names of every lobby of room.
func (g *guests) lobbyPrefix(room string) string {
	return LobbyPrefix + g.tag("room", room)[:16] + "-"
}

// lobbyName is the lobby of one guest of room: unguessable without the
// API secret, so nobody can join or squat it, and computable from (room,
// identity) alone, so admit needs no lookup table.
func (g *guests) lobbyName(room, identity string) string {
	return g.lobbyPrefix(room) + g.tag("guest", room, identity)[:26]
}

func (g *guests) tag(kind string, parts ...string) string {
	mac := hmac.New(sha256.New, g.lobbyKey)
	mac.Write([]byte(kind))
	for _, p := range parts {
		// Length-prefixed, so ("ab","c") and ("a","bc") differ.
		mac.Write([]byte{byte(len(p) >> 8), byte(len(p))})
		mac.Write([]byte(p))
	}
	return encode32(mac.Sum(nil))
}
