package lkgate

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"
)

// CallAttribute is set on the SIP participant of a call that holds a
// concurrent-call slot (Limits.MaxConcurrentSIPCalls): the call's own id,
// by which [SIP.ReleaseCall] frees that call's slot and no other.
const CallAttribute = reservedAttributePrefix + "call"

// callSlot is one call's hold on its tenant's concurrent calls: one of the
// tenant's slots (key, held by room, identity and call id) and the only
// slot of its room and identity (line, held by the call id), which makes a
// second call to the same participant a refusal rather than a replacement.
type callSlot struct{ tenant, room, identity, id string }

func (s callSlot) key() string    { return limitKey(LimitMaxConcurrentSIPCalls, s.tenant) }
func (s callSlot) holder() string { return s.room + "\x00" + s.identity + "\x00" + s.id }
func (s callSlot) line() string   { return s.key() + "\x00" + s.room + "\x00" + s.identity }

// takeCallSlot takes a slot for a call to identity in the LiveKit room
// room, under the tenant's MaxConcurrentSIPCalls (slot is nil without that
// limit), then one event of its call rate, so that a call refused by the
// rate holds no slot. release frees the slot of a call that did not start.
func (m *Manager) takeCallSlot(ctx context.Context, tenant, room, identity string) (slot *callSlot, release func(), err error) {
	l, err := m.limitsOf(ctx, tenant)
	if err != nil {
		return nil, nil, err
	}
	release = func() {}
	if l.MaxConcurrentSIPCalls > 0 {
		s := callSlot{tenant: tenant, room: room, identity: identity, id: rand.Text()}
		if err := m.acquireCall(ctx, s, l.MaxConcurrentSIPCalls); err != nil {
			return nil, nil, err
		}
		slot, release = &s, func() { m.freeCallSlot(ctx, s) }
	}
	if err := m.allow(ctx, tenant, LimitSIPCallRate, l.SIPCallRate); err != nil {
		release()
		return nil, nil, err
	}
	return slot, release, nil
}

// acquireCall takes s's line, then one of the tenant's max slots. Before
// either refuses, the settled slots are reconciled with LiveKit.
func (m *Manager) acquireCall(ctx context.Context, s callSlot, max int) error {
	acquire := func(key, holder string, n int, line *callSlot) (bool, error) {
		ok, err := m.limits.Acquire(ctx, key, holder, n, sipCallLease)
		if err == nil && !ok && m.reconcileCalls(ctx, s.tenant, line) {
			ok, err = m.limits.Acquire(ctx, key, holder, n, sipCallLease)
		}
		return ok, err
	}
	ok, err := acquire(s.line(), s.id, 1, &s)
	if err != nil {
		return m.limitStoreError(ctx, LimitMaxConcurrentSIPCalls, err)
	}
	if !ok {
		return &Error{Kind: ErrCallInProgress, Field: "Identity", Msg: "a call to this participant is in progress; it must end before another is placed"}
	}
	ok, err = acquire(s.key(), s.holder(), max, nil)
	if err != nil || !ok {
		m.freeCallSlot(ctx, s)
	}
	if err != nil {
		return m.limitStoreError(ctx, LimitMaxConcurrentSIPCalls, err)
	}
	if !ok {
		return limited(LimitMaxConcurrentSIPCalls, QuotaRetryAfter,
			"the tenant has %d SIP calls in progress, its limit (max_concurrent_sip_calls)", max)
	}
	return nil
}

// releaseCallSlot frees both of s's slots; freeing a free slot is no error.
func (m *Manager) releaseCallSlot(ctx context.Context, s callSlot) error {
	return errors.Join(m.limits.Release(ctx, s.key(), s.holder()), m.limits.Release(ctx, s.line(), s.id))
}

// freeCallSlot frees s's slots for a call that did not start, even if
// ctx is done; a failure leaves them to their lease or a reconcile.
func (m *Manager) freeCallSlot(ctx context.Context, s callSlot) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := m.releaseCallSlot(ctx, s); err != nil {
		m.logFailure(ctx, slog.LevelWarn, "could not release a SIP call slot; its lease will expire", err)
	}
}

