// Package lkgate puts a multi-tenant management layer in front of LiveKit.
// A Go backend uses it to mint participant tokens and to run
// ownership-checked operations on rooms, participants, guests and SIP
// calls, without ever handing LiveKit credentials or admin power to its
// clients. The httpx subpackage serves the same operations as net/http
// handlers; lkgatetest is an in-memory LiveKit for tests; redislimit shares
// per-tenant limits and shared names' leases between replicas; redislock
// shares the claim lock; otelmetrics reports OpenTelemetry metrics.
//
// # Tenants and their rooms
//
// Every tenant-scoped method takes the tenant explicitly:
//
//	tok, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: "standup", Identity: "alice"})
//
// LiveKit's room names are global, and a LiveKit token names a room, not a
// room instance or a tenant; LiveKit also hands every connected
// participant a fresh ten-minute token for that name, again on every
// rejoin. Config.RoomNames chooses how lkgate keeps tenants apart all the
// same.
//
// ScopedNames, the default, gives each tenant its own namespace: tenant
// acme's room "standup" is the LiveKit room ScopedRoomName("acme",
// "standup"), "t4_acme_standup", which no token minted for another tenant
// can ever name. Isolation holds by construction, whatever happens to a
// room between a token's minting and its use, with or without webhooks,
// across restarts and replicas. Two tenants can both have "standup", and
// neither can tell whether the other has. The API speaks the tenant's
// names in and out (requests, answers, errors, audit events, webhook
// callbacks); ParseScopedRoomName maps a LiveKit name back without a key
// or a store, for agents, egress and webhook handlers. A token costs no
// LiveKit call: the first join creates the room, with Config.Room and the
// request's agents, which the token carries (only agents Config.AllowAgent
// approves for the tenant: none by default). Config.PrecreateRooms creates
// rooms first instead (one idempotent CreateRoom), and a room quota counts
// and creates them under a lock.
//
// SharedNames keeps the seed API's global names: the first tenant to use a
// name owns it (OwnerKey, "auth_id", in the room's metadata, claimed under
// a per-room Locker and confirmed by LiveKit's answer), another tenant's
// name is ErrForbidden on Token and ErrNotFound elsewhere, and
// Config.UnownedRooms decides about rooms that exist without an owner. It
// is made sound by leases (Config.Leases): a name stays with the tenant
// that used it until every token naming it, refreshed ones included, has
// expired, and a sweep of LiveKit's open rooms, not webhooks, carries a
// lease past a room's last participant.
//
// In both modes every token records its tenant in TenantAttribute, and the
// join guard removes a participant of another tenant as defence in depth.
// The empty tenant is unauthenticated mode: no checks and no LiveKit call
// to mint, refused (ErrUnauthenticated) unless Config.AllowUnauthenticated
// is set; under ScopedNames it lives among the plain names and cannot
// reach a tenant's.
//
// What each operation costs in LiveKit round trips, under either naming, is
// README's cost table, which TestDocsCallCounts measures on the fake: one
// statement of the costs, checked. Invalid input costs no call, nor does a
// refusal by a rate or a policy, and concurrent identical preparations of a
// room share one run.
//
// # Tokens
//
// Client tokens carry a room join for one room and the Grant's publish,
// subscribe and data permissions, nothing more. Powers LiveKit does not
// confine to a room (roomCreate, roomList, roomRecord, ingress and SIP
// admin) and canUpdateOwnMetadata appear only when the host sets them in
// TokenRequest.Elevated.
//
// # Rooms and participants
//
// ListRooms lists only the tenant's rooms. Every tenant's lists share
// one LiveKit answer for Config.ListStaleness; with Config.RoomIndex they
// ask LiveKit for the tenant's indexed rooms by name instead, so that a
// list costs the tenant's rooms rather than every room (IndexRoomEvent
// and ReconcileRoomIndex keep the index). Room, RemoveParticipant,
// MuteTrack, UpdatePermissions, SIP.Transfer, Guests.Admit, Guests.Deny
// and Guests.Waiting all pass one gate that answers ErrNotFound alike for a
// room that does not exist and one of another tenant, and every one
// validates all its input before its first LiveKit call. MuteTrack and
// UpdatePermissions look the participant up first, answering an unknown
// one at once where LiveKit stalls about 3 s and answers "unavailable"
// (and, for an unknown track, never answers).
//
// # The join guard
//
// GuardJoin, fed LiveKit's participant_joined webhooks (httpx does it,
// after VerifyWebhook), removes a participant whose TenantAttribute is not
// the tenant of the room it joined. It is defence in depth, never the only
// defence: LiveKit v1.8.4 reports a participant only once it is active, so
// a client that stays on the signalling connection is never seen. Under
// ScopedNames no token lkgate mints can name another tenant's room, and
// under SharedNames leases keep a name from the next tenant while the
// last one's tokens live. ResolveWebhook maps any event's room to its
// tenant and name.
//
// A webhook's signature stays valid for minutes, so a captured delivery
// (a SIP participant_left that frees a call slot, say) could be sent
// again. WebhookDeadline bounds an event's life to WebhookWindow from its
// created_at, the signature's own window, and a SeenEvents store
// remembers every id handled within it (NewMemorySeenEvents for one
// process, redislimit's Store for replicas): httpx refuses the old event
// and answers a replay as a duplicate.
//
// # Guests
//
// With the Guests that NewGuests builds from a Manager and a GuestConfig, a
// tenant invites guests who have no account: Invite returns a URL carrying
// a compact JWE (dir + A256GCM, with a kid for key rotation and a required
// exp) bound to the org and the room. RoomAuth redeems it for a token to
// the guest's own lobby room, with no permission at all, and a
// server-generated identity. The guest's admission pass travels with it in
// LiveKit, as an encrypted participant attribute it cannot change, so Admit
// and Deny need no database: they find the guest in its lobby and check the
// pass and the caller (AllowAll, or the caller's subject among the invite's
// admins, which default to the inviting subject). Admit sends the guest a
// main-room token through LiveKit, in the guest's own participant attribute
// AdmissionAttribute (see AdmissionMessage); Deny sends a deny and closes
// the lobby. Waiting lists who waits. The subject always comes from the
// context (WithSubject), for these checks as for audit events. Every
// waiting guest holds a lobby room in LiveKit, so the guests that may wait
// at once are capped per room and per tenant, and their arrival rate too,
// by default (Limits.MaxWaitingGuestsPerRoom, MaxWaitingGuests,
// GuestWaitRate): room-auth counts the tenant's lobbies and opens the new
// one under the tenant's lock before it hands out the token, so that a
// leaked invite cannot open rooms without bound.
//
// Admission travels in an attribute, not a data packet: LiveKit drops data
// sent to a participant whose data channel is not open yet (measured: every
// packet lost when the guest was admitted right after joining), while
// attributes are participant state, sent over the signalling connection and
// again on every reconnect.
//
// # SIP
//
// The SIP that NewSIP builds from a Manager and a SIPConfig dials a number
// into a room of the tenant (Call) and transfers a SIP participant's call
// (Transfer). SIPConfig.Trunks names the outbound trunk of each tenant
// (TenantTrunks, StaticTrunk, or your own TrunkPolicy): requests never
// carry a trunk, a SIP address or credentials. SIPConfig.AllowDestination
// guards against toll fraud (AllowPrefixes), and SIPConfig.AllowCallerID
// decides which caller numbers a tenant may present (AllowCallerIDs);
// without it a call shows its trunk's number and no other. Every check runs
// before LiveKit is called, and the room is created in the tenant's
// namespace (claimed, under SharedNames) before anything is dialed, so a
// call never lands in another tenant's room. The callee joins carrying
// TenantAttribute, like every participant lkgate admits.
//
// Under Limits.MaxConcurrentSIPCalls each call holds a slot of its own,
// named by CallAttribute, until its participant leaves; a call to the room
// and identity of a call in progress is ErrCallInProgress: LiveKit would
// replace that participant, hanging up its call, so such a call is refused
// rather than dialed. SIP.ReleaseCall, fed LiveKit's participant_left
// webhooks (httpx does it), frees the slot of the call named by the
// participant's CallAttribute and no other, so a late or repeated event of
// an earlier call frees nothing; slots whose webhook is lost are freed when
// a call would otherwise be refused, by checking LiveKit for calls that
// settled at least three minutes ago. Transfer returns only once LiveKit
// reports the transfer complete: the far end accepted the REFER and
// reported the new call connected.
//
// # Errors
//
// Every error is an *Error that matches one sentinel with errors.Is:
// ErrInvalidArgument (with Error.Field), ErrUnauthenticated, ErrForbidden,
// ErrNotFound, ErrConflict (refined by ErrCallInProgress), ErrUnavailable,
// ErrTimeout, ErrUpstream, ErrNotConfigured, ErrLimited (with Error.Limit
// and Error.RetryAfter), or for what the far end of a call answered,
// ErrBusy, ErrDeclined, ErrNoAnswer, ErrCallFailed, ErrTransferRefused or
// ErrTransferFailed (with Error.SIPStatus when LiveKit reports it).
// LiveKit's twirp and gRPC errors are converted at the boundary, and
// anything secret-shaped in their messages (tokens, name=value secrets,
// Bearer credentials, URL passwords; see Redact) is redacted. Store, lock,
// policy and LiveKit failures are logged through Manager.Redact, which
// also removes the Manager's API secret and invite keys, and aggregated
// (see Config.Logger).
//
// # Limits and audit
//
// Config.Limits caps what each tenant may do: rooms owned at once, token,
// call and invite rates, and calls in progress. A refusal (ErrLimited) comes
// before anything is changed. Rates and call leases live in a LimitStore
// (in-process, or redislimit's for replicas); the room count is LiveKit's
// own, taken only when a request would create a new room. Every
// state-changing action, refused or not, is reported to Config.Auditor as
// an AuditEvent, which never carries a token or secret.
//
// # Usage
//
// RecordUsage turns LiveKit's webhooks into usage per tenant (httpx's
// webhook route calls it): each participant_left into a UsageRecord of
// the participant's session (tenant, room, identity, kind, joined, left,
// duration), each room_finished into one of the room's session, delivered
// to Config.Usage. The times are LiveKit's: a session's end is the event's
// created_at, in whole seconds. Each record has the session's sid as its
// ID; httpx records an event once per replay window, and a table keyed by
// ID stores each session once whatever happens. A room's peak is counted
// in the Manager's memory from the joins it saw (see RecordUsage).
//
// # Replicas
//
// A Manager's state is what its stores keep: the limits' counters, the
// leases of shared names, and, for at most a minute, the rooms it created
// that LiveKit does not list yet. Under ScopedNames LiveKit and the names
// decide ownership, so any number of Managers, in one process or several,
// serve the same tenants once they share the stores: with limits a
// LimitStore (redislimit), with a room quota a Locker (redislock). Under SharedNames they must share a
// Locker, or two replicas could each claim the same new room for a
// different tenant, and a LeaseStore (redislimit's Store is one), or a
// restart or another replica would forget which tenant's tokens still name
// a room. SharedNames runs a lease sweeper until Close.
package lkgate
