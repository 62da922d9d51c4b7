package lkgate

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

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
// "deny" it disconnects and shows the refusal. lkgate closes a denied
// guest's lobby right after, so a lobby disconnect with reason "room
// deleted" means denied too.
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
	// name or attributes. It admits a first connection until its
	// ExpiresAt (LobbyJoinWindow); the guest may then wait until its
	// admission pass expires (GuestConfig.LobbyTTL).
	Token *Token
	// LobbyRoom is the LiveKit name of the guest's own lobby.
	LobbyRoom string
	// Identity is the guest's server-generated identity.
	Identity string
	// Name is the guest's display name after sanitising.
	Name string
}

// GuestRoomAuth redeems an invite: it checks the invite, sanitises the
// guest's name, generates the guest's identity and mints a token for the
// guest's own lobby room, in which it waits until an admin admits or denies
// it. No API key is involved: the invite is the credential.
//
// Every guest's lobby is a LiveKit room, so the org's guests are counted
// before one more may wait (Limits.MaxWaitingGuestsPerRoom and
// MaxWaitingGuests, which apply by default): under the org's count lock,
// one unfiltered ListRooms counts the lobbies, CreateRoom opens the new
// one, and a ListRooms by name waits until LiveKit lists it; three LiveKit
// calls, and none under ScopedNames with both caps off (NoLimit), where
// the guest's join creates its lobby. Under SharedNames the invite's room
// must also still belong to the invite's org (one ListRooms by name); it
// is created and claimed again if it closed meanwhile. Unauthenticated
// mode counts no guests.
//
// Errors: ErrNotConfigured; ErrInvalidArgument with Field "InviteToken" for
// a missing, oversized, malformed, tampered, foreign-key, wrong-algorithm or
// expired invite, "GuestName" for a name that is empty once sanitised;
// ErrNotFound if, under SharedNames, the room now belongs to another
// tenant; ErrLimited when the org's GuestWaitRate, MaxWaitingGuestsPerRoom
// or MaxWaitingGuests (or, for a room it no longer has under SharedNames,
// MaxRooms) refuses; LiveKit failures as for Token.
func (m *Manager) GuestRoomAuth(ctx context.Context, inviteToken, guestName string) (*GuestSession, error) {
	s, inv, err := m.guestRoomAuth(ctx, inviteToken, guestName)
	// An invite that does not open names no tenant: it is refused, not
	// audited, so that junk cannot flood the audit trail.
	if inv != nil {
		ev := AuditEvent{Tenant: inv.Org, Action: ActionGuestWait, Room: inv.Room}
		if s != nil {
			ev.Target = s.Identity
		}
		m.audit(ctx, ev, err)
	}
	return s, err
}

