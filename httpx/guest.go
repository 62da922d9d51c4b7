package httpx

import (
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
	// means the Manager's default (lkgate.GuestConfig). Outside the
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
	// which the admit or deny message arrives (lkgate.AdmissionAttribute).
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

// GuestInvite serves POST /livekit/guest/invite: 201 with the invite URL.
// Under lkgate.SharedNames another tenant's room is a 404, as a missing one.
func (h *Handler) GuestInvite(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, "POST /livekit/guest/invite", h.guestInvite)
}

func (h *Handler) guestInvite(w http.ResponseWriter, r *http.Request) {
	p, r, ok := h.authenticate(w, r, PermGuests)
	if !ok {
		return
	}
	var req InviteRequest
	if prob, ok := h.decodeJSON(w, r, &req, true); !ok {
		writeProblem(w, prob)
		return
	}
	if req.DurationSeconds < 0 {
		writeProblem(w, fieldProblem("durationSeconds", "must not be negative"))
		return
	}
	inv, err := h.m.Invite(r.Context(), p.Tenant, lkgate.InviteRequest{
		Org:           req.OrgID,
		Room:          req.RoomID,
		Duration:      time.Duration(min(req.DurationSeconds, maxDurationSeconds)) * time.Second,
		AllowAll:      req.AllowAll,
		AllowedAdmins: req.AllowedAdmins,
	})
	if err != nil {
		h.fail(r.Context(), w, err, guestFields)
		return
	}
	writeJSON(w, http.StatusCreated, InviteResponse{InviteURL: inv.URL, ExpiresAt: inv.ExpiresAt})
}

// GuestRoomAuth serves POST /livekit/guest/room-auth (New mounts it with a
// trailing slash too, as the published guest API lists it), the one route
// that needs no API key: the invite token is the credential. It answers a
// lobby token; every bad, tampered or expired invite is a 400 on
// inviteToken.
// Under lkgate.SharedNames a room that has passed to another tenant since
// the invite is a 404, as a missing one.
func (h *Handler) GuestRoomAuth(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, "POST /livekit/guest/room-auth", h.guestRoomAuth)
}

func (h *Handler) guestRoomAuth(w http.ResponseWriter, r *http.Request) {
	var req RoomAuthRequest
	if prob, ok := h.decodeJSON(w, r, &req, true); !ok {
		writeProblem(w, prob)
		return
	}
	s, err := h.m.GuestRoomAuth(r.Context(), req.InviteToken, req.GuestName)
	if err != nil {
		h.fail(r.Context(), w, err, guestFields)
		return
	}
	writeJSON(w, http.StatusOK, RoomAuthResponse{
		LiveKitToken:       s.Token.JWT,
		LiveKitURL:         s.Token.URL,
		LobbyRoom:          s.LobbyRoom,
		GuestIdentity:      s.Identity,
		GuestName:          s.Name,
		AdmissionAttribute: lkgate.AdmissionAttribute,
		ExpiresAt:          s.Token.ExpiresAt,
	})
}

// GuestAdmit serves POST /livekit/guest/admit. The guest must be waiting
// for the caller's tenant's room (404 otherwise, as for a missing room) and
// the invite must allow the caller's Subject (403 otherwise).
func (h *Handler) GuestAdmit(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, "POST /livekit/guest/admit", h.guestAdmit)
}

func (h *Handler) guestAdmit(w http.ResponseWriter, r *http.Request) {
	p, r, ok := h.authenticate(w, r, PermGuests)
	if !ok {
		return
	}
	var req AdmitRequest
	if prob, ok := h.decodeJSON(w, r, &req, true); !ok {
		writeProblem(w, prob)
		return
	}
	if req.Action != lkgate.AdmissionAdmit && req.Action != lkgate.AdmissionDeny {
		writeProblem(w, fieldProblem("action", `must be "admit" or "deny"`))
		return
	}
	decide := h.m.Deny
	if req.Action == lkgate.AdmissionAdmit {
		decide = h.m.Admit
	}
	// The context carries the principal's Subject (authenticate).
	if err := decide(r.Context(), p.Tenant, req.RoomID, req.GuestIdentity); err != nil {
		h.fail(r.Context(), w, err, guestFields)
		return
	}
	writeJSON(w, http.StatusOK, AdmitResponse{Code: http.StatusOK})
}

// GuestWaiting serves GET /livekit/guest/waiting?roomId=: the guests
// waiting for the caller's room, longest waiting first.
func (h *Handler) GuestWaiting(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, "GET /livekit/guest/waiting", h.guestWaiting)
}

func (h *Handler) guestWaiting(w http.ResponseWriter, r *http.Request) {
	p, r, ok := h.authenticate(w, r, PermGuests)
	if !ok {
		return
	}
	q := r.URL.Query()
	if len(q["roomId"]) > 1 {
		writeProblem(w, fieldProblem("roomId", "is given more than once"))
		return
	}
	guests, err := h.m.WaitingGuests(r.Context(), p.Tenant, q.Get("roomId"))
	if err != nil {
		h.fail(r.Context(), w, err, guestFields)
		return
	}
	res := WaitingResponse{Guests: make([]WaitingGuest, 0, len(guests))}
	for _, g := range guests {
		res.Guests = append(res.Guests, WaitingGuest{Identity: g.Identity, Name: g.Name, Since: g.Since})
	}
	writeJSON(w, http.StatusOK, res)
}
