package httpx

import (
	"net/http"
	"strconv"
	"time"

	"github.com/lkgate/lkgate"
)

// CallRequest is the body of POST /sip/call. Numbers are E.164 ("+" and
// digits). There is no field for a trunk, a SIP address or credentials:
// the host's lkgate.SIPConfig decides what a tenant dials through.
type CallRequest struct {
	RoomName            string `json:"room_name"`
	ParticipantName     string `json:"participant_name,omitempty"`
	ParticipantIdentity string `json:"participant_identity"`
	// FromPhoneNumber is optional: empty presents one of the trunk's
	// numbers; another needs lkgate.SIPConfig.AllowCallerID's approval.
	FromPhoneNumber string `json:"from_phone_number,omitempty"`
	ToPhoneNumber   string `json:"to_phone_number"`
	// WaitUntilAnswered makes the request return only once the callee
	// answers, so busy, declined and unanswered calls come back as errors.
	WaitUntilAnswered bool `json:"wait_until_answered,omitempty"`
	// RingingTimeout is in seconds; 0 means LiveKit's default (30 s).
	RingingTimeout int `json:"ringing_timeout,omitempty"`
}

// CallResponse is the answer of POST /sip/call.
type CallResponse struct {
	// Status is "answered" when the request waited for the answer, else
	// "dialing".
	Status              string `json:"status"`
	RoomName            string `json:"room_name"`
	ParticipantIdentity string `json:"participant_identity"`
	ParticipantID       string `json:"participant_id"`
	SIPCallID           string `json:"sip_call_id"`
}

// TransferRequest is the body of POST /sip/transfer. TransferTo is an E.164
// number, a tel: URI, or a sip: URI where the host allows it.
type TransferRequest struct {
	RoomName            string `json:"room_name"`
	ParticipantIdentity string `json:"participant_identity"`
	TransferTo          string `json:"transfer_to"`
}

// TransferResponse is the answer of POST /sip/transfer, sent once LiveKit
// reports the transfer complete.
type TransferResponse struct {
	Status              string `json:"status"` // "completed"
	RoomName            string `json:"room_name"`
	ParticipantIdentity string `json:"participant_identity"`
	// TransferTo is the target as sent, such as "tel:+4930123456".
	TransferTo string `json:"transfer_to"`
}

var sipFields = fieldNames{
	"Room":           "room_name",
	"Identity":       "participant_identity",
	"Name":           "participant_name",
	"From":           "from_phone_number",
	"To":             "to_phone_number",
	"RingingTimeout": "ringing_timeout",
	"TransferTo":     "transfer_to",
}

// Call serves POST /sip/call. Under lkgate.SharedNames another tenant's
// room is a 404, as a missing one, and nothing is dialed.
func (h *Handler) Call(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, "POST /sip/call", h.call)
}

func (h *Handler) call(w http.ResponseWriter, r *http.Request) {
	p, r, ok := h.authenticate(w, r, PermSIP)
	if !ok {
		return
	}
	var req CallRequest
	if prob, ok := h.decodeJSON(w, r, &req, true); !ok {
		writeProblem(w, prob)
		return
	}
	maxSeconds := int(lkgate.MaxRingingTimeout / time.Second)
	if req.RingingTimeout < 0 || req.RingingTimeout > maxSeconds {
		// Checked here, before the conversion to a duration can overflow.
		writeProblem(w, fieldProblem("ringing_timeout", "must be between 0 and "+strconv.Itoa(maxSeconds)+" seconds"))
		return
	}
	c, err := h.m.Call(r.Context(), p.Tenant, lkgate.CallRequest{
		Room: req.RoomName, Identity: req.ParticipantIdentity, Name: req.ParticipantName,
		From: req.FromPhoneNumber, To: req.ToPhoneNumber,
		WaitUntilAnswered: req.WaitUntilAnswered, RingingTimeout: time.Duration(req.RingingTimeout) * time.Second,
	})
	if err != nil {
		h.fail(r.Context(), w, err, sipFields)
		return
	}
	status := "dialing"
	if c.Answered {
		status = "answered"
	}
	writeJSON(w, http.StatusOK, CallResponse{
		Status: status, RoomName: c.Room, ParticipantIdentity: c.Identity,
		ParticipantID: c.ParticipantSID, SIPCallID: c.SIPCallID,
	})
}

// Transfer serves POST /sip/transfer.
func (h *Handler) Transfer(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, "POST /sip/transfer", h.transfer)
}

func (h *Handler) transfer(w http.ResponseWriter, r *http.Request) {
	p, r, ok := h.authenticate(w, r, PermSIP)
	if !ok {
		return
	}
	var req TransferRequest
	if prob, ok := h.decodeJSON(w, r, &req, true); !ok {
		writeProblem(w, prob)
		return
	}
	target, err := h.m.TransferCall(r.Context(), p.Tenant, lkgate.TransferRequest{
		Room: req.RoomName, Identity: req.ParticipantIdentity, TransferTo: req.TransferTo,
	})
	if err != nil {
		h.fail(r.Context(), w, err, sipFields)
		return
	}
	writeJSON(w, http.StatusOK, TransferResponse{
		Status: "completed", RoomName: req.RoomName, ParticipantIdentity: req.ParticipantIdentity, TransferTo: target,
	})
}
