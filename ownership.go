package lkgate

import (
	"context"
	"encoding/json"
	"errors"
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
		switch owner, state := ownerOf(room.Metadata); state {
		case owned:
			return ownerCheck(owner, tenant)
		case unclaimable:
			return errUnclaimable
		}
	}
	return m.claimRoom(ctx, tenant, name, room != nil)
}

// claimRoom creates the room if needed (with empty metadata: newer LiveKit
// servers overwrite the metadata of an existing room on CreateRoom), then
// writes the owner under the room's lock and reads it back.
func (m *Manager) claimRoom(ctx context.Context, tenant, name string, existed bool) error {
	unlock, err := m.locker.Lock(ctx, "lkgate:room:"+name)
	if err != nil {
		return contextError(err, "waiting for the room's claim lock")
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
	if _, err := m.rooms.UpdateRoomMetadata(ctx, &livekit.UpdateRoomMetadataRequest{Room: name, Metadata: metadata}); err != nil {
		return fromLiveKit("claim room", name, err)
	}
	confirmed, err := m.confirmClaim(ctx, name)
	if err != nil {
		return err
	}
	if confirmed == nil {
		return &Error{Kind: ErrConflict, Msg: "the room closed while being claimed; retry"}
	}
	owner, state := ownerOf(confirmed.Metadata)
	if state != owned || owner != tenant {
		// Someone wrote the metadata without our lock: another replica
		// with its own in-process lock, or another tool.
		m.log.WarnContext(ctx, "room claim lost to a writer outside the lock", "room", name, "tenant", tenant)
		if state == owned {
			return errOtherOwner
		}
		return &Error{Kind: ErrConflict, Msg: "the room's metadata changed while being claimed; retry"}
	}
	m.log.InfoContext(ctx, "room claimed", "room", name, "tenant", tenant, "existed", existed)
	return nil
}

// Confirming a claim re-reads the room until it shows an owner, a few
// times: a livekit-server backed by Redis (as SIP needs) answers ListRooms
// from its store, which lags UpdateRoomMetadata by a few milliseconds
// (measured: 3 reads in 100 stale, for up to 3.4 ms).
const (
	confirmReads = 10
	confirmPause = 5 * time.Millisecond
)

// confirmClaim returns the room as read after the claim, once it shows an
// owner or after confirmReads reads; nil if the room is gone.
func (m *Manager) confirmClaim(ctx context.Context, name string) (*livekit.Room, error) {
	for i := 1; ; i++ {
		room, err := m.lookupRoom(ctx, name)
		if err != nil || i == confirmReads {
			return room, err
		}
		if room != nil {
			if _, state := ownerOf(room.Metadata); state == owned {
				return room, nil
			}
		}
		select {
		case <-time.After(confirmPause):
		case <-ctx.Done():
			return nil, contextError(ctx.Err(), "confirming the room's claim")
		}
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
