package httpx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/internal/nameoracle"
	"github.com/lkgate/lkgate/lkgatetest"
)

// refusals are the statuses that answer the input itself: they must cost
// no LiveKit call.
var refusals = []int{400, 413, 415}

// fuzzRoute sends body to method path on the fake, which never fails, and
// fails on any answer the input cannot legitimately produce: a status not
// in allowed (so no 5xx at all), an error that is not a problem document,
// a refusal of the input that cost a LiveKit call, or anything but a 4xx
// before any LiveKit call when a field named in names holds a string
// outside the name profile (a policy may refuse it first). Room "r"
// exists with participant "i" publishing a camera, so input that slips
// past validation reaches LiveKit and shows in the call count.
func fuzzRoute(f *testing.F, e *env, method, path string, allowed []int, names []string, seeds []string) {
	if _, err := e.m.Token(context.Background(), "acme", lkgate.TokenRequest{Room: "r", Identity: "i"}); err != nil {
		f.Fatal(err)
	}
	camera := lkgatetest.Track{Source: livekit.TrackSource_CAMERA, Type: livekit.TrackType_VIDEO}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		e.fake.AddParticipant(e.lkRoom(t, "acme", "r"), lkgatetest.Participant{Identity: "i", Tracks: []lkgatetest.Track{camera}})
		e.fake.ResetCalls()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+keyAcme)
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		if !slices.Contains(allowed, rec.Code) {
			t.Fatalf("%s %s %q: status %d %s (want one of %v)", method, path, body, rec.Code, rec.Body, allowed)
		}
		if n := e.fake.TotalCalls(); slices.Contains(refusals, rec.Code) && n != 0 {
			t.Fatalf("%s %s %q: refused with %d after %d LiveKit calls, want none", method, path, body, rec.Code, n)
		}
		if bad := outOfProfile(body, names); bad != "" && (rec.Code/100 != 4 || e.fake.TotalCalls() != 0) {
			t.Fatalf("%s %s %q: answered %d after %d LiveKit calls to %s, want a 4xx before any", method, path, body, rec.Code, e.fake.TotalCalls(), bad)
		}
		if rec.Code >= 400 {
			var p httpx.Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Code == "" || p.Status != rec.Code {
				t.Fatalf("%q: error body is not a problem: %s", body, rec.Body)
			}
		}
	})
}

// outOfProfile names the first field of names that body (a JSON object)
// sets to a string outside the name profile or longer than 256 bytes.
func outOfProfile(body string, names []string) string {
	var fields map[string]any
	if json.Unmarshal([]byte(body), &fields) != nil {
		return ""
	}
	for _, n := range names {
		if v, ok := fields[n].(string); ok && (!nameoracle.InProfile(v) || len(v) > lkgate.MaxIdentityBytes) {
			return fmt.Sprintf("%s %+q", n, v)
		}
	}
	return ""
}

func FuzzTokenRequest(f *testing.F) {
	fuzzRoute(f, newEnv(f, lkgate.Config{}, httpx.StaticKeysConfig{}), "POST", "/livekit/token", []int{200, 400, 403, 413, 415}, []string{"room_name"}, []string{
		`{"room_name":"r","participant_identity":"i"}`,
		`{"room_name":"r","participant_identity":"i","participant_name":"n","participant_metadata":"m","participant_attributes":{"a":"b"}}`,
		`{"room_name":"` + strings.Repeat("r", 300) + `","participant_identity":"i"}`,
		`{"room_name":"\u202e","participant_identity":"\u0000"}`,
		`{"participant_attributes":{"lkgate.tenant":"x"}}`,
		`{"room_name":null}`, `[]`, `"s"`, `{`, ``, `{"room_name":"r"}{}`,
	})
}

