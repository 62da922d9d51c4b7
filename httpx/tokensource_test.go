package httpx_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/livekit/protocol/auth"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/lkgatetest"
)

// TestTokenSourceFormat sends the body livekit-client's TokenSource.endpoint
// builds (TokenSourceRequest as proto JSON with proto field names: unset
// fields omitted, so no identity) and reads the answer as
// TokenSourceResponse.
func TestTokenSourceFormat(t *testing.T) {
	e := newEnv(t, lkgate.Config{AllowAgent: lkgate.AllowAgents(map[string][]string{"acme": {"helper"}})}, httpx.StaticKeysConfig{})
	res := e.do(t, "POST", "/livekit/token", keyAcme,
		`{"room_name":"standup","participant_name":"Ann","participant_attributes":{"team":"blue"},"room_config":{"agents":[{"agent_name":"helper","metadata":"{\"lang\":\"en\"}"}]}}`)
	if res.status != http.StatusOK {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	var ts struct {
		ServerURL        string `json:"server_url"`
		ParticipantToken string `json:"participant_token"`
	}
	got := decodeBody[httpx.TokenResponse](t, res)
	if err := json.Unmarshal(res.body, &ts); err != nil {
		t.Fatal(err)
	}
	if ts.ParticipantToken == "" || ts.ParticipantToken != got.Token || ts.ServerURL == "" || ts.ServerURL != got.LiveKitURL {
		t.Fatalf("TokenSourceResponse fields %+v do not repeat token and livekit_url: %s", ts, res.body)
	}
	if !regexp.MustCompile(`^p-[0-9a-f]{32}$`).MatchString(got.ParticipantIdentity) {
		t.Errorf("generated identity %q", got.ParticipantIdentity)
	}
	var c struct {
		jwt.RegisteredClaims
		auth.ClaimGrants
	}
	if _, err := jwt.ParseWithClaims(ts.ParticipantToken, &c, func(*jwt.Token) (any, error) { return []byte(lkgatetest.APISecret), nil }); err != nil {
		t.Fatal(err)
	}
	if c.Identity != got.ParticipantIdentity || c.Name != "Ann" || c.Attributes["team"] != "blue" || c.Attributes[lkgate.TenantAttribute] != "acme" {
		t.Errorf("claims %+v", c.ClaimGrants)
	}
	if c.RoomConfig == nil || len(c.RoomConfig.Agents) != 1 || c.RoomConfig.Agents[0].AgentName != "helper" || c.RoomConfig.Agents[0].Metadata != `{"lang":"en"}` {
		t.Fatalf("room config %+v", c.RoomConfig)
	}
	if rc := c.RoomConfig; rc.Name != "" || rc.Egress != nil || rc.EmptyTimeout != 0 {
		t.Errorf("room config carries more than agents: %+v", rc)
	}

	// Two requests without identity get two identities.
	again := decodeBody[httpx.TokenResponse](t, e.do(t, "POST", "/livekit/token", keyAcme, `{"room_name":"standup"}`))
	if again.ParticipantIdentity == got.ParticipantIdentity {
		t.Errorf("generated identity repeated: %q", again.ParticipantIdentity)
	}
	// A given identity is kept.
	kept := decodeBody[httpx.TokenResponse](t, e.do(t, "POST", "/livekit/token", keyAcme, `{"room_name":"standup","participant_identity":"ann","room_config":null}`))
	if kept.ParticipantIdentity != "ann" {
		t.Errorf("identity %q, want ann", kept.ParticipantIdentity)
	}
}
