package httpx_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
)

// TestStrictJSON: a body is decoded only if every reader of it sees the
// same request. A repeated key (which encoding/json would decode as its
// last value), a key differing from a field's name only in case (which it
// would take for that field), invalid UTF-8 and unpaired surrogate escapes
// (which it would replace with U+FFFD) are 400s on every route, before any
// LiveKit call.
func TestStrictJSON(t *testing.T) {
	e := newEnv(t, lkgate.Config{}, httpx.StaticKeysConfig{}).withGuests(t, testGuests)
	const ok = `"room_name":"r","participant_identity":"i"`
	tests := []struct {
		name, path, body, field string
	}{
		// The case: a proxy reading room_name sees r1, encoding/json
		// would have minted a token for zz.
		{"case variant beside the field", "/livekit/token", `{"room_name":"r1","ROOM_NAME":"zz"}`, "ROOM_NAME"},
		{"case variant alone", "/livekit/token", `{"ROOM_NAME":"zz","participant_identity":"i"}`, "ROOM_NAME"},
		{"one letter's case", "/livekit/token", `{"room_name":"r","participant_Identity":"i"}`, "participant_Identity"},
		// encoding/json folds U+017F (long s) to s and U+212A (Kelvin) to k.
		{"long s", "/livekit/token", `{` + ok + `,"participant_attributeſ":{"a":"b"}}`, "participant_attributeſ"},
		{"Kelvin sign, strict route", "/livekit/participant/mute", `{` + ok + `,"trac` + "\u212a" + `_sid":"TR_x","muted":true}`, "trac\u212a_sid"},
		{"case variant, strict route", "/livekit/participant/mute", `{` + ok + `,"Muted":true}`, "Muted"},
		{"case variant, guest route", "/livekit/guest/admit", `{"roomId":"r","guestIdentity":"guest-x","Action":"admit"}`, "Action"},
		{"repeated key", "/livekit/token", `{"room_name":"r1","room_name":"zz","participant_identity":"i"}`, "room_name"},
		{"repeated through an escape", "/livekit/token", `{"room_name":"r1","room\u005fname":"zz","participant_identity":"i"}`, "room_name"},
		{"repeated unknown key", "/livekit/token", `{` + ok + `,"sdk":1,"sdk":2}`, "sdk"},
		{"repeated attribute", "/livekit/token", `{` + ok + `,"participant_attributes":{"a":"1","a":"2"}}`, "participant_attributes.a"},
		{"repeated in room_config", "/livekit/token", `{` + ok + `,"room_config":{"agents":[],"agents":[{"agent_name":"x"}]}}`, "room_config.agents"},
		{"repeated in an agent", "/livekit/token", `{` + ok + `,"room_config":{"agents":[{"agent_name":"a"},{"agent_name":"a","agent_name":"b"}]}}`, "room_config.agents[1].agent_name"},
		{"repeated inside an unknown field", "/livekit/token", `{` + ok + `,"x":[{"y":1},{"z":{"y":1,"y":2}}]}`, "x[1].z.y"},
		{"repeated, strict route", "/livekit/participant", `{"room_name":"r","participant_identity":"a","participant_identity":"b"}`, "participant_identity"},
		{"invalid UTF-8 in a name", "/livekit/token", `{"room_name":"r` + "\xff" + `","participant_identity":"i"}`, ""},
		{"invalid UTF-8 in metadata", "/livekit/token", `{` + ok + `,"participant_metadata":"` + "\xc3\x28" + `"}`, ""},
		{"invalid UTF-8 in an ignored field", "/livekit/token", `{` + ok + `,"sdk":"` + "\xed\xa0\x80" + `"}`, ""},
		{"invalid UTF-8 in a key", "/livekit/token", `{` + ok + `,"` + "\xff" + `":1}`, ""},
		{"unpaired high surrogate", "/livekit/token", `{` + ok + `,"participant_metadata":"\ud83d"}`, ""},
		{"unpaired low surrogate", "/livekit/token", `{` + ok + `,"participant_metadata":"\ude00\ud83d"}`, ""},
		{"high surrogate before another escape", "/livekit/token", `{` + ok + `,"participant_name":"\ud83d\u0041"}`, ""},
		{"surrogate in a key", "/livekit/token", `{` + ok + `,"\udfff":1}`, ""},
		{"surrogate, strict route", "/livekit/participant", `{"room_name":"\ud800","participant_identity":"i"}`, ""},
		// encoding/json's More reports no more data before these.
		{"stray brace after the object", "/livekit/token", `{` + ok + `}}`, ""},
		{"stray bracket after the object", "/livekit/participant", `{"room_name":"r","participant_identity":"i"} ]`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.fake.ResetCalls()
			method := "POST"
			if tt.path == "/livekit/participant" {
				method = "DELETE"
			}
			res := e.do(t, method, tt.path, keyAcme, tt.body)
			if res.status != 400 || res.problem.Code != httpx.CodeInvalidArgument || res.problem.Field != tt.field {
				t.Fatalf("got %d %s field %q, want 400 field %q: %s", res.status, res.problem.Code, res.problem.Field, tt.field, res.body)
			}
			if n := e.fake.TotalCalls(); n != 0 {
				t.Errorf("refused input made %d LiveKit calls", n)
			}
		})
	}
}