func FuzzRemoveParticipantRequest(f *testing.F) {
	fuzzRoute(f, newEnv(f, lkgate.Config{}, httpx.StaticKeysConfig{}), "DELETE", "/livekit/participant", []int{200, 400, 404, 413, 415}, []string{"room_name", "participant_identity"}, []string{
		`{"room_name":"r","participant_identity":"i"}`,
		`{"room_name":"","participant_identity":""}`,
		`{"room_name":"r","participant_identity":"i","x":1}`,
		`{"room_name":1}`, `null`, `{}`,
		`{"room_name":"r","participant_identity":"` + strings.Repeat("i", 300) + `"}`,
		`{"room_name":"r","participant_identity":"i\u0007"}`,
	})
}

func FuzzMuteRequest(f *testing.F) {
	fuzzRoute(f, newEnv(f, lkgate.Config{}, httpx.StaticKeysConfig{}), "POST", "/livekit/participant/mute", []int{200, 400, 404, 409, 413, 415}, []string{"room_name", "participant_identity"}, []string{
		`{"room_name":"r","participant_identity":"i","source":"camera","muted":true}`,
		`{"room_name":"r","participant_identity":"i","track_sid":"TR_x","muted":false}`,
		`{"room_name":"r","participant_identity":"i","source":"camera","track_sid":"x","muted":true}`,
		`{"room_name":"r","participant_identity":"i","source":"webcam","muted":true}`,
		`{"muted":"yes"}`, `{"muted":null}`,
		`{"room_name":"r","participant_identity":"` + strings.Repeat("i", 300) + `","source":"camera","muted":true}`,
		`{"room_name":"r","participant_identity":"i\u0007","source":"camera","muted":true}`,
	})
}

func FuzzSIPCall(f *testing.F) {
	fuzzRoute(f, newSIPEnv(f, lkgate.SIPConfig{}), "POST", "/sip/call", []int{200, 400, 403, 404, 409, 413, 415}, []string{"room_name", "participant_identity"}, []string{
		callBody,
		`{"room_name":"r","participant_identity":"p","from_phone_number":"+15550000001","to_phone_number":"5550100"}`,
		`{"room_name":"r","participant_identity":"p","from_phone_number":"+1","to_phone_number":"+1555","ringing_timeout":-1}`,
		`{"room_name":"r","participant_identity":"p","to_phone_number":"sip:evil@example.com","sip_trunk_id":"ST_x"}`,
		`{"wait_until_answered":"yes"}`, `{"ringing_timeout":1e99}`,
	})
}

func FuzzSIPTransfer(f *testing.F) {
	fuzzRoute(f, newSIPEnv(f, lkgate.SIPConfig{}), "POST", "/sip/transfer", []int{200, 400, 403, 404, 409, 413, 415}, []string{"room_name", "participant_identity"}, []string{
		`{"room_name":"support","participant_identity":"phone","transfer_to":"+15550199"}`,
		`{"room_name":"support","participant_identity":"phone","transfer_to":"tel:+15550199"}`,
		`{"room_name":"support","participant_identity":"phone","transfer_to":"sip:a@b>;x=<y"}`,
		`{"room_name":"support","participant_identity":"phone","transfer_to":"sip:a@b\r\nVia: x"}`,
		`{"transfer_to":5}`,
	})
}

func FuzzRoomPath(f *testing.F) {
	e := newEnv(f, lkgate.Config{}, httpx.StaticKeysConfig{})
	for _, s := range []string{"r", "%00", "a%2Fb", strings.Repeat("x", 300), "..", "%E2%80%AE"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		req := httptest.NewRequest("GET", "/livekit/rooms/x", nil)
		req.URL.Path = "/livekit/rooms/" + name
		req.URL.RawPath = ""
		req.Header.Set("Authorization", "Bearer "+keyAcme)
		e.fake.ResetCalls()
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		// ServeMux redirects a path with . or .. elements to its clean form.
		if p := req.URL.Path; path.Clean(p) != p && rec.Code == 307 {
			return
		}
		if rec.Code != 200 && rec.Code != 400 && rec.Code != 404 {
			t.Fatalf("%q: %d %s, want 200, 400 or 404", name, rec.Code, rec.Body)
		}
		if n := e.fake.TotalCalls(); (!nameoracle.InProfile(name) || len(name) > lkgate.MaxRoomNameBytes) && (rec.Code == 200 || n != 0) {
			t.Fatalf("%q, not a room name, was answered %d after %d LiveKit calls, want 400 or 404 before any", name, rec.Code, n)
		}
	})
}

