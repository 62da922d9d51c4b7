package lkgate

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/livekit/protocol/livekit"
)

// OwnerKey is the key of room metadata (a JSON object) that names the
// tenant owning the room. Other keys are preserved on every write.
const OwnerKey = "auth_id"

// MaxRoomMetadataBytes is the largest room metadata LiveKit's
// UpdateRoomMetadata accepts.
const MaxRoomMetadataBytes = 64000

type ownerState int

const (
	unowned     ownerState = iota
	owned                  // a non-empty string under OwnerKey
	unclaimable            // metadata lkgate cannot add an owner to without destroying it
)

// ownerOf reads the owner from room metadata.
func ownerOf(metadata string) (string, ownerState) {
	if metadata == "" {
		return "", unowned
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(metadata), &fields); err != nil || fields == nil {
		return "", unclaimable
	}
	raw, ok := fields[OwnerKey]
	if !ok {
		return "", unowned
	}
	var owner string
	if err := json.Unmarshal(raw, &owner); err != nil {
		return "", unclaimable
	}
	if owner == "" {
		return "", unowned
	}
	return owner, owned
}

// ownedBy reports whether metadata names tenant as the room's owner.
func ownedBy(metadata, tenant string) bool {
	if ownsPlain(metadata, tenant) {
		return true
	}
	owner, state := ownerOf(metadata)
	return state == owned && owner == tenant
}

// ownsPlain recognises, without parsing, metadata exactly as lkgate writes
// it for a room with no other keys: the hot path of every token for an
// owned room. It is sound because a validated tenant has no control
// characters or invalid UTF-8, so without '"' or '\\' it is a literal JSON
// string that decodes to itself.
func ownsPlain(metadata, tenant string) bool {
	const prefix, suffix = `{"auth_id":"`, `"}`
	return len(metadata) == len(prefix)+len(tenant)+len(suffix) &&
		strings.HasPrefix(metadata, prefix) && strings.HasSuffix(metadata, suffix) &&
		metadata[len(prefix):len(metadata)-len(suffix)] == tenant && !strings.ContainsAny(tenant, `"\\`)
}

// metadataWithOwner returns metadata with OwnerKey set to tenant, every
// other key kept as it was.
func metadataWithOwner(metadata, tenant string) (string, error) {
	fields := map[string]json.RawMessage{}
	if metadata != "" {
		if err := json.Unmarshal([]byte(metadata), &fields); err != nil || fields == nil {
			return "", &Error{Kind: ErrConflict, Msg: "room metadata is not a JSON object, so it cannot record an owner"}
		}
	}
	owner, _ := json.Marshal(tenant)
	fields[OwnerKey] = owner
	out, err := json.Marshal(fields)
	if err != nil {
		return "", &Error{Kind: ErrConflict, Msg: "room metadata cannot be re-encoded"}
	}
	if len(out) > MaxRoomMetadataBytes {
		return "", &Error{Kind: ErrConflict, Msg: "room metadata with an owner would exceed LiveKit's 64000-byte limit"}
	}
	return string(out), nil
}

var (
	errOtherOwner  = &Error{Kind: ErrForbidden, Msg: "the room belongs to another tenant"}
	errUnclaimable = &Error{Kind: ErrForbidden, Msg: "the room exists outside lkgate and cannot be claimed"}
	errDenied      = &Error{Kind: ErrForbidden, Msg: "the room exists without an owner and the policy denies claiming it"}
	errForeign     = &Error{Kind: ErrForbidden, Msg: "the room has participants lkgate did not admit for this tenant"}
)

// ensureRoom makes sure room exists and belongs to tenant, creating and
// claiming it if needed. Concurrent calls for the same tenant and room share
// one run, which continues even if the caller that started it goes away, so
// a claim is never abandoned halfway by a client hanging up.
func (m *Manager) ensureRoom(ctx context.Context, tenant, room string) error {
	// Every claim passes here, whichever operation asks: a lobby must never
	// become a tenant's room.
	if err := validateRoomName("Room", room); err != nil {
		return err
	}
	ch := m.ensures.DoChan(tenant+"\x00"+room, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.EnsureTimeout)
		defer cancel()
		return nil, m.ensureRoomOnce(fctx, tenant, room)
	})
	select {
	case res := <-ch:
		return res.Err
	case <-ctx.Done():
		return contextError(ctx.Err(), "ensuring the room")
	}
}

