package lkgate

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/livekit/protocol/livekit"
)

// UnownedRoomPolicy says what to do, under SharedNames, with a room that
// exists in LiveKit without an owner, for example one auto-created by a
// participant joining after the room had closed, or one created by
// another tool.
type UnownedRoomPolicy int

const (
	// ClaimUnowned (the default) lets a tenant claim an unowned room only if
	// every participant in it was admitted by lkgate for that same tenant.
	// An empty unowned room is claimable: it holds nothing to leak. A room
	// with a participant from another tenant, or from a token lkgate did not
	// mint, is never claimable.
	ClaimUnowned UnownedRoomPolicy = iota
	// DenyUnowned refuses every room that exists without an owner.
	DenyUnowned
)

var (
	errOtherOwner  = &Error{Kind: ErrForbidden, Msg: "the room belongs to another tenant"}
	errUnclaimable = &Error{Kind: ErrForbidden, Msg: "the room exists outside lkgate and cannot be claimed"}
	errDenied      = &Error{Kind: ErrForbidden, Msg: "the room exists without an owner and the policy denies claiming it"}
	errForeign     = &Error{Kind: ErrForbidden, Msg: "the room has participants lkgate did not admit for this tenant"}
)

// masked turns the refusal of another tenant's name into the 404 of a
// missing room, for every operation but Token, whose 403 is the published
// API's.
func masked(err error) error {
	switch err {
	case errOtherOwner, errUnclaimable, errDenied, errForeign:
		return errRoomNotFound
	}
	return err
}

// ensureShared makes sure ref's room exists and belongs to its tenant,
// creating and claiming it if needed, within the tenant's room quota.
//
// Once the look-up finds the name not the tenant's, the claim is audited
// (room.claim) whatever its outcome: refused (another tenant's name, a
// room that cannot or may not be claimed, the room quota) or failed,
// unless the quota's count finds the claim made meanwhile.
func (m *Manager) ensureShared(ctx context.Context, ref roomRef, agents []AgentDispatch) error {
	room, err := m.lookupRoom(ctx, ref)
	if err != nil {
		return err
	}
	if room != nil && ownedBy(room.GetMetadata(), ref.tenant) {
		return nil
	}
	existed, tried := room != nil, false
	err = func() error {
		if existed {
			switch owner, state := ownerOf(room.GetMetadata()); state {
			case owned:
				return ownerCheck(owner, ref.tenant)
			case unclaimable:
				return errUnclaimable
			}
		}
		claim := func() error { tried = true; return m.claim(ctx, ref, existed, agents) }
		l, err := m.limitsOf(ctx, ref.tenant)
		if err != nil {
			return err
		}
		if l.MaxRooms == 0 {
			return claim()
		}
		return m.counted(ctx, ref, l.MaxRooms, claim)
	}()
	if tried || err != nil {
		m.audit(ctx, AuditEvent{Tenant: ref.tenant, Action: ActionRoomClaim, Room: ref.name, Details: map[string]string{"existed": strconv.FormatBool(existed)}}, err)
	}
	return err
}

