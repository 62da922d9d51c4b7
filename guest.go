package lkgate

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/livekit/protocol/livekit"
)

// Guests wait in a lobby room of their own, named from the main room and
// their identity by an HMAC, so the name cannot be guessed or collide.
const (
	// LobbyPrefix starts every lobby room name. lkgate refuses tokens,
	// invites and claims for rooms whose name starts with it.
	LobbyPrefix = "lkgate-lobby-"
	// GuestIdentityPrefix starts every guest identity lkgate generates.
	GuestIdentityPrefix = "guest-"
	// AdmissionAttribute is the participant attribute of the guest, in its
	// lobby, through which admit and deny reach the guest's client: lkgate
	// sets it to an AdmissionMessage in JSON. See AdmissionMessage.
	AdmissionAttribute = reservedAttributePrefix + "admission"
	// GuestPassAttribute is the participant attribute, set in the lobby
	// token, that carries the guest's encrypted admission pass (org, room,
	// identity, allowed admins, expiry). The guest cannot change it (its
	// token has no canUpdateOwnMetadata) nor read it in clear.
	GuestPassAttribute = reservedAttributePrefix + "guest"
	// MaxGuestNameRunes caps a guest's display name after sanitising.
	MaxGuestNameRunes = 64
	// maxGuestNameInput caps the name as sent, before sanitising.
	maxGuestNameInput = 1024
	// waitingConcurrency bounds the ListParticipants calls of one
	// WaitingGuests.
	waitingConcurrency = 8
)

// Admission message types.
const (
	AdmissionAdmit = "admit"
	AdmissionDeny  = "deny"
)

// AdmissionMessage is the JSON value lkgate writes into the waiting guest's
// own participant attribute AdmissionAttribute, in its lobby. The guest's
// client watches its own attributes: in livekit-client,
// RoomEvent.ParticipantAttributesChanged for room.localParticipant (and
// room.localParticipant.attributes after a reconnect); in Go,
// lksdk.RoomCallback.OnAttributesChanged for the local participant. On
// "admit" it disconnects from the lobby and connects to URL with Token; on
// "deny" it disconnects and shows the refusal. lkgate removes a denied
// guest right after, so a lobby disconnect with reason "participant
// removed" means denied too.
//
// An attribute, not a data packet: LiveKit drops data sent to a participant
// whose data channel is not open yet (measured: every packet lost when the
// guest was admitted right after joining), while attributes are
// participant state, sent over the signalling connection and again on
// every reconnect.
type AdmissionMessage struct {
	// Type is AdmissionAdmit or AdmissionDeny.
	Type string `json:"type"`
	// Token, URL and Room are set for admit: a main-room token (the
	// ordinary participant grant, Config.TokenTTL), where to connect, and
	// the main room's name.
	Token string `json:"token,omitempty"`
	URL   string `json:"url,omitempty"`
	Room  string `json:"room,omitempty"`
}

// GuestSession is what a guest needs to wait in its lobby.
type GuestSession struct {
	// Token joins the lobby room only, with no permission at all: the
	// guest can neither publish, subscribe, send data nor change its own
	// name or attributes.
	Token *Token
	// LobbyRoom is the guest's own lobby.
	LobbyRoom string
	// Identity is the guest's server-generated identity.
	Identity string
	// Name is the guest's display name after sanitising.
	Name string
}

