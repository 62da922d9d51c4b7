package httpx

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/lkgate/lkgate"
)

// CallRequest is the body of POST /sip/call. Numbers are E.164 ("+" and
// digits). There is no field for a trunk, a SIP address or credentials:
// the host's [lkgate.SIPConfig] decides what a tenant dials through.
type CallRequest struct {
	RoomName            string `json:"room_name"`
	ParticipantName     string `json:"participant_name,omitempty"`
	ParticipantIdentity string `json:"participant_identity"`
	// FromPhoneNumber is optional: empty presents one of the trunk's
	// numbers; another needs [lkgate.SIPConfig].AllowCallerID's approval.
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

// Call serves POST /sip/call: it dials a number into a room of the
// caller's tenant with [lkgate.SIP.Call].
func (h *Handler) Call(w http.ResponseWriter, r *http.Request) { callRoute.serve(h, w, r) }

var callRoute = &route[CallRequest, CallResponse]{
	pattern: "POST /sip/call", perm: PermSIP, on: sipOn, body: strictBody, fields: sipFields,
	call: func(h *Handler, ctx context.Context, p Principal, req CallRequest) (CallResponse, error) {
		// Checked here, before the conversion to a duration can overflow.
		if maxSeconds := int(lkgate.MaxRingingTimeout / time.Second); req.RingingTimeout < 0 || req.RingingTimeout > maxSeconds {
			return CallResponse{}, &fieldError{field: "ringing_timeout", msg: "must be between 0 and " + strconv.Itoa(maxSeconds) + " seconds"}
		}
		c, err := h.sip.Call(ctx, p.Tenant, lkgate.CallRequest{
			Room: req.RoomName, Identity: req.ParticipantIdentity, Name: req.ParticipantName,
			From: req.FromPhoneNumber, To: req.ToPhoneNumber,
			WaitUntilAnswered: req.WaitUntilAnswered, RingingTimeout: time.Duration(req.RingingTimeout) * time.Second,
		})
		if err != nil {
			return CallResponse{}, err
		}
		status := "dialing"
		if c.Answered {
			status = "answered"
		}
		return CallResponse{
			Status: status, RoomName: c.Room, ParticipantIdentity: c.Identity,
			ParticipantID: c.ParticipantSID, SIPCallID: c.SIPCallID,
		}, nil
	},
}

// Transfer serves POST /sip/transfer: it transfers a SIP participant's
// call with [lkgate.SIP.Transfer], answering once LiveKit reports it
// complete.
func (h *Handler) Transfer(w http.ResponseWriter, r *http.Request) { transferRoute.serve(h, w, r) }

var transferRoute = &route[TransferRequest, TransferResponse]{
	pattern: "POST /sip/transfer", perm: PermSIP, on: sipOn, body: strictBody, fields: sipFields,
	call: func(h *Handler, ctx context.Context, p Principal, req TransferRequest) (TransferResponse, error) {
		target, err := h.sip.Transfer(ctx, p.Tenant, lkgate.TransferRequest{
			Room: req.RoomName, Identity: req.ParticipantIdentity, TransferTo: req.TransferTo,
		})
		return TransferResponse{
			Status: "completed", RoomName: req.RoomName, ParticipantIdentity: req.ParticipantIdentity, TransferTo: target,
		}, err
	},
}
