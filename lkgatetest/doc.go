// Package lkgatetest provides an in-memory fake of LiveKit's RoomService and
// of the SIP calls lkgate makes, for tests, in the manner of miniredis: a real HTTP server speaking the real
// twirp protocol, so code under test uses the real SDK client, its auth
// headers and its errors, with no livekit-server to run.
//
// # Tour
//
// NewServer starts a fake and closes it when the test ends; point the SDK at
// it with the fixed development credentials:
//
//	srv := lkgatetest.NewServer(t)
//	rc := lksdk.NewRoomServiceClient(srv.URL(), lkgatetest.APIKey, lkgatetest.APISecret)
//
// NewUnstartedServer and Start split construction from serving, as in
// net/http/httptest, for setup that must happen before the first request.
//
// A test of code built on lkgate gets a Manager wired to the fake in one
// line, closed when the test ends:
//
//	srv := lkgatetest.NewServer(t)
//	m := srv.NewManager(t, lkgate.Config{})
//
// The fake is LiveKit, so it knows rooms by LiveKit's names: read a
// tenant's room "standup" as srv.Room(name) with name from
// m.LiveKitRoom("acme", "standup"). A guest's lobby room
// (lkgate.GuestSession's LobbyRoom) is already LiveKit's name.
//
// The direct API seeds and inspects state without tokens or HTTP:
// AddParticipant joins a participant (with tracks) as a client would,
// creating the room if needed; Join does the same from a token, checking it
// and applying its identity, name, attributes, permissions and room
// configuration, so a test can stand in for the client of a token its code
// handed out (a guest's lobby token, say); Room, Participants,
// Participant, Dispatches and SentData read state back (SentData keeps
// whole requests: topic, destination identities, payload), and Admission
// the message lkgate left a waiting guest (admit, with its main-room
// token, or deny). Everything returned is a copy.
//
// SIP: NewSIP returns lkgate's SIP calls on the server (beside NewManager);
// AddOutboundTrunk stores a trunk (so does CreateSIPOutboundTrunk);
// SetFarEnd scripts the phone at a number (answers, busy or any other SIP
// status, no answer, refused or failed transfers); Dialed and Transfers
// return the requests that reached a trunk or a SIP participant.
//
// Faults and timing: SetError makes an RPC method fail, SetDelay makes it
// slow, SetClock fixes the time used for creation times, join times and
// token expiry; NewClock gives a settable Clock to pass both there and
// as lkgate's Config.Now. Calls, TotalCalls and ResetCalls count requests per method,
// failed ones included, so a test can assert how many LiveKit round trips
// an operation costs.
//
// # Fidelity
//
// The reference is livekit-server v1.8.4 with its default configuration.
// Error codes are the real ones; messages are the real ones too, including
// the "twirp error unknown: " prefix the server adds to errors from its
// internal RPC layer. Supported, as the server behaves:
//
//   - Authentication: a bearer token (or access_token query parameter)
//     signed HS256 with APISecret and issued by APIKey, within one minute
//     of leeway on exp, nbf and iat. A request with no token is refused
//     with unauthenticated "permissions denied"; a bad token is refused
//     with HTTP 401 and a plain-text body, which the twirp client reports
//     as unauthenticated.
//   - Grants: CreateRoom and DeleteRoom need roomCreate and ListRooms needs
//     roomList, neither scoped to a room; every other method needs roomAdmin
//     with room equal to the request's room.
//   - CreateRoom: empty names allowed, over 256 bytes invalid_argument,
//     defaults empty_timeout 300 s and departure_timeout 20 s, metadata not
//     size-checked; an existing name returns the running room unchanged.
//   - Agent dispatch: a new room gets one dispatch per agent of its
//     CreateRoom request, or of the roomConfig of the token whose join
//     created it; without agents, one dispatch with an empty agent name.
//     A room that exists keeps its dispatches, whatever a later CreateRoom
//     or join token asks for. AgentDispatchService.ListDispatch (roomAdmin
//     on the room) lists them, optionally one by dispatch_id; an unknown
//     room is unavailable "no response from servers".
//   - Join: a token's roomConfig (empty_timeout, departure_timeout,
//     max_participants, agents) applies when its join creates the room,
//     and only then.
//   - ListRooms filters by name only; unknown names are left out.
//   - DeleteRoom and UpdateRoomMetadata on an unknown room: not_found.
//     UpdateRoomMetadata over 64,000 bytes: invalid_argument, checked
//     before the token.
//   - ListParticipants on an unknown room: empty list. GetParticipant and
//     RemoveParticipant on an unknown room or identity: not_found.
//   - MutePublishedTrack, UpdateParticipant, UpdateSubscriptions and
//     SendData on an unknown room or identity: unavailable. Unmuting:
//     failed_precondition. An unknown track sid: no error, nil track.
//   - UpdateParticipant: a permission replaces the whole set and removes
//     tracks whose source it no longer allows; name and metadata change
//     only when non-empty; attributes merge, an empty value deleting the
//     key; name, metadata and attribute limits are checked before the token.
//   - Joining an identity already present replaces the earlier participant.
//   - NumParticipants leaves out agents and recorders, as the server does.
//   - SIP, as livekit-server v1.8.4 with livekit-sip v1.0.0: a sip.call
//     grant for calls and transfers (plus roomAdmin for transfers),
//     sip.admin for CreateSIPOutboundTrunk. An unknown trunk: not_found.
//     A refused call with WaitUntilAnswered: unavailable as a gRPC status
//     carrying the SIP status in its details (lksdk.SIPStatusFrom reads
//     it); no answer: canceled. An answered call joins the room (creating
//     it if needed) as a SIP participant with the request's attributes and
//     sip.callID, sip.callStatus "active", sip.phoneNumber, sip.trunkID and
//     sip.trunkPhoneNumber (the request's SipNumber or, without one, a
//     number of the trunk: the fake takes the first, the server picks one
//     at random). A transfer: REFER refused is
//     permission_denied "SIP REFER was denied"; a failing NOTIFY is
//     canceled "call transfer failed"; an unknown participant not_found;
//     success ends the call and the participant leaves.
//
// Differs from the real server:
//
//   - Requests that the real server answers with unavailable after its
//     internal RPC times out (about 3 s) are answered at once, with the same
//     code and message.
//   - ListRooms reports current participant counts; the real server's lag
//     by about 5 s. Rooms are listed by creation time, then name.
//   - Rooms never close on their own: empty_timeout, departure_timeout and
//     max_participants are stored but not enforced.
//   - CreateRoom ignores egress, playout and room-preset options, and a
//     join token's roomConfig is read for its timeouts, participant limit
//     and agents only. Rooms carry no enabled codecs or version.
//     Dispatches carry no state (created_at, jobs): no agent worker ever
//     takes them. ListDispatch lists them in dispatch order; the real
//     server's order varies.
//   - There is no media: UpdateSubscriptions changes nothing and SendData
//     only records the request for SentData.
//   - ForwardParticipant, MoveParticipant and PerformRpc answer
//     unimplemented (a v1.8.4 server, which lacks them, answers bad_route).
//   - The 401 body's text after "error:" comes from golang-jwt, where the
//     server's comes from go-jose.
//   - Only RoomService, ListDispatch and the SIP calls above are served:
//     no Egress or Ingress, and no WebRTC signalling, so clients cannot
//     really join. CreateDispatch and DeleteDispatch, and the other SIP
//     methods (inbound trunks, dispatch rules, listing, deleting), answer
//     unimplemented.
//   - Calls are answered, refused or given up at once: there is no ringing
//     time, and a call placed without WaitUntilAnswered joins its callee at
//     once (the real one joins with sip.callStatus "ringing" until answered).
//     A transfer of a participant that is not on a SIP call is not_found
//     (not measured on the real server). No audio flows.
package lkgatetest