func (m *Manager) ensureRoomOnce(ctx context.Context, tenant, name string) error {
	room, err := m.lookupRoom(ctx, name)
	if err != nil {
		return err
	}
	if room != nil {
		if ownedBy(room.Metadata, tenant) {
			return nil
		}
		switch owner, state := ownerOf(room.Metadata); state {
		case owned:
			return ownerCheck(owner, tenant)
		case unclaimable:
			return errUnclaimable
		}
	}
	return m.claimRoom(ctx, tenant, name, room != nil)
}

// claimRoom claims name for tenant, within the tenant's room quota.
//
// The quota is counted from LiveKit, the one source of truth (rooms close
// on their own), under a per-tenant lock, before anything is created: a
// refused request leaves no room behind. The lock is held until LiveKit's
// room list shows the claim, so the next count, here or on another replica,
// sees it. With a quota a new room costs two more calls (the count and the
// settle read); without one, nothing changes.
func (m *Manager) claimRoom(ctx context.Context, tenant, name string, existed bool) error {
	l, err := m.limitsOf(ctx, tenant)
	if err != nil {
		return err
	}
	if l.MaxRooms == 0 {
		return m.claimUnderLock(ctx, tenant, name, existed)
	}
	unlock, err := m.lock(ctx, "lkgate:tenant-rooms:"+tenant, "the tenant's room quota lock")
	if err != nil {
		return err
	}
	defer unlock()
	n, mine, err := m.countRooms(ctx, tenant, name)
	if err != nil || mine {
		return err
	}
	if n >= l.MaxRooms {
		err := limited(LimitMaxRooms, QuotaRetryAfter, "the tenant owns %d rooms, its limit (max_rooms)", n)
		m.audit(ctx, AuditEvent{Tenant: tenant, Action: ActionRoomClaim, Room: name}, err)
		return err
	}
	if err := m.claimUnderLock(ctx, tenant, name, existed); err != nil {
		return err
	}
	m.settleClaim(ctx, tenant, name)
	return nil
}

// countRooms counts the rooms tenant owns, and reports whether name is one.
func (m *Manager) countRooms(ctx context.Context, tenant, name string) (n int, mine bool, err error) {
	res, err := m.rooms.ListRooms(ctx, &livekit.ListRoomsRequest{})
	if err != nil {
		return 0, false, fromLiveKit("list rooms", name, err)
	}
	for _, r := range res.GetRooms() {
		if mayName(r.GetMetadata(), tenant) && ownedBy(r.GetMetadata(), tenant) {
			n++
			mine = mine || r.GetName() == name
		}
	}
	return n, mine, nil
}

// settleClaim waits, boundedly, until LiveKit's room list shows name owned
// by tenant: the list trails metadata updates by milliseconds.
func (m *Manager) settleClaim(ctx context.Context, tenant, name string) {
	deadline := time.Now().Add(settleTimeout)
	for {
		room, err := m.lookupRoom(ctx, name)
		if err != nil || room == nil || ownedBy(room.GetMetadata(), tenant) {
			return
		}
		if time.Now().After(deadline) {
			m.log.WarnContext(ctx, "LiveKit's room list did not show a claim in time; the next room count may miss it", "room", name, "tenant", tenant)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(settleInterval):
		}
	}
}

const (
	settleTimeout  = time.Second
	settleInterval = 2 * time.Millisecond
)

// lock takes the Locker's lock named key, converting its failures.
func (m *Manager) lock(ctx context.Context, key, what string) (unlock func(), err error) {
	unlock, err = m.locker.Lock(ctx, key)
	if err != nil {
		if ctx.Err() != nil {
			return nil, contextError(ctx.Err(), "waiting for "+what)
		}
		m.log.ErrorContext(ctx, "lock failed", "key", key, "error", err.Error())
		return nil, &Error{Kind: ErrUnavailable, Msg: what + " is unavailable"}
	}
	return unlock, nil
}

