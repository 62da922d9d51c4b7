package httpx

import (
	"net/http"
	"time"

	"github.com/lkgate/lkgate"
)

// TokenRequest is the body of POST /livekit/token.
type TokenRequest struct {
	RoomName              string            `json:"room_name"`
	ParticipantName       string            `json:"participant_name"`
	ParticipantIdentity   string            `json:"participant_identity"`
	ParticipantMetadata   string            `json:"participant_metadata,omitempty"`
	ParticipantAttributes map[string]string `json:"participant_attributes,omitempty"`
}

// TokenResponse is the answer of POST /livekit/token.
type TokenResponse struct {
	Token               string    `json:"token"`
	RoomName            string    `json:"room_name"`
	ParticipantIdentity string    `json:"participant_identity"`
	LiveKitURL          string    `json:"livekit_url"`
	ExpiresAt           time.Time `json:"expires_at"`
}

var tokenFields = fieldNames{
	"Room":       "room_name",
	"Identity":   "participant_identity",
	"Name":       "participant_name",
	"Metadata":   "participant_metadata",
	"Attributes": "participant_attributes",
}

// Token serves POST /livekit/token: it mints a client token for the
// caller's tenant (403 if another tenant owns the room). The token carries
// the ordinary participant grant and nothing more.
func (h *Handler) Token(w http.ResponseWriter, r *http.Request) {
	p, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	var req TokenRequest
	if prob, ok := h.decodeJSON(w, r, &req, false); !ok {
		writeProblem(w, prob)
		return
	}
	tok, err := h.m.Token(r.Context(), p.Tenant, lkgate.TokenRequest{
		Room:       req.RoomName,
		Identity:   req.ParticipantIdentity,
		Name:       req.ParticipantName,
		Metadata:   req.ParticipantMetadata,
		Attributes: req.ParticipantAttributes,
	})
	if err != nil {
		h.fail(r.Context(), w, err, tokenFields)
		return
	}
	writeJSON(w, http.StatusOK, TokenResponse{
		Token:               tok.JWT,
		RoomName:            tok.Room,
		ParticipantIdentity: tok.Identity,
		LiveKitURL:          tok.URL,
		ExpiresAt:           tok.ExpiresAt,
	})
}