// claim takes the name's lease, creates the room if needed (with empty
// metadata: newer LiveKit servers overwrite the metadata of an existing
// room on CreateRoom), then writes the owner, all under the room's lock.
func (m *Manager) claim(ctx context.Context, ref roomRef, existed bool, agents []AgentDispatch) error {
	unlock, err := m.lock(ctx, "lkgate:room:"+ref.lk, "the room's claim lock")
	if err != nil {
		return err
	}
	defer unlock()
	// An existing room's participants are checked before the lease is
	// taken: a refused claim must not lease the name, or a tenant could
	// keep it from the tenant whose participants are in the room.
	if existed {
		if err := m.claimable(ctx, ref); err != nil {
			return err
		}
	}
	// The lease settles which tenant gets a name, across replicas and
	// restarts, and keeps it from the next tenant while the last one's
	// tokens live; the metadata then records the owner for LiveKit's side.
	if err := m.lease(ctx, ref, m.now().Add(leaseWindow)); err != nil {
		return err
	}
	if existed {
		agents = nil // CreateRoom will be a get: the room's dispatches are set
	}
	room, err := m.createRoom(ctx, ref, agents)
	if err != nil {
		return err
	}
	switch owner, state := ownerOf(room.GetMetadata()); state {
	case owned:
		return ownerCheck(owner, ref.tenant)
	case unclaimable:
		return errUnclaimable
	}
	// NumParticipants lags, but a non-zero count proves someone joined
	// between the first read and CreateRoom.
	if !existed && room.GetNumParticipants() > 0 {
		if err := m.claimable(ctx, ref); err != nil {
			return err
		}
	}
	metadata, err := metadataWithOwner(room.GetMetadata(), ref.tenant)
	if err != nil {
		return err
	}
	// The answer of UpdateRoomMetadata is the running room and confirms the
	// claim; a re-read through ListRooms would not: LiveKit's room store
	// trails metadata updates, and a stale read looks like a lost claim.
	claimed, err := m.rooms.UpdateRoomMetadata(ctx, &livekit.UpdateRoomMetadataRequest{Room: ref.lk, Metadata: metadata})
	m.listed.invalidate() // the owner decides who lists the room
	if err != nil {
		if !existed && room.GetNumParticipants() == 0 {
			m.abandonRoom(ctx, ref)
		}
		return fromLiveKit("claim room", ref.name, err)
	}
	if owner, state := ownerOf(claimed.GetMetadata()); state != owned || owner != ref.tenant {
		// Someone wrote the metadata between our write and LiveKit's
		// answer, outside our lock: another tool, or a replica with its
		// own in-process lock.
		m.log.WarnContext(ctx, "room claim lost to a writer outside the lock", "room", ref.name, "tenant", ref.tenant)
		if state == owned {
			return errOtherOwner
		}
		return &Error{Kind: ErrConflict, Msg: "the room's metadata changed while being claimed; retry"}
	}
	m.indexStarted(ctx, ref.tenant, claimed)
	m.log.InfoContext(ctx, "room claimed", "room", ref.name, "tenant", ref.tenant, "existed", existed)
	return nil
}

// abandonRoom deletes a room this claim created but failed to claim, so
// that it is not left ownerless (which DenyUnowned would then refuse until
// LiveKit's empty timeout closes it). Best effort, in the background on its
// own deadline, outside the client's budget: the claim's context may be what
// failed, and the client need not wait for the delete.
func (m *Manager) abandonRoom(ctx context.Context, ref roomRef) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	m.bgWork.Add(1)
	go func() {
		defer m.bgWork.Done()
		defer cancel()
		_, err := m.rooms.DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: ref.lk})
		m.listed.invalidate()
		// A room gone already is what the delete is for.
		if err = fromLiveKit("delete room", ref.name, err); errors.Is(err, ErrNotFound) {
			err = nil
		}
		if err != nil {
			m.logFailure(ctx, slog.LevelWarn, "could not delete a room whose claim failed", err, slog.String("room", ref.name))
		}
		m.audit(ctx, AuditEvent{Tenant: ref.tenant, Action: ActionRoomDelete, Room: ref.name, Details: map[string]string{"reason": "claim_failed"}}, err)
	}()
}

// cleanupTimeout bounds the deletion of an abandoned room.
const cleanupTimeout = 2 * time.Second

// claimable applies the UnownedRooms policy to an unowned room that
// exists: ClaimUnowned refuses it if anyone in it was not admitted by
// lkgate for ref's tenant.
func (m *Manager) claimable(ctx context.Context, ref roomRef) error {
	if m.cfg.UnownedRooms == DenyUnowned {
		return errDenied
	}
	res, err := m.rooms.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: ref.lk})
	if err != nil {
		return fromLiveKit("list participants", ref.name, err)
	}
	for _, p := range res.GetParticipants() {
		if p.GetAttributes()[TenantAttribute] != ref.tenant {
			return errForeign
		}
	}
	return nil
}

func ownerCheck(owner, tenant string) error {
	if owner != tenant {
		return errOtherOwner
	}
	return nil
}