// claimUnderLock creates the room if needed (with empty metadata: newer
// LiveKit servers overwrite the metadata of an existing room on
// CreateRoom), then writes the owner under the room's lock. Three LiveKit
// calls in all with the first read of ensureRoomOnce.
func (m *Manager) claimUnderLock(ctx context.Context, tenant, name string, existed bool) error {
	unlock, err := m.lock(ctx, "lkgate:room:"+name, "the room's claim lock")
	if err != nil {
		return err
	}
	defer unlock()

	room, err := m.rooms.CreateRoom(ctx, &livekit.CreateRoomRequest{
		Name:             name,
		EmptyTimeout:     durationSeconds(m.cfg.Room.EmptyTimeout),
		DepartureTimeout: durationSeconds(m.cfg.Room.DepartureTimeout),
		MaxParticipants:  m.cfg.Room.MaxParticipants,
	})
	if err != nil {
		return fromLiveKit("create room", name, err)
	}
	switch owner, state := ownerOf(room.Metadata); state {
	case owned:
		return ownerCheck(owner, tenant)
	case unclaimable:
		return errUnclaimable
	}
	// NumParticipants lags, but a non-zero count proves someone joined first.
	if existed || room.NumParticipants > 0 {
		if m.cfg.UnownedRooms == DenyUnowned {
			return errDenied
		}
		if err := m.checkProvenance(ctx, tenant, name); err != nil {
			return err
		}
	}
	metadata, err := metadataWithOwner(room.Metadata, tenant)
	if err != nil {
		return err
	}
	// The answer of UpdateRoomMetadata is the running room and confirms the
	// claim; a re-read through ListRooms would not: LiveKit's room store
	// trails metadata updates, and a stale read looks like a lost claim.
	claimed, err := m.rooms.UpdateRoomMetadata(ctx, &livekit.UpdateRoomMetadataRequest{Room: name, Metadata: metadata})
	if err != nil {
		if !existed && room.NumParticipants == 0 {
			m.abandonRoom(ctx, name)
		}
		return fromLiveKit("claim room", name, err)
	}
	if owner, state := ownerOf(claimed.GetMetadata()); state != owned || owner != tenant {
		// Someone wrote the metadata between our write and LiveKit's
		// answer, outside our lock: another tool, or a replica with its
		// own in-process lock.
		m.log.WarnContext(ctx, "room claim lost to a writer outside the lock", "room", name, "tenant", tenant)
		if state == owned {
			return errOtherOwner
		}
		return &Error{Kind: ErrConflict, Msg: "the room's metadata changed while being claimed; retry"}
	}
	m.log.InfoContext(ctx, "room claimed", "room", name, "tenant", tenant, "existed", existed)
	m.audit(ctx, AuditEvent{Tenant: tenant, Action: ActionRoomClaim, Room: name, Details: map[string]string{"existed": strconv.FormatBool(existed)}}, nil)
	return nil
}

// abandonRoom deletes a room this ensure created but failed to claim, so
// that it is not left ownerless (which DenyUnowned would then refuse until
// LiveKit's empty timeout closes it). Best effort, on its own deadline: the
// claim's context may be what failed.
func (m *Manager) abandonRoom(ctx context.Context, name string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if _, err := m.rooms.DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: name}); err != nil {
		m.log.WarnContext(ctx, "could not delete a room whose claim failed", "room", name, "error", fromLiveKit("delete room", name, err).Error())
	}
}

// checkProvenance refuses a claim if anyone in the room was not admitted by
// lkgate for tenant.
func (m *Manager) checkProvenance(ctx context.Context, tenant, name string) error {
	res, err := m.rooms.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: name})
	if err != nil {
		return fromLiveKit("list participants", name, err)
	}
	for _, p := range res.GetParticipants() {
		if p.GetAttributes()[TenantAttribute] != tenant {
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

// lookupRoom returns the room named name, or nil if it does not exist.
func (m *Manager) lookupRoom(ctx context.Context, name string) (*livekit.Room, error) {
	res, err := m.rooms.ListRooms(ctx, &livekit.ListRoomsRequest{Names: []string{name}})
	if err != nil {
		return nil, fromLiveKit("list rooms", name, err)
	}
	for _, r := range res.GetRooms() {
		if r.GetName() == name {
			return r, nil
		}
	}
	return nil, nil
}

func contextError(err error, doing string) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Kind: ErrTimeout, Msg: "deadline exceeded while " + doing}
	}
	return &Error{Kind: ErrUnavailable, Msg: "canceled while " + doing}
}
