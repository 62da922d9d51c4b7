package httpx

import (
	"context"
	"net/http"
	"time"

	"github.com/lkgate/lkgate"
)

// Guest routes speak the published guest API: camelCase JSON.

// InviteRequest is the body of POST /livekit/guest/invite.
type InviteRequest struct {
	// OrgID is the caller's tenant; absent or empty means it, any other
	// value is a 403.
	OrgID  string `json:"orgId"`
	RoomID string `json:"roomId"`
	// DurationSeconds is how long the invite may be redeemed; 0 or absent
	// means the host's default ([lkgate.GuestConfig]). Outside the
	// configured minimum and maximum it is a 400 naming the limit.
	DurationSeconds int64 `json:"durationSeconds"`
	// AllowAll lets every admin of the tenant (every principal with
	// PermGuests) admit or deny the guest.
	AllowAll bool `json:"allowAll"`
	// AllowedAdmins are the subjects who may admit or deny the guest.
	// With neither it nor AllowAll, the inviting principal's Subject
	// alone may; a principal without a Subject (as in unauthenticated
	// mode) must then send one of them (400 on allowedAdmins).
	AllowedAdmins []string `json:"allowedAdmins"`
}

// InviteResponse is the answer (201) of POST /livekit/guest/invite.
type InviteResponse struct {
	// InviteURL is <base>/join?invite_token=<JWE>: the guest's credential.
	InviteURL string    `json:"inviteUrl"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// RoomAuthRequest is the body of POST /livekit/guest/room-auth.
type RoomAuthRequest struct {
	InviteToken string `json:"inviteToken"`
	GuestName   string `json:"guestName"`
}

// RoomAuthResponse is the answer of POST /livekit/guest/room-auth: what the
// guest's client needs to wait in its lobby.
type RoomAuthResponse struct {
	// LiveKitToken joins the lobby room, with no permission at all.
	LiveKitToken string `json:"livekitToken"`
	// LiveKitURL is where to connect.
	LiveKitURL string `json:"livekitUrl"`
	// LobbyRoom is LiveKit's name of the guest's own lobby room.
	LobbyRoom string `json:"lobbyRoom"`
	// GuestIdentity is the identity lkgate generated for the guest.
	GuestIdentity string `json:"guestIdentity"`
	// GuestName is the display name after sanitising.
	GuestName string `json:"guestName"`
	// AdmissionAttribute is the client's own participant attribute in
	// which the admit or deny message arrives ([lkgate.AdmissionAttribute]).
	AdmissionAttribute string    `json:"admissionAttribute"`
	ExpiresAt          time.Time `json:"expiresAt"`
}

// AdmitRequest is the body of POST /livekit/guest/admit.
type AdmitRequest struct {
	RoomID        string `json:"roomId"`
	GuestIdentity string `json:"guestIdentity"`
	// Action is "admit" or "deny".
	Action string `json:"action"`
}

// AdmitResponse is the answer of POST /livekit/guest/admit.
type AdmitResponse struct {
	Code int `json:"code"` // 200
}

// WaitingResponse is the answer of GET /livekit/guest/waiting.
type WaitingResponse struct {
	Guests []WaitingGuest `json:"guests"`
}

// WaitingGuest is a guest in WaitingResponse.
type WaitingGuest struct {
	Identity string    `json:"identity"`
	Name     string    `json:"name"`
	Since    time.Time `json:"since"`
}

var guestFields = fieldNames{
	"Org":           "orgId",
	"Room":          "roomId",
	"Duration":      "durationSeconds",
	"AllowedAdmins": "allowedAdmins",
	"InviteToken":   "inviteToken",
	"GuestName":     "guestName",
	"GuestIdentity": "guestIdentity",
}

// maxDurationSeconds keeps durationSeconds * time.Second from overflowing;
// anything this large is above any configured maximum, and refused as such.
const maxDurationSeconds = 100 * 365 * 24 * 3600

// GuestInvite serves POST /livekit/guest/invite: 201 with the invite URL
// of [lkgate.Guests.Invite].
func (h *Handler) GuestInvite(w http.ResponseWriter, r *http.Request) { inviteRoute.serve(h, w, r) }

var inviteRoute = &route[InviteRequest, InviteResponse]{
	pattern: "POST /livekit/guest/invite", perm: PermGuests, on: guestsOn, body: strictBody, fields: guestFields, status: http.StatusCreated,
	call: func(h *Handler, ctx context.Context, p Principal, req InviteRequest) (InviteResponse, error) {
		if req.DurationSeconds < 0 {
			return InviteResponse{}, &fieldError{field: "durationSeconds", msg: "must not be negative"}
		}
		inv, err := h.guests.Invite(ctx, p.Tenant, lkgate.InviteRequest{
			Org: req.OrgID, Room: req.RoomID,
			Duration: time.Duration(min(req.DurationSeconds, maxDurationSeconds)) * time.Second,
			AllowAll: req.AllowAll, AllowedAdmins: req.AllowedAdmins,
		})
		if err != nil {
			return InviteResponse{}, err
		}
		return InviteResponse{InviteURL: inv.URL, ExpiresAt: inv.ExpiresAt}, nil
	},
}

// GuestRoomAuth serves POST /livekit/guest/room-auth, without an API key
// (the invite is the credential): the lobby token of
// [lkgate.Guests.RoomAuth], or a 400 on inviteToken for any bad, tampered
// or expired invite.
func (h *Handler) GuestRoomAuth(w http.ResponseWriter, r *http.Request) { roomAuthRoute.serve(h, w, r) }

var roomAuthRoute = &route[RoomAuthRequest, RoomAuthResponse]{
	pattern: "POST /livekit/guest/room-auth", perm: public, on: guestsOn, body: strictBody, fields: guestFields,
	call: func(h *Handler, ctx context.Context, _ Principal, req RoomAuthRequest) (RoomAuthResponse, error) {
		s, err := h.guests.RoomAuth(ctx, req.InviteToken, req.GuestName)
		if err != nil {
			return RoomAuthResponse{}, err
		}
		return RoomAuthResponse{
			LiveKitToken: s.Token.JWT, LiveKitURL: s.Token.URL, LobbyRoom: s.LobbyRoom, GuestIdentity: s.Identity,
			GuestName: s.Name, AdmissionAttribute: lkgate.AdmissionAttribute, ExpiresAt: s.Token.ExpiresAt,
		}, nil
	},
}

// GuestAdmit serves POST /livekit/guest/admit with [lkgate.Guests.Admit]
// or [lkgate.Guests.Deny], as the caller's Subject.
func (h *Handler) GuestAdmit(w http.ResponseWriter, r *http.Request) { admitRoute.serve(h, w, r) }

var admitRoute = &route[AdmitRequest, AdmitResponse]{
	pattern: "POST /livekit/guest/admit", perm: PermGuests, on: guestsOn, body: strictBody, fields: guestFields,
	call: func(h *Handler, ctx context.Context, p Principal, req AdmitRequest) (AdmitResponse, error) {
		if req.Action != lkgate.AdmissionAdmit && req.Action != lkgate.AdmissionDeny {
			return AdmitResponse{}, &fieldError{field: "action", msg: `must be "admit" or "deny"`}
		}
		decide := h.guests.Deny
		if req.Action == lkgate.AdmissionAdmit {
			decide = h.guests.Admit
		}
		// ctx carries the principal's Subject (authenticate).
		return AdmitResponse{Code: http.StatusOK}, decide(ctx, p.Tenant, req.RoomID, req.GuestIdentity)
	},
}

// GuestWaiting serves GET /livekit/guest/waiting?roomId=: the guests
// waiting for the caller's room, from [lkgate.Guests.Waiting].
func (h *Handler) GuestWaiting(w http.ResponseWriter, r *http.Request) { waitingRoute.serve(h, w, r) }

var waitingRoute = &route[string, WaitingResponse]{
	pattern: "GET /livekit/guest/waiting", perm: PermGuests, on: guestsOn, fields: guestFields,
	params: func(r *http.Request) (string, error) {
		q := r.URL.Query()
		if len(q["roomId"]) > 1 {
			return "", &fieldError{field: "roomId", msg: "is given more than once"}
		}
		return q.Get("roomId"), nil
	},
	call: func(h *Handler, ctx context.Context, p Principal, room string) (WaitingResponse, error) {
		guests, err := h.guests.Waiting(ctx, p.Tenant, room)
		res := WaitingResponse{Guests: make([]WaitingGuest, 0, len(guests))}
		for _, g := range guests {
			res.Guests = append(res.Guests, WaitingGuest{Identity: g.Identity, Name: g.Name, Since: g.Since})
		}
		return res, err
	},
}