// callSettle is how old a slot must be before a reconcile may free it: a
// call being dialed (ringing up to MaxRingingTimeout) may not have joined
// its room yet.
const callSettle = MaxRingingTimeout + time.Minute

// reconcileCalls frees the slots of calls whose participant is gone, which
// a lost or unconfigured participant_left webhook leaves held: the
// tenant's settled slots and, when line is set, the settled holder of its
// room and identity (which a release that failed halfway may leave alone).
// A call is gone when no participant of its room carries its
// CallAttribute. It reports whether it freed any.
func (m *Manager) reconcileCalls(ctx context.Context, tenant string, line *callSlot) bool {
	settledBefore := m.now().Add(sipCallLease - callSettle)
	calls := map[callSlot]bool{}
	held, err := m.limits.Holders(ctx, limitKey(LimitMaxConcurrentSIPCalls, tenant))
	if err != nil {
		return false
	}
	for holder, expires := range held {
		room, rest, ok := strings.Cut(holder, "\x00")
		identity, id, ok2 := strings.Cut(rest, "\x00")
		if ok && ok2 && expires.Before(settledBefore) {
			calls[callSlot{tenant: tenant, room: room, identity: identity, id: id}] = true
		}
	}
	if line != nil {
		ids, err := m.limits.Holders(ctx, line.line())
		if err != nil {
			return false
		}
		for id, expires := range ids {
			if expires.Before(settledBefore) {
				calls[callSlot{tenant: tenant, room: line.room, identity: line.identity, id: id}] = true
			}
		}
	}
	byRoom := map[string][]callSlot{}
	for s := range calls {
		byRoom[s.room] = append(byRoom[s.room], s)
	}
	freed := false
	for room, slots := range byRoom {
		res, err := m.rooms.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: room})
		if err != nil && !errors.Is(fromLiveKit("list participants", room, err), ErrNotFound) {
			continue
		}
		live := map[string]bool{}
		for _, p := range res.GetParticipants() {
			if id := p.GetAttributes()[CallAttribute]; id != "" {
				live[p.GetIdentity()+"\x00"+id] = true
			}
		}
		for _, s := range slots {
			if !live[s.identity+"\x00"+s.id] && m.releaseCallSlot(ctx, s) == nil {
				freed = true
			}
		}
	}
	return freed
}

// ReleaseCall frees the concurrent-call slot of the SIP call whose
// participant_left webhook ev reports, and ignores every other event.
//
// Only the call named by the participant's [CallAttribute] is freed, so a
// late or repeated event of an earlier call to the same room and identity
// frees nothing. Slots whose webhook never comes are freed when a call
// would otherwise be refused (see [Limits].MaxConcurrentSIPCalls). The
// error wraps [ErrUnavailable] when the limit store fails.
func (s *SIP) ReleaseCall(ctx context.Context, ev *livekit.WebhookEvent) error {
	m := s.m
	b := m.withBudget(ctx, m.cfg.RequestTimeout)
	defer b.cancel()
	ctx = b
	p, room := ev.GetParticipant(), ev.GetRoom()
	if ev.GetEvent() != webhook.EventParticipantLeft || p == nil || room == nil || p.GetKind() != livekit.ParticipantInfo_SIP {
		return nil
	}
	id := p.GetAttributes()[CallAttribute]
	if id == "" {
		return nil // a call placed without a slot, or not by lkgate
	}
	tenant, ok := p.GetAttributes()[TenantAttribute]
	if !ok {
		if tenant, _, ok = ParseScopedRoomName(room.GetName()); !ok {
			tenant, _ = ownerOf(room.GetMetadata())
		}
	}
	if err := m.releaseCallSlot(ctx, callSlot{tenant: tenant, room: room.GetName(), identity: p.GetIdentity(), id: id}); err != nil {
		return m.limitStoreError(ctx, LimitMaxConcurrentSIPCalls, err)
	}
	return nil
}
