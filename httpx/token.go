package httpx

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/lkgate/lkgate"
)

// TokenRequest is the body of POST /livekit/token. It is also LiveKit's
// standard token-endpoint request (TokenSourceRequest in protocol/livekit,
// as livekit-client's TokenSource.endpoint sends it), so LiveKit client
// SDKs fetch tokens from this route unchanged.
type TokenRequest struct {
	RoomName        string `json:"room_name"`
	ParticipantName string `json:"participant_name"`
	// ParticipantIdentity is optional: when absent (or null), the route
	// generates one ("p-" and 128 random bits) and answers it, as LiveKit's
	// token endpoints do for TokenSource clients, which leave it out. A
	// present identity must be a name: "" or white space is a 400.
	ParticipantIdentity   *string           `json:"participant_identity,omitempty"`
	ParticipantMetadata   string            `json:"participant_metadata,omitempty"`
	ParticipantAttributes map[string]string `json:"participant_attributes,omitempty"`
	// RoomConfig is TokenSourceRequest's room_config, filtered to what a
	// client may ask for: agent dispatch.
	RoomConfig *RoomConfig `json:"room_config,omitempty"`
}

// RoomConfig is the part of LiveKit's RoomConfiguration a token request may
// carry: agents to dispatch when the participant's join creates the room.
// Every other RoomConfiguration field (name, timeouts, metadata, egress,
// tags, ...) is refused with a 400 naming it, rather than dropped, so a
// client never believes it got what it asked for: room settings belong to
// the host ([lkgate.Config].Room), and egress would let a client record.
type RoomConfig struct {
	Agents []AgentDispatch `json:"agents,omitempty"`
}

// AgentDispatch is LiveKit's RoomAgentDispatch, limited to its name and
// metadata.
type AgentDispatch struct {
	AgentName string `json:"agent_name"`
	Metadata  string `json:"metadata,omitempty"`
}

// UnmarshalJSON decodes room_config strictly: an unknown or refused field
// is an error naming it.
func (c *RoomConfig) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return &fieldError{field: "room_config", msg: "must be an object"}
	}
	if k := firstKeyOutside(raw, "agents"); k != "" {
		return &fieldError{field: "room_config." + k, msg: "is not accepted; a token request may only ask for agents"}
	}
	agents, ok := raw["agents"]
	if !ok || bytes.Equal(agents, []byte("null")) {
		return nil
	}
	var list []map[string]json.RawMessage
	if err := json.Unmarshal(agents, &list); err != nil {
		return &fieldError{field: "room_config.agents", msg: "must be an array of objects"}
	}
	c.Agents = make([]AgentDispatch, len(list))
	for i, a := range list {
		if k := firstKeyOutside(a, "agent_name", "metadata"); k != "" {
			return &fieldError{field: fmt.Sprintf("room_config.agents[%d].%s", i, k), msg: "is not accepted; an agent dispatch may only name agent_name and metadata"}
		}
		for _, f := range []struct {
			key string
			dst *string
		}{{"agent_name", &c.Agents[i].AgentName}, {"metadata", &c.Agents[i].Metadata}} {
			if v, ok := a[f.key]; ok {
				if err := json.Unmarshal(v, f.dst); err != nil {
					return &fieldError{field: fmt.Sprintf("room_config.agents[%d].%s", i, f.key), msg: "must be a string"}
				}
			}
		}
	}
	return nil
}

// firstKeyOutside returns the alphabetically first key of m not in allowed,
// so the error for a body with several is the same every time.
func firstKeyOutside(m map[string]json.RawMessage, allowed ...string) string {
	var bad []string
	for k := range m {
		if !slices.Contains(allowed, k) {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return ""
	}
	return slices.Min(bad)
}

// TokenResponse is the answer of POST /livekit/token. ServerURL and
// ParticipantToken repeat LiveKitURL and Token under the names of LiveKit's
// TokenSourceResponse.
type TokenResponse struct {
	Token               string    `json:"token"`
	RoomName            string    `json:"room_name"`
	ParticipantIdentity string    `json:"participant_identity"`
	LiveKitURL          string    `json:"livekit_url"`
	ExpiresAt           time.Time `json:"expires_at"`
	ServerURL           string    `json:"server_url"`
	ParticipantToken    string    `json:"participant_token"`
}

var tokenFields = fieldNames{
	"Room":             "room_name",
	"Identity":         "participant_identity",
	"Name":             "participant_name",
	"Metadata":         "participant_metadata",
	"Attributes":       "participant_attributes",
	"Agents":           "room_config.agents",
	"Agents.AgentName": "room_config.agents.agent_name",
	"Agents.Metadata":  "room_config.agents.metadata",
}

// Token serves POST /livekit/token: it mints a client token for the
// caller's tenant with [lkgate.Manager.Token], carrying the ordinary
// participant grant and nothing more.
func (h *Handler) Token(w http.ResponseWriter, r *http.Request) { tokenRoute.serve(h, w, r) }

var tokenRoute = &route[TokenRequest, TokenResponse]{
	pattern: "POST /livekit/token", perm: PermTokens, body: tolerantBody, fields: tokenFields,
	call: func(h *Handler, ctx context.Context, p Principal, req TokenRequest) (TokenResponse, error) {
		// An identity sent, even "", is the caller's, and lkgate refuses an
		// empty name; only an absent one is generated.
		var identity string
		if req.ParticipantIdentity != nil {
			identity = *req.ParticipantIdentity
		} else {
			identity = randomIdentity()
		}
		treq := lkgate.TokenRequest{
			Room: req.RoomName, Identity: identity, Name: req.ParticipantName,
			Metadata: req.ParticipantMetadata, Attributes: req.ParticipantAttributes,
		}
		if req.RoomConfig != nil {
			for _, a := range req.RoomConfig.Agents {
				treq.Agents = append(treq.Agents, lkgate.AgentDispatch{AgentName: a.AgentName, Metadata: a.Metadata})
			}
		}
		tok, err := h.m.Token(ctx, p.Tenant, treq)
		if err != nil {
			return TokenResponse{}, err
		}
		return TokenResponse{
			Token: tok.JWT, RoomName: tok.Room, ParticipantIdentity: tok.Identity, LiveKitURL: tok.URL,
			ExpiresAt: tok.ExpiresAt, ServerURL: tok.URL, ParticipantToken: tok.JWT,
		}, nil
	},
}

func randomIdentity() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return "p-" + hex.EncodeToString(b[:])
}