// GuestRoomAuth redeems an invite: it checks the invite, sanitises the
// guest's name, generates the guest's identity and mints a token for the
// guest's own lobby room, in which it waits until an admin admits or denies
// it. No API key is involved: the invite is the credential. The invite's
// room must still belong to the invite's org; it is created and claimed if
// it closed meanwhile. One LiveKit call (a ListRooms by name) for a room the
// org owns; none for an invite without org in unauthenticated mode. The
// lobby room is not created here: the guest's join creates it.
//
// Errors: ErrNotConfigured; ErrInvalidArgument with Field "InviteToken" for
// a missing, oversized, malformed, tampered, foreign-key, wrong-algorithm or
// expired invite, "GuestName" for a name that is empty once sanitised;
// ErrForbidden if the room now belongs to another tenant.
func (m *Manager) GuestRoomAuth(ctx context.Context, inviteToken, guestName string) (*GuestSession, error) {
	const op = "guest room-auth"
	if m.guests == nil {
		return nil, withContext(errGuestsOff, op, "")
	}
	name, err := sanitizeGuestName(guestName)
	if err != nil {
		return nil, withContext(err, op, "")
	}
	now := m.now()
	inv, err := m.guests.open("InviteToken", inviteToken, sealedInvite, now)
	if err != nil {
		return nil, withContext(err, op, "")
	}
	if inv.Org != "" {
		if err := m.ensureRoom(ctx, inv.Org, inv.Room); err != nil {
			return nil, withContext(err, op, inv.Room)
		}
	} else if !m.cfg.AllowUnauthenticated {
		// An invite made in unauthenticated mode is worthless once the
		// host turns that mode off.
		return nil, withContext(invalidArg("InviteToken", "is not a valid invite"), op, "")
	}
	identity := GuestIdentityPrefix + randomID()
	ttl := m.guests.cfg.LobbyTTL
	exp := now.Add(ttl).Unix()
	pass, err := m.guests.seal(sealed{
		Typ: sealedPass, Iss: sealedIssuer, Org: inv.Org, Room: inv.Room, Sub: identity,
		AllowAll: inv.AllowAll, Admins: inv.Admins, Iat: now.Unix(), Exp: &exp, Jti: randomID(),
	})
	if err != nil {
		return nil, &Error{Kind: ErrUpstream, Op: op, Msg: "encrypting the guest pass failed"}
	}
	lobby := m.guests.lobbyName(inv.Room, identity)
	c := tokenClaims(m.cfg.APIKey, inv.Org, TokenRequest{Room: lobby, Identity: identity, Name: name, Grant: &Grant{}}, now, ttl)
	// Set after tokenClaims, which refuses nothing but would copy the
	// caller's attributes: the pass is lkgate's own, reserved attribute.
	if c.Attributes == nil {
		c.Attributes = map[string]string{}
	}
	c.Attributes[GuestPassAttribute] = pass
	jwt, err := signToken(m.cfg.APISecret, c)
	if err != nil {
		return nil, &Error{Kind: ErrUpstream, Op: op, Msg: "signing failed"}
	}
	m.log.InfoContext(ctx, "guest waiting", "tenant", inv.Org, "room", inv.Room, "guest", identity)
	return &GuestSession{
		Token:     &Token{JWT: jwt, URL: m.publicURL, Room: lobby, Identity: identity, ExpiresAt: now.Add(ttl).Truncate(time.Second)},
		LobbyRoom: lobby,
		Identity:  identity,
		Name:      name,
	}, nil
}

// AdmitRequest names a waiting guest and what to do with it.
type AdmitRequest struct {
	// Room is the main room the guest was invited to.
	Room string
	// GuestIdentity is the guest's identity, as WaitingGuests lists it.
	GuestIdentity string
	// Admit admits the guest when true and denies it when false.
	Admit bool
}

