// Package httpx serves lkgate's operations as net/http handlers that a host
// mounts on its own mux.
//
// New returns a Handler with Go 1.22 method+path patterns; mount it under a
// prefix with http.StripPrefix, or mount its exported per-route methods one
// by one. Routes:
//
//	POST   /livekit/token             mint a token for a room of the caller's tenant
//	GET    /livekit/rooms             the tenant's rooms
//	GET    /livekit/rooms/{room_name} a room with its participants and tracks
//	DELETE /livekit/rooms/{room_name} end the meeting: disconnect everyone and close the room
//	DELETE /livekit/participant       remove a participant; with ban_seconds, ban it from the room too
//	POST   /livekit/participant/unban lift a ban: the identity may have tokens for the room again
//	POST   /livekit/participant/mute  mute or unmute a track, by SID or by source
//	POST   /livekit/webhook           LiveKit's signed webhooks, each once, replays refused; runs the join guard, frees ended calls' slots
//	POST   /livekit/guest/invite      201 {inviteUrl}: an encrypted invite to a room of the caller's tenant
//	POST   /livekit/guest/room-auth   a guest redeems its invite for a lobby token (no API key; also with a trailing slash)
//	POST   /livekit/guest/admit       admit or deny a waiting guest (allowed admins only)
//	GET    /livekit/guest/waiting     ?roomId=: the guests waiting for a room
//	POST   /sip/call                  dial a number into a room of the caller's tenant
//	POST   /sip/transfer              transfer a SIP participant's call (REFER)
//	GET    /openapi.yaml              the OpenAPI 3 document of these routes (OpenAPI)
//
// The guest routes exist only when [Config].Guests is set, and the SIP
// routes only when [Config].SIP is: otherwise they answer 404, as a path
// with no route does.
//
// The token route is also LiveKit's standard token endpoint
// (TokenSourceRequest / TokenSourceResponse, snake_case), so
// livekit-client's TokenSource.endpoint works against it unchanged: the
// identity may be omitted (one is generated; sent empty it is a 400, as
// any missing name), room_config may carry agent
// dispatch and nothing else (any other field is a 400 naming it; an agent
// lkgate.Config.AllowAgent does not approve for the tenant, a 403 naming
// room_config.agents[i].agent_name), and the answer repeats the token and
// URL as participant_token and server_url.
//
// Guest routes use the published guest API's camelCase field names; the
// others use snake_case. Under an /api/v1 prefix they are that API's paths.
// The guest's client waits in its own lobby room and learns of admission
// through its own participant attribute lkgate.AdmissionAttribute (see
// lkgate.AdmissionMessage); it never polls this API.
//
// Room names are the tenant's own, in requests and answers; LiveKit's
// names appear only inside tokens and as a guest's lobbyRoom. Under
// lkgate.ScopedNames (the default) each tenant has its own namespace, so no
// name is ever refused. Under lkgate.SharedNames the token route answers
// another tenant's room with 403, and every other route with the very body
// of a room that does not exist (404).
//
// SIP routes answer 501 (not_configured) when the tenant's trunk does not
// exist in LiveKit and when LiveKit's SIP service is not connected. What the far end of a call
// answers comes back as 409 with a code of its own and, where LiveKit
// reports it, the SIP status in sip_status: sip_busy (486, 600),
// sip_declined (403, 603, 607, 608), sip_no_answer (ringing timeout, 408,
// 480, 487), sip_call_failed (any other status), sip_transfer_refused (the
// REFER was refused, e.g. 403) and sip_transfer_failed (the far end
// accepted the REFER, then reported failure). 409, because the request was
// valid and LiveKit worked: the callee's answer is not a server failure.
// Under max_concurrent_sip_calls, a call to the room and identity of a
// call in progress is 409 sip_call_in_progress, and nothing is dialed. A
// from_phone_number the host's caller-ID policy does not approve is 403 on
// that field; a call without one presents its trunk's number.
//
// Every route except the webhook (signed by LiveKit), guest room-auth and
// the OpenAPI document authenticates through the Authenticator of Config.
// StaticKeys checks fixed API keys, given as "Authorization: Bearer <key>"
// (or "?api_key=<key>" where StaticKeysConfig.AllowQueryKey switches it
// on), in constant time.
//
// A Principal carries its Permissions, and each route needs one: PermTokens
// the token route, PermRooms the room reads, PermModerate removing and
// muting, PermGuests inviting, admitting and the waiting list, PermSIP
// calls and transfers (see Handler). A principal without the route's
// permission gets 403 with the code permission_denied and the missing
// permission named in the problem's permission field, before the body is
// read or LiveKit is called. The zero Principal may do nothing; a
// browser's session should carry PermTokens alone, so that no end user can
// remove, mute, invite or dial; AllPermissions is for trusted backends.
// Unauthenticated mode serves only the Hosts it is given (loopback by
// default) and answers any other Host header with 421 (host_not_allowed),
// so that DNS rebinding cannot reach a local development server.
//
// Request bodies are JSON, capped (DefaultMaxBodyBytes), and must be sent
// as application/json in UTF-8 (another charset is a 415). They are read
// strictly, so that a proxy or WAF inspecting a request sees the request
// lkgate acts on: invalid UTF-8, an escaped unpaired surrogate, a key
// repeated in any object and a key that differs from a field's name only
// in case (encoding/json would take "ROOM_NAME" for room_name) are 400s
// naming the key, never decoded another way. Management routes refuse
// unknown fields; the token route tolerates them, because LiveKit client
// SDKs send extra ones. Names follow the one profile of the lkgate
// package (see lkgate.MaxRoomNameBytes), refused, never repaired, when
// they break it.
//
// Every error is an RFC 9457 problem (application/problem+json) with a
// stable Code, the Field at fault when there is one, and a Detail safe to
// show: status 400 for bad input, 401 without valid credentials, 403 for a
// missing permission, a refused destination or (shared names) another
// tenant's room on the token route, 404, 421 for a Host that unauthenticated
// mode does not serve, 409 for a state
// that forbids the operation or a call the far end refused, 408 for a body
// the server's read timeout cut off, 413 for an oversized body (both close
// the connection), 415 for a body that is not JSON in UTF-8, 429 when a limit of
// the tenant (lkgate.Config.Limits) refuses the request, 501 for what is
// not configured, 502 when LiveKit answers with an error, 503 when it is
// unreachable and 504 when it is too slow. No stack trace, token or
// upstream secret ever reaches a response or a log line.
//
// A 503 while lkgate has stopped calling an unreachable LiveKit (see
// lkgate.Config.BreakerFailures) carries a Retry-After header too.
//
// A 429 carries a Retry-After header (whole seconds, rounded up) and a code
// naming the limit: token_rate_exceeded, max_rooms_exceeded,
// sip_call_rate_exceeded, max_concurrent_sip_calls_exceeded,
// invite_rate_exceeded or guest_wait_rate_exceeded, with the limit and
// retry_after repeated in the body.
//
// Each authenticated request's Principal.Subject reaches the Manager
// through its context (lkgate.WithSubject): audit events carry it, guest
// admission checks it, and an invite naming neither allowAll nor
// allowedAdmins lets that subject alone admit. Config.Observer sees every
// answered request with its route pattern, for metrics (otelmetrics.Metrics
// is one).
//
// # Webhooks
//
// POST /livekit/webhook needs no API key: LiveKit signs each event, and a
// signature or body checksum that does not match is a 401. As a signature
// stays valid for minutes, an event created more than lkgate.WebhookWindow
// ago is refused (401 webhook_expired), one without an id or creation time
// too (400), and each event id is handled once (a replay answers 200
// "duplicate"), remembered in Config.SeenEvents until 30 s past the window
// for clocks a little apart; if that store fails, the answer is 503, so
// that LiveKit delivers the event again. So it does when the join guard
// (on participant_joined, unless Config.DisableJoinGuard) or the release
// of an ended SIP call's slot (with Config.SIP) fails: the answer is a 5xx
// and the event id is forgotten. Then Config.OnWebhook receives the event.
//
// # In a host with its own sessions
//
// A backend with its own mux and sign-in mounts the Handler under a prefix,
// or the per-route methods at paths of its own (they log, observe and
// recover as ServeHTTP does), and authenticates through an Authenticator
// that returns the session's user as a Principal: PermTokens alone for a
// browser. Its 401 says what the host wants: an Authenticator returns an
// *AuthError to choose the detail and the WWW-Authenticate challenge.
//
// Two routes are called without a session, and must stay reachable when
// the host wraps the API in its session middleware: guest room-auth, whose
// caller holds only its invite, and the webhook, which LiveKit signs. Mount
// them outside that middleware, or let it pass them; behind it, guests get
// the host's 401 and LiveKit's deliveries fail.
//
// A session cookie needs no CSRF token for this API: every route that acts
// reads a body that must be application/json (anything else is a 415
// before anything is done), which a page of another origin cannot send
// without a CORS preflight the Handler never grants, and a GET only reads
// what another origin cannot see. Keep it so: allow no CORS with
// credentials for origins you do not trust, and set the cookie
// SameSite=Lax or Strict as a second wall.
//
// The host's own handlers that call the Manager answer its errors as the
// Handler does with WriteError (ProblemFor returns the Problem): the same
// status, code and safe detail, and nothing of an error that is not
// lkgate's.
package httpx
