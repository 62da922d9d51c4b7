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
	// sets it to an [AdmissionMessage] in JSON.
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
	// Guests.Waiting.
	waitingConcurrency = 8
)

// Admission message types.
const (
	AdmissionAdmit = "admit"
	AdmissionDeny  = "deny"
)

// AdmissionMessage is the JSON value lkgate writes into the waiting guest's
// own participant attribute [AdmissionAttribute], in its lobby. The guest's
// client watches its own attributes: in livekit-client,
// RoomEvent.ParticipantAttributesChanged for room.localParticipant (and
// room.localParticipant.attributes after a reconnect); in Go,
// lksdk.RoomCallback.OnAttributesChanged for the local participant. On
// "admit" it disconnects from the lobby and connects to URL with Token; on
// "deny" it disconnects and shows the refusal. lkgate closes a denied
// guest's lobby right after, so a lobby disconnect with reason "room
// deleted" means denied too.
type AdmissionMessage struct {
	// Type is [AdmissionAdmit] or [AdmissionDeny].
	Type string `json:"type"`
	// Token, URL and Room are set for admit: a main-room token (the
	// ordinary participant grant, [Config.TokenTTL]), where to connect, and
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
	// ExpiresAt ([LobbyJoinWindow]).
	Token *Token
	// LobbyRoom is the LiveKit name of the guest's own lobby.
	LobbyRoom string
	// Identity is the guest's server-generated identity.
	Identity string
	// Name is the guest's display name after sanitising.
	Name string
}

// RoomAuth redeems an invite: it checks the invite, sanitises the guest's
// name, generates the guest's identity and returns a [GuestSession] for the
// guest's own lobby room, where it waits until an admin calls [Guests.Admit]
// or [Guests.Deny]. The invite is the credential: no API key is involved.
//
// Errors: [ErrInvalidArgument] with Field "InviteToken" for a missing,
// oversized, malformed, tampered, foreign-key, wrong-algorithm or expired
// invite, "GuestName" for a name that is empty once sanitised;
// [ErrNotFound] if, under SharedNames, the room now belongs to another
// tenant; [ErrLimited] when the org's [Limits.GuestWaitRate],
// MaxWaitingGuestsPerRoom or MaxWaitingGuests (or MaxRooms, for a room it
// no longer has under SharedNames) refuses; LiveKit failures as for
// [Manager.Token].
func (g *Guests) RoomAuth(ctx context.Context, inviteToken, guestName string) (*GuestSession, error) {
	return runResult(ctx, g.m, operation{op: opRoomAuth, action: ActionGuestWait, tenantless: true},
		func(ctx context.Context, a *auditRecord) (*GuestSession, error) {
			name, err := sanitizeGuestName(guestName)
			var inv *sealed
			if err == nil {
				inv, err = g.open("InviteToken", inviteToken, sealedInvite, g.m.now())
			}
			if err != nil {
				a.drop() // it names no tenant
				return nil, err
			}
			a.Tenant, a.Room = inv.Org, inv.Room
			if inv.Org == "" && !g.m.cfg.AllowUnauthenticated {
				// An invite made in unauthenticated mode is worthless once
				// the host turns that mode off.
				return nil, invalidArg("InviteToken", "is not a valid invite")
			}
			s, err := g.wait(ctx, inv, name)
			if err != nil {
				return nil, withContext(err, opRoomAuth, inv.Room)
			}
			a.Target = s.Identity
			return s, nil
		})
}

const opRoomAuth = "guest room-auth"

// wait lets the guest of the opened invite inv wait in a lobby of its own.
func (g *Guests) wait(ctx context.Context, inv *sealed, name string) (*GuestSession, error) {
	m := g.m
	// Checked before the rate, so that a refused invite does not use it up.
	ref, err := m.resolve(inv.Org, inv.Room)
	if err != nil {
		return nil, err
	}
	limits, err := m.limitsOf(ctx, inv.Org)
	if err != nil {
		return nil, err
	}
	if err := m.allow(ctx, inv.Org, LimitGuestWaitRate, limits.guestWaitRate()); err != nil {
		return nil, err
	}
	if m.cfg.RoomNames == SharedNames {
		// The name may have passed to another tenant since the invite.
		if err := m.prepareRoom(ctx, ref, false, nil); err != nil {
			return nil, masked(err)
		}
	}
	now := m.now()
	identity := GuestIdentityPrefix + randomID()
	exp := now.Add(g.cfg.LobbyTTL).Unix()
	pass, err := g.seal(sealed{
		Typ: sealedPass, Iss: sealedIssuer, Org: inv.Org, Room: inv.Room, Sub: identity,
		AllowAll: inv.AllowAll, Admins: inv.Admins, Iat: now.Unix(), Exp: &exp, Jti: randomID(),
	})
	if err != nil {
		return nil, &Error{Kind: ErrUpstream, Msg: "encrypting the guest pass failed"}
	}
	lobby := m.lobbyOf(ref, identity)
	if perRoom, perTenant := limits.waitingCaps(); ref.checked() && (perRoom > 0 || perTenant > 0) {
		if err := g.openLobby(ctx, ref, lobby, perRoom, perTenant); err != nil {
			return nil, err
		}
	}
	// The token only opens the first connection: a lobby that lkgate
	// created and nobody joined closes soon after, and no late join may
	// re-create it outside the guest count.
	ttl := min(g.cfg.LobbyTTL, LobbyJoinWindow)
	c := tokenClaims(m.cfg.APIKey, inv.Org, lobby.lk, lobbyOptions, TokenRequest{Identity: identity, Name: name, Grant: &Grant{}}, now, ttl)
	// The pass is a reserved attribute, which TokenRequest.Attributes may
	// not carry, so it goes into the claims directly.
	c.setAttribute(GuestPassAttribute, pass)
	jwt, err := m.signer.sign(&c)
	if err != nil {
		return nil, &Error{Kind: ErrUpstream, Msg: "signing failed"}
	}
	m.log.InfoContext(ctx, "guest waiting", "tenant", inv.Org, "room", inv.Room, "guest", identity)
	return &GuestSession{
		Token:     &Token{JWT: jwt, URL: m.publicURL, Room: lobby.lk, Identity: identity, ExpiresAt: now.Add(ttl).Truncate(time.Second)},
		LobbyRoom: lobby.lk,
		Identity:  identity,
		Name:      name,
	}, nil
}

