package lkgate

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"log/slog"
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

// Waiting lists the guests waiting for the tenant's room, longest waiting
// first: those in their lobby with a valid pass and not admitted yet. A
// room nobody has used yet has no lobbies: an empty list.
//
// It costs one ListRooms and one ListParticipants per lobby of the room.
// The ListRooms is unfiltered (LiveKit cannot filter by prefix), except
// with [Config].RoomIndex under [ScopedNames] while the tenant's guest caps
// are on (the default), where it names the room's indexed lobbies: a lobby
// that a guest's join re-created then shows once its room_started webhook
// arrives or the next reconciliation runs.
//
// Errors: [ErrNotFound], under SharedNames, for a missing or foreign room;
// LiveKit failures as for [Manager.Token].
func (g *Guests) Waiting(ctx context.Context, tenant, room string) ([]WaitingGuest, error) {
	const op = "guest waiting list"
	m := g.m
	return runResult(ctx, m, operation{op: op, tenant: tenant, room: room}, func(ctx context.Context, _ *auditRecord) ([]WaitingGuest, error) {
		ref, _, err := m.authorize(ctx, tenant, room, false)
		if err != nil {
			return nil, err
		}
		prefix := m.lobbyPrefix(ref)
		isLobby := func(lk string) bool { return strings.HasPrefix(lk, prefix) }
		rooms, err := g.lobbiesToList(ctx, ref, isLobby)
		if err != nil {
			return nil, fromLiveKit(op, room, err)
		}
		var lobbies []string
		for _, r := range rooms {
			if isLobby(r.GetName()) {
				lobbies = append(lobbies, r.GetName())
			}
		}
		now := m.now()
		var (
			mu      sync.Mutex
			waiting = []WaitingGuest{}
		)
		group, gctx := errgroup.WithContext(ctx)
		group.SetLimit(waitingConcurrency)
		for _, lobby := range lobbies {
			group.Go(func() error {
				res, err := m.rooms.ListParticipants(gctx, &livekit.ListParticipantsRequest{Room: lobby})
				if err != nil {
					return fromLiveKit(op, room, err)
				}
				for _, p := range res.GetParticipants() {
					pass := g.passOf(p, room, now)
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
		if err := group.Wait(); err != nil {
			return nil, err
		}
		slices.SortFunc(waiting, func(a, b WaitingGuest) int {
			if c := a.Since.Compare(b.Since); c != 0 {
				return c
			}
			return strings.Compare(a.Identity, b.Identity)
		})
		return waiting, nil
	})
}

// lobbiesToList returns the LiveKit rooms among which Waiting finds ref's
// lobbies: with a room index under ScopedNames, while the tenant's guest
// caps are on (so that room-auth opens each lobby and indexes it from
// LiveKit's answer), the tenant's indexed lobbies of ref, by name, so that
// the cost follows them; otherwise one unfiltered ListRooms. Without caps
// a guest's join creates its lobby, which only a webhook or the
// reconciliation would index; under SharedNames a lobby a join re-created
// carries no owner and is in no index.
func (g *Guests) lobbiesToList(ctx context.Context, ref roomRef, isLobby func(lk string) bool) ([]*livekit.Room, error) {
	m := g.m
	if m.index != nil && m.cfg.RoomNames == ScopedNames && ref.checked() {
		limits, err := m.limitsOf(ctx, ref.tenant)
		if err != nil {
			return nil, err
		}
		if perRoom, perTenant := limits.waitingCaps(); perRoom > 0 || perTenant > 0 {
			return m.indexedRooms(ctx, ref.tenant, isLobby)
		}
	}
	res, err := m.rooms.ListRooms(ctx, &livekit.ListRoomsRequest{})
	return res.GetRooms(), err
}

// passOf returns the valid pass a lobby participant carries for room, or
// nil. The attribute was set by lkgate in the guest's token and the guest
// cannot change it; the identity check binds the pass to this participant.
func (g *Guests) passOf(p *livekit.ParticipantInfo, room string, now time.Time) *sealed {
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
	return m.scoped(main, LobbyPrefix+m.lobbyTag("room", main.lk)[:16]+"-")
}

// lobbyOf is the lobby of one guest of main: unguessable without the API
// secret, so nobody can join or squat it, and computable from (room,
// identity) alone, so admit needs no lookup table.
func (m *Manager) lobbyOf(main roomRef, identity string) roomRef {
	name := LobbyPrefix + m.lobbyTag("room", main.lk)[:16] + "-" + m.lobbyTag("guest", main.lk, identity)[:26]
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

// lobbyTag is the HMAC of kind and parts under a key derived from the API
// secret rather than from the invite keys, so that rotating invite keys
// does not move the lobbies of guests already waiting.
func (m *Manager) lobbyTag(kind string, parts ...string) string {
	key := hmac.New(sha256.New, []byte(m.cfg.APISecret))
	key.Write([]byte("lkgate/lobby-names/v1"))
	mac := hmac.New(sha256.New, key.Sum(nil))
	mac.Write([]byte(kind))
	for _, p := range parts {
		// Length-prefixed, so ("ab","c") and ("a","bc") differ.
		mac.Write([]byte{byte(len(p) >> 8), byte(len(p))})
		mac.Write([]byte(p))
	}
	return encode32(mac.Sum(nil))
}

// Lobby rooms. A lobby lkgate creates outlives, unjoined, every first
// connection its token allows (LobbyJoinWindow, LiveKit's minute of
// leeway on expiry, a minute for the clocks); once its guest has left, it
// closes within seconds, so that the guest count follows.
const (
	// LobbyJoinWindow is how long a guest's lobby token admits a first
	// connection (less if GuestConfig.LobbyTTL is shorter). Once connected,
	// the guest gets fresh tokens from LiveKit and may wait until its
	// admission pass expires, LobbyTTL after room-auth.
	LobbyJoinWindow       = 2 * time.Minute
	lobbyEmptyTimeout     = LobbyJoinWindow + 2*time.Minute
	lobbyDepartureTimeout = 5 * time.Second
	// lobbyClockSkew is the margin for the clocks of lkgate and LiveKit
	// when a lobby's age is read from its creation time.
	lobbyClockSkew = time.Minute
)

// lobbyOptions are the settings of every lobby room, whether lkgate or its
// guest's join creates it.
var lobbyOptions = RoomOptions{EmptyTimeout: lobbyEmptyTimeout, DepartureTimeout: lobbyDepartureTimeout}

// openLobby creates the lobby of a guest about to wait for main, if the
// tenant's guest caps (0: off) let one more guest wait, so that it exists,
// and counts, before its token is handed out. Lobbies whose guests can no
// longer be admitted are closed on the way: their guests would otherwise
// hold their places for as long as they stay connected.
func (g *Guests) openLobby(ctx context.Context, main, lobby roomRef, perRoom, perTenant int) error {
	m := g.m
	return m.withCount(ctx, main, g.cfg.LobbyTTL, func(c roomCount) error {
		for _, s := range c.stale {
			_, err := m.rooms.DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: s.lk})
			if err = fromLiveKit("close lobby", main.name, err); errors.Is(err, ErrNotFound) {
				err = nil // closed already
			}
			if err == nil && s.ofTenant {
				m.indexFinished(ctx, main.tenant, s.lk, s.sid)
			}
			if err != nil {
				// Still open, so still counted: the caps hold.
				m.logFailure(ctx, slog.LevelWarn, "could not close the lobby of an expired guest", err, slog.String("lobby", s.lk))
				if s.ofTenant {
					c.lobbies++
				}
				if s.ofRoom {
					c.roomLobbies++
				}
			}
			name := s.lk // as the tenant knows it
			if _, scopedName, ok := ParseScopedRoomName(s.lk); ok {
				name = scopedName
			}
			m.audit(ctx, AuditEvent{Tenant: main.tenant, Action: ActionRoomDelete, Room: name, Details: map[string]string{"reason": "expired_lobby"}}, err)
		}
		switch {
		case perRoom > 0 && c.roomLobbies >= perRoom:
			return limited(LimitMaxWaitingGuestsPerRoom, QuotaRetryAfter, "the guests waiting for this room number %d, its limit (%s)", c.roomLobbies, LimitMaxWaitingGuestsPerRoom)
		case perTenant > 0 && c.lobbies >= perTenant:
			return limited(LimitMaxWaitingGuests, QuotaRetryAfter, "the guests waiting for the tenant's rooms number %d, its limit (%s)", c.lobbies, LimitMaxWaitingGuests)
		}
		// The owner in the metadata makes the lobby the tenant's under
		// SharedNames, whose lobby names name no tenant.
		metadata, _ := metadataWithOwner("", main.tenant)
		created, err := m.rooms.CreateRoom(ctx, &livekit.CreateRoomRequest{
			Name:             lobby.lk,
			EmptyTimeout:     durationSeconds(lobbyOptions.EmptyTimeout),
			DepartureTimeout: durationSeconds(lobbyOptions.DepartureTimeout),
			Metadata:         metadata,
		})
		if err != nil {
			return fromLiveKit("create lobby", main.name, err)
		}
		m.indexStarted(ctx, main.tenant, created)
		m.settle(ctx, lobby, tenantLobby)
		return nil
	})
}

// lobbyExpired reports whether the lobby r is older than any admission pass
// its guest can hold, so that its guest can no longer be admitted: a
// lobby is created after its guest's pass (by lkgate, or later by a
// rejoin).
func lobbyExpired(r *livekit.Room, lobbyTTL time.Duration, now time.Time) bool {
	created := r.GetCreationTime()
	return created > 0 && !now.Before(time.Unix(created, 0).Add(lobbyTTL+lobbyClockSkew))
}