// TestTokenRouteTolerance: what LiveKit SDKs send passes: unknown fields,
// keys that differ only in case from each other but from no field, and
// escapes of characters outside the BMP.
func TestTokenRouteTolerance(t *testing.T) {
	e := newEnv(t, lkgate.Config{}, httpx.StaticKeysConfig{})
	for _, body := range []string{
		`{"room_name":"r","participant_identity":"i","sdk":{"version":"2.1","os":"web"},"extra":[1,{"a":null}]}`,
		`{"room_name":"r","participant_identity":"i","Foo":1,"foo":2}`,
		`{"room_name":"r","participant_identity":"i","participant_attributes":{"a":"1","A":"2"}}`,
		`{"room_name":"r","participant_identity":"i","participant_name":"\ud83d\ude00 smile","participant_metadata":"\u00e9\\u\"x\""}`,
		"{ \"room_name\" : \"r\" ,\n\t\"participant_identity\" : \"i\" , \"participant_attributes\" : { \"a\" : \"b\" } , \"x\" : [ 1 , [ ] , { } ] }\r\n",
	} {
		if res := e.do(t, "POST", "/livekit/token", keyAcme, body); res.status != 200 {
			t.Errorf("%s: %d %s", body, res.status, res.body)
		}
	}
}

// TestCharset: a body in any charset but UTF-8 is a 415; utf-8 is matched
// without regard to case or quoting.
func TestCharset(t *testing.T) {
	e := newEnv(t, lkgate.Config{}, httpx.StaticKeysConfig{})
	for contentType, want := range map[string]int{
		"application/json":                       200,
		"application/json; charset=utf-8":        200,
		"application/json;charset=UTF-8":         200,
		`application/json; charset="Utf-8"`:      200,
		"application/json; charset=utf-16":       415,
		"application/json; charset=UTF-16LE":     415,
		"application/json; charset=iso-8859-1":   415,
		"application/json; charset=utf8":         415,
		"application/json; charset=":             415,
		"application/json; charset=utf-8; x=1":   200,
		"application/json; charset=us-ascii":     415,
		"application/json; charset=utf-8, utf-7": 415,
	} {
		req := httptest.NewRequest("POST", "/livekit/token", strings.NewReader(`{"room_name":"r","participant_identity":"i"}`))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Authorization", "Bearer "+keyAcme)
		res := e.serve(t, req)
		if res.status != want || (want == 415 && res.problem.Code != httpx.CodeUnsupportedMediaType) {
			t.Errorf("%q: %d %s, want %d", contentType, res.status, res.body, want)
		}
	}
}

// TestNameProfileOnRoutes: the routes answer the name profile's refusals
// as 400s naming the field as sent.
func TestNameProfileOnRoutes(t *testing.T) {
	e := newEnv(t, lkgate.Config{}, httpx.StaticKeysConfig{})
	for _, tt := range []struct{ name, body, field, detail string }{
		{"blank room", `{"room_name":"   ","participant_identity":"i"}`, "room_name", "room_name: is required"},
		{"zero-width space", `{"room_name":"r1\u200b","participant_identity":"i"}`, "room_name", "U+200B"},
		{"outer space", `{"room_name":"r1 ","participant_identity":"i"}`, "room_name", "space"},
		{"combining mark first", `{"room_name":"r","participant_identity":"\u0301i"}`, "participant_identity", "U+0301"},
		{"not NFC", `{"room_name":"cafe\u0301","participant_identity":"i"}`, "room_name", "NFC"},
		{"display name with a bidi override", `{"room_name":"r","participant_identity":"i","participant_name":"Ann\u202e"}`, "participant_name", "U+202E"},
		{"agent name with a no-break space", `{"room_name":"r","room_config":{"agents":[{"agent_name":"my\u00a0agent"}]}}`, "room_config.agents.agent_name", "U+00A0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := e.do(t, "POST", "/livekit/token", keyAcme, tt.body)
			if res.status != 400 || res.problem.Field != tt.field || !strings.Contains(res.problem.Detail, tt.detail) {
				t.Fatalf("got %d field %q, want 400 field %q with %q: %s", res.status, res.problem.Field, tt.field, tt.detail, res.body)
			}
		})
	}
	res := e.do(t, "POST", "/livekit/token", keyAcme, `{"room_name":"caf\u00e9 日本","participant_identity":"i","participant_name":"迈克尔·杰克逊"}`)
	if res.status != 200 || !strings.Contains(string(res.body), `"room_name":"café 日本"`) {
		t.Fatalf("a name of the profile: %d %s", res.status, res.body)
	}
}