// Admit admits a waiting guest on behalf of the caller's subject
// ([WithSubject]), an admin of tenant whom the guest's invite allows: it
// hands the guest a main-room token (as [Manager.Token] mints it) in an
// [AdmissionMessage] in its [AdmissionAttribute]. It may be repeated.
//
// Errors: [ErrInvalidArgument] for a malformed guest identity or subject;
// [ErrNotFound] when no such guest waits for the tenant's room (as for a
// missing or foreign room); [ErrForbidden] when the invite does not allow
// the subject, or to admit a guest banned from the room ([Manager.Ban]);
// LiveKit failures as for [Manager.Token].
func (g *Guests) Admit(ctx context.Context, tenant, room, guestIdentity string) error {
	return g.decide(ctx, operation{op: "guest admit", action: ActionGuestAdmit, tenant: tenant, room: room, target: guestIdentity}, true)
}

// Deny refuses a waiting guest under the same conditions and with the same
// errors as [Guests.Admit]: it writes a deny [AdmissionMessage] into the
// guest's [AdmissionAttribute], then closes the guest's lobby, which frees
// its place among the waiting guests.
func (g *Guests) Deny(ctx context.Context, tenant, room, guestIdentity string) error {
	return g.decide(ctx, operation{op: "guest deny", action: ActionGuestDeny, tenant: tenant, room: room, target: guestIdentity}, false)
}

// decide runs o, which admits (admit) or denies the guest o.target; see
// [Guests.Admit].
func (g *Guests) decide(ctx context.Context, o operation, admit bool) error {
	m := g.m
	op, tenant, room, guestIdentity := o.op, o.tenant, o.room, o.target
	return m.run(ctx, o, func(ctx context.Context, _ *auditRecord) error {
		subject := SubjectFrom(ctx)
		if err := validateText("GuestIdentity", guestIdentity, MaxIdentityBytes); err != nil {
			return err
		}
		if !strings.HasPrefix(guestIdentity, GuestIdentityPrefix) {
			return invalidArg("GuestIdentity", "is not a guest identity (they start with %q)", GuestIdentityPrefix)
		}
		if err := validateOptionalText("Subject", subject, MaxIdentityBytes); err != nil {
			return err
		}
		ref, _, err := m.authorize(ctx, tenant, room, false)
		if err != nil {
			return err
		}
		lobby := m.lobbyOf(ref, guestIdentity)
		p, err := m.rooms.GetParticipant(ctx, &livekit.RoomParticipantIdentity{Room: lobby.lk, Identity: guestIdentity})
		if err != nil {
			err = fromLiveKit(op, room, err)
			if errors.Is(err, ErrNotFound) {
				return errGuestNotWaiting
			}
			return err
		}
		pass := g.passOf(p, room, m.now())
		if pass == nil || (ref.checked() && pass.Org != tenant) {
			return errGuestNotWaiting
		}
		if !pass.AllowAll && (subject == "" || !slices.Contains(pass.Admins, subject)) {
			return &Error{Kind: ErrForbidden, Msg: "the guest's invite does not allow you to admit or deny it"}
		}
		msg := AdmissionMessage{Type: AdmissionDeny}
		if admit {
			if err := m.checkBan(ctx, ref, guestIdentity); err != nil {
				return err
			}
			if m.cfg.RoomNames == ScopedNames {
				// Under SharedNames authorize proved the room exists and is
				// the tenant's; a scoped room may need creating or counting.
				if err := m.prepareRoom(ctx, ref, m.cfg.PrecreateRooms, nil); err != nil {
					return err
				}
			}
			// In unauthenticated mode the guest still carries the invite's org.
			guestRef := ref
			guestRef.tenant = pass.Org
			tok, err := m.mint(ctx, op, guestRef, TokenRequest{Room: room, Identity: guestIdentity, Name: p.GetName()}, m.cfg.TokenTTL,
				map[string]string{AdmittedAttribute: "true"})
			if err != nil {
				return err
			}
			msg = AdmissionMessage{Type: AdmissionAdmit, Token: tok.JWT, URL: tok.URL, Room: room}
		}
		payload, err := json.Marshal(msg)
		if err != nil {
			return &Error{Kind: ErrUpstream, Msg: "encoding the admission failed"}
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
			m.indexFinished(ctx, ref.tenant, lobby.lk, "")
		}
		m.log.InfoContext(ctx, "guest "+msg.Type, "tenant", tenant, "subject", subject, "room", room, "guest", guestIdentity)
		return nil
	})
}

// errGuestNotWaiting is copied with the operation's op and room by run.
var errGuestNotWaiting = &Error{Kind: ErrNotFound, Msg: "no such guest is waiting for this room"}

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