func (m *Manager) guestRoomAuth(ctx context.Context, inviteToken, guestName string) (*GuestSession, *sealed, error) {
	ctx, cancel := m.withDeadline(ctx)
	defer cancel()
	const op = "guest room-auth"
	if m.guests == nil {
		return nil, nil, withContext(errGuestsOff, op, "")
	}
	name, err := sanitizeGuestName(guestName)
	if err != nil {
		return nil, nil, withContext(err, op, "")
	}
	now := m.now()
	inv, err := m.guests.open("InviteToken", inviteToken, sealedInvite, now)
	if err != nil {
		return nil, nil, withContext(err, op, "")
	}
	if inv.Org == "" && !m.cfg.AllowUnauthenticated {
		// An invite made in unauthenticated mode is worthless once the
		// host turns that mode off.
		return nil, inv, withContext(invalidArg("InviteToken", "is not a valid invite"), op, "")
	}
	// Checked before the rate, so that a refused invite does not use it up.
	ref, err := m.resolve(inv.Org, inv.Room)
	if err != nil {
		return nil, inv, withContext(err, op, inv.Room)
	}
	limits, err := m.limitsOf(ctx, inv.Org)
	if err != nil {
		return nil, inv, withContext(err, op, inv.Room)
	}
	if err := m.allow(ctx, inv.Org, LimitGuestWaitRate, limits.guestWaitRate()); err != nil {
		return nil, inv, withContext(err, op, inv.Room)
	}
	if m.cfg.RoomNames == SharedNames {
		// The name may have passed to another tenant since the invite.
		if err := m.prepareRoom(ctx, ref, false, nil); err != nil {
			return nil, inv, withContext(masked(err), op, inv.Room)
		}
	}
	identity := GuestIdentityPrefix + randomID()
	exp := now.Add(m.guests.cfg.LobbyTTL).Unix()
	pass, err := m.guests.seal(sealed{
		Typ: sealedPass, Iss: sealedIssuer, Org: inv.Org, Room: inv.Room, Sub: identity,
		AllowAll: inv.AllowAll, Admins: inv.Admins, Iat: now.Unix(), Exp: &exp, Jti: randomID(),
	})
	if err != nil {
		return nil, inv, &Error{Kind: ErrUpstream, Op: op, Msg: "encrypting the guest pass failed"}
	}
	lobby := m.lobbyOf(ref, identity)
	if perRoom, perTenant := limits.waitingCaps(); ref.checked() && (perRoom > 0 || perTenant > 0) {
		if err := m.openLobby(ctx, ref, lobby, perRoom, perTenant); err != nil {
			return nil, inv, withContext(err, op, inv.Room)
		}
	}
	// The token only opens the first connection: a lobby that lkgate
	// created and nobody joined closes soon after, and no late join may
	// re-create it outside the guest count.
	ttl := min(m.guests.cfg.LobbyTTL, LobbyJoinWindow)
	c := tokenClaims(m.cfg.APIKey, inv.Org, lobby.lk, lobbyOptions, TokenRequest{Identity: identity, Name: name, Grant: &Grant{}}, now, ttl)
	// The pass is a reserved attribute, which TokenRequest.Attributes may
	// not carry, so it goes into the claims directly.
	c.Attributes[GuestPassAttribute] = pass
	jwt, err := signToken(m.cfg.APISecret, c)
	if err != nil {
		return nil, inv, &Error{Kind: ErrUpstream, Op: op, Msg: "signing failed"}
	}
	m.log.InfoContext(ctx, "guest waiting", "tenant", inv.Org, "room", inv.Room, "guest", identity)
	return &GuestSession{
		Token:     &Token{JWT: jwt, URL: m.publicURL, Room: lobby.lk, Identity: identity, ExpiresAt: now.Add(ttl).Truncate(time.Second)},
		LobbyRoom: lobby.lk,
		Identity:  identity,
		Name:      name,
	}, inv, nil
}

// Admit admits a waiting guest on behalf of the caller's subject
// (WithSubject), an admin of tenant. The guest must be waiting in its
// lobby for the tenant's room (ErrNotFound otherwise, as for a missing or,
// under SharedNames, foreign room), and its invite must allow the subject:
// AllowAll, or the subject among its admins (ErrForbidden; a caller
// without a subject is allowed by AllowAll alone). The guest's identity,
// room, org and admins are read from the pass it carries in LiveKit, so
// lkgate keeps no state.
//
// Admit mints a main-room token for the guest (ParticipantGrant,
// Config.TokenTTL, the org as TenantAttribute) and hands it to the guest in
// its lobby as an AdmissionMessage in its AdmissionAttribute; nothing is
// returned to the caller. It may be repeated: every admit writes a fresh
// token. Two LiveKit calls (GetParticipant, UpdateParticipant with
// attributes only, which keeps the guest's empty permissions);
// SharedNames adds its ownership check, and Config.PrecreateRooms or a
// room quota what they cost.
func (m *Manager) Admit(ctx context.Context, tenant, room, guestIdentity string) error {
	err := m.decide(ctx, tenant, room, guestIdentity, true)
	m.audit(ctx, AuditEvent{Tenant: tenant, Action: ActionGuestAdmit, Room: room, Target: guestIdentity}, err)
	return err
}

// Deny refuses a waiting guest on behalf of the caller's subject, under the
// same conditions as Admit: it writes a deny AdmissionMessage into the
// guest's AdmissionAttribute, then closes the guest's lobby, which removes
// the guest and frees its place among the waiting guests. Three LiveKit
// calls (GetParticipant, UpdateParticipant, DeleteRoom), and SharedNames'
// ownership check.
func (m *Manager) Deny(ctx context.Context, tenant, room, guestIdentity string) error {
	err := m.decide(ctx, tenant, room, guestIdentity, false)
	m.audit(ctx, AuditEvent{Tenant: tenant, Action: ActionGuestDeny, Room: room, Target: guestIdentity}, err)
	return err
}