// Admit admits or denies a waiting guest on behalf of subject, an admin of
// tenant. The tenant must own req.Room (ErrNotFound otherwise, as for any
// room operation), the guest must be waiting in its lobby for that room
// (ErrNotFound), and the invite must allow subject: AllowAll, or subject
// among AllowedAdmins (ErrForbidden). The guest's identity, room, org and
// admins are read from the pass it carries in LiveKit, so lkgate keeps no
// state.
//
// Admitting mints a main-room token for the guest (ParticipantGrant,
// Config.TokenTTL, the org as TenantAttribute) and hands it to the guest in
// its lobby as an AdmissionMessage in its AdmissionAttribute; nothing is
// returned to the caller. It may be repeated: every admit writes a fresh
// token. Denying writes a deny message, then removes the guest from its
// lobby. Three LiveKit calls for admit (ListRooms, GetParticipant,
// UpdateParticipant with attributes only, which keeps the guest's empty
// permissions), four for deny (RemoveParticipant).
func (m *Manager) Admit(ctx context.Context, tenant, subject string, req AdmitRequest) error {
	const op = "guest admit"
	if m.guests == nil {
		return withContext(errGuestsOff, op, "")
	}
	checked, err := m.tenantMode(tenant)
	if err != nil {
		return withContext(err, op, "")
	}
	if err := validateGuestIdentity(req.GuestIdentity); err != nil {
		return withContext(err, op, req.Room)
	}
	if err := validateOptionalText("subject", subject, MaxIdentityBytes); err != nil {
		return withContext(err, op, req.Room)
	}
	if _, err := m.authorize(ctx, tenant, req.Room, false); err != nil {
		return withContext(err, op, req.Room)
	}
	lobby := m.guests.lobbyName(req.Room, req.GuestIdentity)
	p, err := m.rooms.GetParticipant(ctx, &livekit.RoomParticipantIdentity{Room: lobby, Identity: req.GuestIdentity})
	if err != nil {
		err = fromLiveKit(op, req.Room, err)
		if errors.Is(err, ErrNotFound) {
			return errGuestNotWaiting(op, req.Room)
		}
		return err
	}
	pass := m.guests.passOf(p, req.Room, m.now())
	if pass == nil || (checked && pass.Org != tenant) {
		return errGuestNotWaiting(op, req.Room)
	}
	if !pass.AllowAll && (subject == "" || !slices.Contains(pass.Admins, subject)) {
		return &Error{Kind: ErrForbidden, Op: op, Room: req.Room, Msg: "the guest's invite does not allow you to admit or deny it"}
	}
	msg := AdmissionMessage{Type: AdmissionDeny}
	if req.Admit {
		now := m.now()
		ttl := m.cfg.TokenTTL
		jwt, err := signToken(m.cfg.APISecret, tokenClaims(m.cfg.APIKey, pass.Org,
			TokenRequest{Room: req.Room, Identity: req.GuestIdentity, Name: p.GetName()}, now, ttl))
		if err != nil {
			return &Error{Kind: ErrUpstream, Op: op, Room: req.Room, Msg: "signing failed"}
		}
		msg = AdmissionMessage{Type: AdmissionAdmit, Token: jwt, URL: m.publicURL, Room: req.Room}
	}
	payload, err := json.Marshal(msg)
	if err != nil {
		return &Error{Kind: ErrUpstream, Op: op, Room: req.Room, Msg: "encoding the admission failed"}
	}
	if _, err := m.rooms.UpdateParticipant(ctx, &livekit.UpdateParticipantRequest{
		Room:       lobby,
		Identity:   req.GuestIdentity,
		Attributes: map[string]string{AdmissionAttribute: string(payload)},
	}); err != nil {
		return participantError(op, req.Room, err)
	}
	if !req.Admit {
		_, err := m.rooms.RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: lobby, Identity: req.GuestIdentity})
		// Gone already (it left after reading the deny): that is the goal.
		if err = participantError(op, req.Room, err); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	m.log.InfoContext(ctx, "guest "+msg.Type, "tenant", tenant, "subject", subject, "room", req.Room, "guest", req.GuestIdentity)
	return nil
}

func errGuestNotWaiting(op, room string) error {
	return &Error{Kind: ErrNotFound, Op: op, Room: room, Msg: "no such guest is waiting for this room"}
}

// WaitingGuest is a guest waiting in its lobby.
type WaitingGuest struct {
	Identity string
	Name     string
	// Since is when the guest joined its lobby.
	Since time.Time
}

// WaitingGuests lists the guests waiting for the tenant's room, longest
// waiting first: those in their lobby and not admitted yet (a denied guest
// is removed from its lobby). Cost: 2 + n LiveKit calls: ListRooms by name (the
// ownership check), one unfiltered ListRooms (LiveKit cannot filter by
// prefix; the cost grows with the rooms on the server), and ListParticipants
// for each of the n lobbies of this room, 8 at a time.
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

// sanitizeGuestName turns what a guest typed into a display name: invalid
// UTF-8, control characters and invisible format characters (bidi
// overrides and isolates, zero-width characters) are removed, runs of
// white space become one space, and the result is cut to MaxGuestNameRunes.
func sanitizeGuestName(in string) (string, error) {
	if len(in) > maxGuestNameInput {
		return "", invalidArg("GuestName", "is %d bytes long; the limit is %d", len(in), maxGuestNameInput)
	}
	var b strings.Builder
	space, n := false, 0
	for _, r := range strings.ToValidUTF8(in, "") {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), isForbiddenRune(r), r == utf8.RuneError:
			continue
		}
		if n == MaxGuestNameRunes {
			break
		}
		if space {
			if n+1 == MaxGuestNameRunes {
				break
			}
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
	}
	if b.Len() == 0 {
		return "", invalidArg("GuestName", "is required (letters, not only spaces or invisible characters)")
	}
	return b.String(), nil
}

func validateGuestIdentity(id string) error {
	if err := validateText("GuestIdentity", id, MaxIdentityBytes); err != nil {
		return err
	}
	if !strings.HasPrefix(id, GuestIdentityPrefix) {
		return invalidArg("GuestIdentity", "is not a guest identity (they start with %q)", GuestIdentityPrefix)
	}
	return nil
}
