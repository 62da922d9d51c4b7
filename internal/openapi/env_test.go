package openapi_test

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/lkgatetest"
)

// The conformance test's environment has the names, keys and bodies of
// httpx's own tests, so that a case moves between the two unchanged.

const (
	keyAcme   = "acme-key-0123456789"
	keyGlobex = "globex-key-0123456789"
	// keyAcmeMember may only fetch tokens, as a browser's session should.
	keyAcmeMember = "acme-member-key-0123456789"
)

const callBody = `{"room_name":"support","participant_identity":"phone","participant_name":"Phone","to_phone_number":"+15550100","wait_until_answered":true}`

type env struct {
	fake   *lkgatetest.Server
	m      *lkgate.Manager
	h      *httpx.Handler
	naming lkgate.RoomNaming
	hcfg   httpx.Config // h's
}

// newEnv is a handler for mcfg on a fake LiveKit; keys without Keys means
// the three keys above.
func newEnv(t testing.TB, mcfg lkgate.Config, keys httpx.StaticKeysConfig) *env {
	t.Helper()
	e := &env{fake: lkgatetest.NewServer(t), naming: mcfg.RoomNames}
	e.m = e.fake.NewManager(t, mcfg)
	if keys.Keys == nil {
		keys.Keys = map[string]httpx.Principal{
			keyAcme:       {Tenant: "acme", Subject: "alice", Permissions: httpx.AllPermissions},
			keyGlobex:     {Tenant: "globex", Subject: "gina", Permissions: httpx.AllPermissions},
			keyAcmeMember: {Tenant: "acme", Subject: "mia", Permissions: httpx.PermTokens},
		}
	}
	sk, err := httpx.NewStaticKeys(keys)
	if err != nil {
		t.Fatal(err)
	}
	e.hcfg = httpx.Config{Authenticator: sk}
	return e.build(t)
}

// build makes e's Handler anew from e.hcfg.
func (e *env) build(t testing.TB) *env {
	t.Helper()
	var err error
	if e.h, err = httpx.New(e.m, e.hcfg); err != nil {
		t.Fatal(err)
	}
	return e
}

// forEachNaming runs test once per room naming, as subtests.
func forEachNaming(t *testing.T, test func(t *testing.T, naming lkgate.RoomNaming)) {
	for _, n := range []lkgate.RoomNaming{lkgate.ScopedNames, lkgate.SharedNames} {
		t.Run(n.String(), func(t *testing.T) { test(t, n) })
	}
}

// seed has acme's room exist with alice in it, publishing a microphone and
// a camera.
func (e *env) seed(t *testing.T, room string) {
	t.Helper()
	req := httptest.NewRequest("POST", "/livekit/token", strings.NewReader(`{"room_name":"`+room+`","participant_identity":"alice"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+keyAcme)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("token: %d %s", rec.Code, rec.Body)
	}
	lk, err := e.m.LiveKitRoom("acme", room)
	if err != nil {
		t.Fatal(err)
	}
	e.fake.AddParticipant(lk, lkgatetest.Participant{
		Identity: "alice", Name: "Alice",
		Attributes: map[string]string{lkgate.TenantAttribute: "acme", "role": "host"},
		Tracks: []lkgatetest.Track{
			{Source: livekit.TrackSource_MICROPHONE, Type: livekit.TrackType_AUDIO},
			{Source: livekit.TrackSource_CAMERA, Type: livekit.TrackType_VIDEO},
		},
	})
}

type response struct{ body []byte }

func decodeBody[T any](t *testing.T, res response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(res.body, &v); err != nil {
		t.Fatalf("%s: %v", res.body, err)
	}
	return v
}

// This module exists to keep kin-openapi out of lkgate's go.mod, and so out
// of the module graph of every program that imports lkgate.
func TestRootModuleLeavesKinOpenAPIOut(t *testing.T) {
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(gomod), "github.com/getkin/kin-openapi") {
		t.Error("lkgate's go.mod requires kin-openapi: test with it only in this module")
	}
}