// decide admits (admit) or denies the guest; see Admit and Deny.
func (m *Manager) decide(ctx context.Context, tenant, room, guestIdentity string, admit bool) error {
	ctx, cancel := m.withDeadline(ctx)
	defer cancel()
	op := "guest deny"
	if admit {
		op = "guest admit"
	}
	subject := SubjectFrom(ctx)
	if m.guests == nil {
		return withContext(errGuestsOff, op, "")
	}
	if err := validateGuestIdentity(guestIdentity); err != nil {
		return withContext(err, op, room)
	}
	if err := validateOptionalText("Subject", subject, MaxIdentityBytes); err != nil {
		return withContext(err, op, room)
	}
	ref, _, err := m.authorize(ctx, tenant, room, false)
	if err != nil {
		return withContext(err, op, room)
	}
	lobby := m.lobbyOf(ref, guestIdentity)
	p, err := m.rooms.GetParticipant(ctx, &livekit.RoomParticipantIdentity{Room: lobby.lk, Identity: guestIdentity})
	if err != nil {
		err = fromLiveKit(op, room, err)
		if errors.Is(err, ErrNotFound) {
			return errGuestNotWaiting(op, room)
		}
		return err
	}
	pass := m.guests.passOf(p, room, m.now())
	if pass == nil || (ref.checked() && pass.Org != tenant) {
		return errGuestNotWaiting(op, room)
	}
	if !pass.AllowAll && (subject == "" || !slices.Contains(pass.Admins, subject)) {
		return &Error{Kind: ErrForbidden, Op: op, Room: room, Msg: "the guest's invite does not allow you to admit or deny it"}
	}
	msg := AdmissionMessage{Type: AdmissionDeny}
	if admit {
		if m.cfg.RoomNames == ScopedNames {
			// Under SharedNames authorize proved the room exists and is
			// the tenant's; a scoped room may need creating or counting.
			if err := m.prepareRoom(ctx, ref, m.cfg.PrecreateRooms, nil); err != nil {
				return withContext(err, op, room)
			}
		}
		// In unauthenticated mode the guest still carries the invite's org.
		guestRef := ref
		guestRef.tenant = pass.Org
		tok, err := m.mint(ctx, op, guestRef, TokenRequest{Room: room, Identity: guestIdentity, Name: p.GetName()}, m.cfg.TokenTTL, nil)
		if err != nil {
			return err
		}
		msg = AdmissionMessage{Type: AdmissionAdmit, Token: tok.JWT, URL: tok.URL, Room: room}
	}
	payload, err := json.Marshal(msg)
	if err != nil {
		return &Error{Kind: ErrUpstream, Op: op, Room: room, Msg: "encoding the admission failed"}
	}
	if _, err := m.rooms.UpdateParticipant(ctx, &livekit.UpdateParticipantRequest{
		Room:       lobby.lk,
		Identity:   guestIdentity,
		Attributes: map[string]string{AdmissionAttribute: string(payload)},
	}); err != nil {
		return participantError(op, room, err)
	}
	if !admit {
		// Closing the lobby removes the guest, and frees its place in the
		// guest count at once rather than when the empty lobby closes.
		_, err := m.rooms.DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: lobby.lk})
		// Gone already (it left after reading the deny): that is the goal.
		if err = fromLiveKit(op, room, err); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	m.log.InfoContext(ctx, "guest "+msg.Type, "tenant", tenant, "subject", subject, "room", room, "guest", guestIdentity)
	return nil
}

func errGuestNotWaiting(op, room string) error {
	return &Error{Kind: ErrNotFound, Op: op, Room: room, Msg: "no such guest is waiting for this room"}
}

// sanitizeGuestName turns what a guest typed into a display name of the
// name profile (see MaxRoomNameBytes) with sanitizeName: characters the
// profile refuses are dropped rather than refused, as a person cannot see
// them, runs of white space become one space, and the result is cut to
// MaxGuestNameRunes.
func sanitizeGuestName(in string) (string, error) {
	if len(in) > maxGuestNameInput {
		return "", invalidArg("GuestName", "is %d bytes long; the limit is %d", len(in), maxGuestNameInput)
	}
	name := sanitizeName(in, MaxGuestNameRunes)
	if name == "" {
		return "", invalidArg("GuestName", "is required (letters, not only spaces or invisible characters)")
	}
	return name, nil
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