// FuzzWebhook signs every input as LiveKit would, so the fuzzer reaches the
// event decoding and the join guard, not just the signature check.
func FuzzWebhook(f *testing.F) {
	e := newEnv(f, lkgate.Config{}, httpx.StaticKeysConfig{})
	for _, s := range []string{
		`{"event":"participant_joined","id":"EV_1","room":{"name":"r","metadata":"{\"auth_id\":\"acme\"}"},"participant":{"identity":"p","attributes":{"lkgate.tenant":"globex"}}}`,
		`{"event":"participant_joined","room":{"name":"` + strings.Repeat("r", 300) + `"},"participant":{"kind":"AGENT"}}`,
		`{"event":"room_finished","room":{"name":"r"}}`,
		`{"event":"participant_joined","participant":{"identity":"p"}}`,
		`{}`, `null`, `{"event":7}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		rec := webhook(t, e.h, body, body, lkgatetest.APISecret)
		if rec.Code != 200 && rec.Code != 400 {
			t.Fatalf("%q: %d %s, want 200 or 400", body, rec.Code, rec.Body)
		}
	})
}

// keyRules is what the oracle of FuzzStrictInput knows of one level of a
// request: its field names, whether other keys are refused, and the rules
// of the objects below a field (or in its array).
type keyRules struct {
	names    []string
	closed   bool
	children map[string]*keyRules
}

var (
	tokenKeys = &keyRules{
		names: []string{"room_name", "participant_name", "participant_identity", "participant_metadata", "participant_attributes", "room_config"},
		children: map[string]*keyRules{"room_config": {names: []string{"agents"}, closed: true, children: map[string]*keyRules{
			"agents": {names: []string{"agent_name", "metadata"}, closed: true},
		}}},
	}
	participantKeys = &keyRules{names: []string{"room_name", "participant_identity"}, closed: true}
)

// brokenKeyRule reads body with encoding/json's tokenizer, a reader apart
// from the decoder's, and returns the first rule an accepted body must not
// break: a repeated key, a case variant of a field, an unknown key where
// none is allowed, or a U+FFFD the body does not itself carry (a
// replaced character).
func brokenKeyRule(body []byte, rules *keyRules) string {
	if !utf8.Valid(body) {
		return "invalid UTF-8"
	}
	carriesFFFD := bytes.ContainsRune(body, utf8.RuneError) || bytes.Contains(bytes.ToLower(body), []byte(`\ufffd`))
	dec := json.NewDecoder(bytes.NewReader(body))
	var walk func(rules *keyRules) string
	walk = func(rules *keyRules) string {
		tok, err := dec.Token()
		if err != nil {
			return "not JSON: " + err.Error()
		}
		switch tok := tok.(type) {
		case json.Delim:
			if tok == '[' {
				for dec.More() {
					if broken := walk(rules); broken != "" {
						return broken
					}
				}
				_, _ = dec.Token()
				return ""
			}
			if tok != '{' {
				return ""
			}
			seen := map[string]bool{}
			for dec.More() {
				t, _ := dec.Token()
				k, _ := t.(string)
				switch {
				case seen[k]:
					return "repeated key " + k
				case strings.ContainsRune(k, utf8.RuneError) && !carriesFFFD:
					return "replaced character in key " + k
				}
				seen[k] = true
				var child *keyRules
				if rules != nil {
					switch {
					case slices.Contains(rules.names, k):
						child = rules.children[k]
					case slices.ContainsFunc(rules.names, func(n string) bool { return strings.EqualFold(n, k) }):
						return "case variant " + k
					case rules.closed:
						return "unknown key " + k
					}
				}
				if broken := walk(child); broken != "" {
					return broken
				}
			}
			_, _ = dec.Token()
		case string:
			if strings.ContainsRune(tok, utf8.RuneError) && !carriesFFFD {
				return "replaced character in " + tok
			}
		}
		return ""
	}
	return walk(rules)
}

// FuzzStrictInput sends each body to the tolerant token route and to a
// strict route. Whatever a route decodes (it answers anything but 400, 413
// or 415) breaks no rule of brokenKeyRule, and every name in a body the
// token route accepts is of the name profile and answered unchanged.
func FuzzStrictInput(f *testing.F) {
	e := newEnv(f, lkgate.Config{}, httpx.StaticKeysConfig{})
	for _, s := range []string{
		`{"room_name":"r1","participant_identity":"alice","participant_name":"Alice"}`,
		`{"room_name":"r1","ROOM_NAME":"zz"}`,
		`{"room_name":"r1","room_name":"zz","participant_identity":"i"}`,
		`{"room_name":"r1","room\u005fname":"zz"}`,
		`{"room_name":"r","participant_identity":"i","participant_attributes":{"a":"1","a":"2"}}`,
		`{"room_name":"r","participant_identity":"i","room_config":{"agents":[{"agent_name":"a","Agent_Name":"b"}]}}`,
		`{"room_name":"r","participant_identity":"i","sdk":{"v":"1","v":"2"},"Sdk":1,"sdk_":[{},[]]}`,
		`{"room_name":"r\ud800","participant_identity":"i"}`,
		`{"room_name":"r\ud83d\ude00","participant_identity":"i","participant_metadata":"\\ud800"}`,
		"{\"room_name\":\"r\xff\",\"participant_identity\":\"i\"}",
		`{"room_name":"\u00e9","participant_identity":"e\u0301","participant_name":" Ann"}`,
		`{"room_name":"a\u200bb","participant_identity":"\ufffd","tracK_sid":1}`,
		`{"room_name":"   ","participant_identity":"i"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		send := func(method, path string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(method, path, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+keyAcme)
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, req)
			return rec
		}
		decoded := func(code int) bool { return code != 400 && code != 413 && code != 415 }

		rec := send("POST", "/livekit/token")
		if decoded(rec.Code) {
			if broken := brokenKeyRule(body, tokenKeys); broken != "" {
				t.Fatalf("the token route answered %d to %q: %s", rec.Code, body, broken)
			}
		}
		if rec.Code == 200 {
			var req httpx.TokenRequest
			var res httpx.TokenResponse
			if json.Unmarshal(body, &req) != nil || json.Unmarshal(rec.Body.Bytes(), &res) != nil {
				t.Fatalf("%q: %s", body, rec.Body)
			}
			names := []string{req.RoomName, res.ParticipantIdentity}
			if req.ParticipantName != "" {
				names = append(names, req.ParticipantName)
			}
			for _, n := range names {
				if !nameoracle.InProfile(n) {
					t.Fatalf("the token route accepted %q, whose name %+q is not of the profile", body, n)
				}
			}
			if res.RoomName != req.RoomName || (req.ParticipantIdentity != nil && res.ParticipantIdentity != *req.ParticipantIdentity) {
				t.Fatalf("%q was answered as room %+q, identity %+q", body, res.RoomName, res.ParticipantIdentity)
			}
		}

		rec = send("DELETE", "/livekit/participant")
		if decoded(rec.Code) {
			if broken := brokenKeyRule(body, participantKeys); broken != "" {
				t.Fatalf("DELETE /livekit/participant answered %d to %q: %s", rec.Code, body, broken)
			}
			var req httpx.ParticipantRequest
			if err := json.Unmarshal(body, &req); err != nil || !nameoracle.InProfile(req.RoomName) || !nameoracle.InProfile(req.ParticipantIdentity) {
				t.Fatalf("DELETE /livekit/participant answered %d to %q, whose names are not of the profile", rec.Code, body)
			}
		}
	})
}
