// Package lkgate puts a multi-tenant management layer in front of LiveKit.
// A Go backend uses it to mint participant tokens and to run
// ownership-checked operations on rooms, participants, guests and SIP
// calls, without ever handing LiveKit credentials or admin power to its
// clients. The httpx subpackage serves the same operations as net/http
// handlers; lkgatetest is an in-memory LiveKit for tests; redislimit shares
// per-tenant limits between replicas; otelmetrics reports OpenTelemetry
// metrics; redislock shares
// the claim lock between replicas.
//
// # Tenants and ownership
//
// Every tenant-scoped method takes the tenant explicitly:
//
//	tok, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: "standup", Identity: "alice"})
//
// A room belongs to the tenant named under OwnerKey ("auth_id") in its
// metadata, a JSON object whose other keys lkgate preserves. Room names are
// never rewritten. When a token is asked for a room that does not exist,
// lkgate creates it with empty metadata and then claims it: it writes the
// owner under a per-room Locker, and LiveKit's answer (the running room)
// confirms it. Rooms that exist without
// an owner follow Config.UnownedRooms. A token for a room owned by another
// tenant fails with ErrForbidden.
//
// LiveKit round trips per token: one (a ListRooms by name) for a room the
// tenant owns; three (list, create, claim) for a new room. A re-read
// through ListRooms would not do to confirm a claim: LiveKit's room store
// trails metadata updates. Concurrent requests for the same tenant and room
// share one ensure.
//
// The empty tenant is unauthenticated mode: no ownership checks and no
// LiveKit call at all to mint a token. It is refused (ErrUnauthenticated)
// unless Config.AllowUnauthenticated is set.
//
// # Tokens
//
// Client tokens carry a room join for one room and the Grant's publish,
// subscribe and data permissions, nothing more. Powers LiveKit does not
// confine to a room (roomCreate, roomList, roomRecord, ingress and SIP
// admin) and canUpdateOwnMetadata appear only when the host sets them in
// TokenRequest.Elevated. Every token records its tenant in the participant
// attribute TenantAttribute, which the client cannot change.
//
// # Rooms and participants
//
// ListRooms, Room, RemoveParticipant, MuteTrack and UpdatePermissions all
// pass one gate that answers ErrNotFound alike for a room that does not
// exist and one another tenant owns, so a tenant cannot probe other
// tenants' rooms. MuteTrack and UpdatePermissions look the participant up
// first, answering an unknown one at once where LiveKit stalls.
//
// # The join guard
//
// LiveKit's tokens name rooms, not room instances: when a room closes and
// another tenant re-creates its name, an old token still joins. GuardJoin,
// fed LiveKit's participant_joined webhooks (httpx does it, after
// VerifyWebhook), removes a participant whose TenantAttribute is not the
// room's owner.
//
// # Guests
//
// With Config.Guests set, a tenant invites guests who have no account:
// Invite returns a URL carrying a compact JWE (dir + A256GCM, with a kid for
// key rotation and a required exp) bound to the org and the room.
// GuestRoomAuth redeems it for a token to the guest's own lobby room, with
// no permission at all, and a server-generated identity. The guest's
// admission pass travels with it in LiveKit, as an encrypted participant
// attribute it cannot change, so Admit needs no database: it finds the
// guest in its lobby, checks the pass and the caller (AllowAll or the
// caller's subject among AllowedAdmins), and sends the guest a main-room
// token through LiveKit, in the guest's own participant attribute
// AdmissionAttribute (see AdmissionMessage),
// or a deny followed by removal. WaitingGuests lists who waits.
//
// # SIP
//
// Call dials a number into a room of the tenant; TransferCall transfers a
// SIP participant's call. Both are off until Config.SIP.Trunks names the
// outbound trunk of each tenant (TenantTrunks, StaticTrunk, or your own
// TrunkPolicy): requests never carry a trunk, a SIP address or
// credentials. Config.SIP.AllowDestination guards against toll fraud
// (AllowPrefixes). Every check runs before LiveKit is called, and the room
// is created and claimed for the tenant before anything is dialed, so a
// call never lands in another tenant's room. The callee joins carrying
// TenantAttribute, like every participant lkgate admits.
//
// # Errors
//
// Every error is an *Error that matches one sentinel with errors.Is:
// ErrInvalidArgument (with Error.Field), ErrUnauthenticated, ErrForbidden,
// ErrNotFound, ErrConflict, ErrUnavailable, ErrTimeout, ErrUpstream,
// ErrNotConfigured, ErrLimited (with Error.Limit and Error.RetryAfter), or
// for what the far end of a call answered, ErrBusy,
// ErrDeclined, ErrNoAnswer, ErrCallFailed, ErrTransferRefused or
// ErrTransferFailed (with Error.SIPStatus when LiveKit reports it).
// LiveKit's twirp and gRPC errors are converted at the boundary, and tokens
// found in their messages are redacted.
//
// # Limits and audit
//
// Config.Limits caps what each tenant may do: rooms owned at once, token,
// call and invite rates, and calls in progress. A refusal (ErrLimited) comes
// before anything is changed. Rates and call leases live in a LimitStore
// (in-process, or redislimit's for replicas); the room count is LiveKit's
// own, taken only when a request would claim a new room, so a token for an
// owned room still costs one LiveKit call. Every state-changing action,
// refused or not, is reported to Config.Auditor as an AuditEvent, which
// never carries a token or secret.
//
// # Replicas
//
// A Manager keeps no state: LiveKit is the store. Several Managers, in one
// process or several, can serve the same tenants; across processes they
// must share a Locker (Config.Locker), or two replicas could each claim the
// same new room for a different tenant, and a LimitStore
// (Config.Limits.Store), or each replica would enforce its own limits.
package lkgate
