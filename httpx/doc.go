// Package httpx serves lkgate's operations as net/http handlers that a host
// mounts on its own mux.
//
// New returns a Handler with Go 1.22 method+path patterns; mount it under a
// prefix with http.StripPrefix, or mount its exported per-route methods one
// by one. Routes:
//
//	POST   /livekit/token             mint a token for the caller's tenant (403 for another tenant's room)
//	GET    /livekit/rooms             the tenant's rooms
//	GET    /livekit/rooms/{room_name} a room with its participants and tracks
//	DELETE /livekit/participant       remove a participant
//	POST   /livekit/participant/mute  mute or unmute a track, by SID or by source
//	POST   /livekit/webhook           LiveKit's signed webhooks; runs the join guard
//	POST   /livekit/guest/invite      201 {inviteUrl}: an encrypted invite to a room of the caller's tenant
//	POST   /livekit/guest/room-auth   a guest redeems its invite for a lobby token (no API key)
//	POST   /livekit/guest/admit       admit or deny a waiting guest (allowed admins only)
//	GET    /livekit/guest/waiting     ?roomId=: the guests waiting for a room
//
// Guest routes use the published guest API's camelCase field names; the
// others use snake_case. Under an /api/v1 prefix they are that API's paths.
// The guest's client waits in its own lobby room and learns of admission
// through its own participant attribute lkgate.AdmissionAttribute (see
// lkgate.AdmissionMessage); it never polls this API.
//
// Every route on an existing room answers 404 with the same body for a room
// that does not exist and for a room another tenant owns.
//
// Every route except the webhook (signed by LiveKit) and guest room-auth
// authenticates through the
// Authenticator of Config. StaticKeys checks fixed API keys, given as
// "Authorization: Bearer <key>" or "?api_key=<key>" (which can be switched
// off), in constant time.
//
// Request bodies are JSON, capped (DefaultMaxBodyBytes), and must be sent
// as application/json. Management routes refuse unknown fields; the token
// route tolerates them, because LiveKit client SDKs send extra ones.
//
// Every error is an RFC 9457 problem (application/problem+json) with a
// stable Code, the Field at fault when there is one, and a Detail safe to
// show: status 400 for bad input, 401 without valid credentials, 403 for
// another tenant's room, 404, 409, 413 for an oversized body, 415 for a
// body that is not JSON, 502 when LiveKit answers with an error, 503 when it
// is unreachable and 504 when it is too slow. No stack trace, token or
// upstream secret ever reaches a response or a log line.
package httpx
