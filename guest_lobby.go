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
	"golang.org/x/sync/errgroup"
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
// is removed from its lobby). Cost: 1 + n LiveKit calls (2 + n under
// SharedNames, whose ownership check is one more): one unfiltered
// ListRooms (LiveKit cannot filter by prefix, so the cost grows with the
// rooms on the server), and ListParticipants for each of the n lobbies of
// this room (admitted guests' lobbies included until they leave), 8 at a
// time. A room nobody has used yet has no lobbies: an empty list.
//
// Errors: ErrNotConfigured; ErrNotFound, under SharedNames, for a missing
// or foreign room.
func (m *Manager) WaitingGuests(ctx context.Context, tenant, room string) ([]WaitingGuest, error) {
	const op = "guest waiting list"
	if m.guests == nil {
		return nil, withContext(errGuestsOff, op, "")
	}
	ref, _, err := m.authorize(ctx, tenant, room, false)
	if err != nil {
		return nil, withContext(err, op, room)
	}
	res, err := m.rooms.ListRooms(ctx, &livekit.ListRoomsRequest{})
	if err != nil {
		return nil, fromLiveKit(op, room, err)
	}
	prefix := m.lobbyPrefix(ref)
	var lobbies []string
	for _, r := range res.GetRooms() {
		if strings.HasPrefix(r.GetName(), prefix) {
			lobbies = append(lobbies, r.GetName())
		}
	}
	now := m.now()
	var (
		mu      sync.Mutex
		waiting = []WaitingGuest{}
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(waitingConcurrency)
	for _, lobby := range lobbies {
		g.Go(func() error {
			res, err := m.rooms.ListParticipants(gctx, &livekit.ListParticipantsRequest{Room: lobby})
			if err != nil {
				return fromLiveKit(op, room, err)
			}
			for _, p := range res.GetParticipants() {
				pass := m.guests.passOf(p, room, now)
				if pass == nil || (ref.checked() && pass.Org != tenant) || m.lobbyOf(ref, p.GetIdentity()).lk != lobby ||
					p.GetAttributes()[AdmissionAttribute] != "" {
					continue
				}
				mu.Lock()
				waiting = append(waiting, WaitingGuest{Identity: p.GetIdentity(), Name: p.GetName(), Since: participantOf(p).JoinedAt})
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
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

// lobbyPrefix is the start of the LiveKit names of every lobby of main.
// Under ScopedNames lobbies live in main's tenant's namespace, which keeps
// them apart from every other tenant's and counts them as the tenant's.
func (m *Manager) lobbyPrefix(main roomRef) string {
	return m.scoped(main, LobbyPrefix+m.guests.tag("room", main.lk)[:16]+"-")
}

// lobbyOf is the lobby of one guest of main: unguessable without the API
// secret, so nobody can join or squat it, and computable from (room,
// identity) alone, so admit needs no lookup table.
func (m *Manager) lobbyOf(main roomRef, identity string) roomRef {
	name := LobbyPrefix + m.guests.tag("room", main.lk)[:16] + "-" + m.guests.tag("guest", main.lk, identity)[:26]
	return roomRef{tenant: main.tenant, name: name, lk: m.scoped(main, name)}
}

// scoped is the LiveKit name of main's tenant's room name, for lkgate's
// own rooms, which resolve refuses.
func (m *Manager) scoped(main roomRef, name string) string {
	if m.cfg.RoomNames == ScopedNames && main.checked() {
		return scopePrefix(main.tenant) + name
	}
	return name
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
