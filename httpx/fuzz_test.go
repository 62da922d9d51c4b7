package httpx_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/lkgatetest"
)

// fuzzRoute sends body to method path and fails on any answer a client
// mistake must never produce: a panic, a 500, or an error that is not a
// problem document.
func fuzzRoute(f *testing.F, e *env, method, path string, seeds []string) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+keyAcme)
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != 502 && rec.Code != 503 && rec.Code != 504 {
			t.Fatalf("%s %s %q: status %d %s", method, path, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var p httpx.Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Code == "" || p.Status != rec.Code {
				t.Fatalf("%q: error body is not a problem: %s", body, rec.Body)
			}
		}
	})
}

func FuzzTokenRequest(f *testing.F) {
	fuzzRoute(f, newEnv(f, lkgate.Config{}, httpx.StaticKeysConfig{}), "POST", "/livekit/token", []string{
		`{"room_name":"r","participant_identity":"i"}`,
		`{"room_name":"r","participant_identity":"i","participant_name":"n","participant_metadata":"m","participant_attributes":{"a":"b"}}`,
		`{"room_name":"` + strings.Repeat("r", 300) + `","participant_identity":"i"}`,
		`{"room_name":"\u202e","participant_identity":"\u0000"}`,
		`{"participant_attributes":{"lkgate.tenant":"x"}}`,
		`{"room_name":null}`, `[]`, `"s"`, `{`, ``, `{"room_name":"r"}{}`,
	})
}

func FuzzRemoveParticipantRequest(f *testing.F) {
	fuzzRoute(f, newEnv(f, lkgate.Config{}, httpx.StaticKeysConfig{}), "DELETE", "/livekit/participant", []string{
		`{"room_name":"r","participant_identity":"i"}`,
		`{"room_name":"","participant_identity":""}`,
		`{"room_name":"r","participant_identity":"i","x":1}`,
		`{"room_name":1}`, `null`, `{}`,
	})
}

func FuzzMuteRequest(f *testing.F) {
	fuzzRoute(f, newEnv(f, lkgate.Config{}, httpx.StaticKeysConfig{}), "POST", "/livekit/participant/mute", []string{
		`{"room_name":"r","participant_identity":"i","source":"camera","muted":true}`,
		`{"room_name":"r","participant_identity":"i","track_sid":"TR_x","muted":false}`,
		`{"room_name":"r","participant_identity":"i","source":"camera","track_sid":"x","muted":true}`,
		`{"room_name":"r","participant_identity":"i","source":"webcam","muted":true}`,
		`{"muted":"yes"}`, `{"muted":null}`,
	})
}

func FuzzSIPCall(f *testing.F) {
	fuzzRoute(f, newSIPEnv(f, lkgate.SIPConfig{}), "POST", "/sip/call", []string{
		callBody,
		`{"room_name":"r","participant_identity":"p","from_phone_number":"+15550000001","to_phone_number":"5550100"}`,
		`{"room_name":"r","participant_identity":"p","from_phone_number":"+1","to_phone_number":"+1555","ringing_timeout":-1}`,
		`{"room_name":"r","participant_identity":"p","to_phone_number":"sip:evil@example.com","sip_trunk_id":"ST_x"}`,
		`{"wait_until_answered":"yes"}`, `{"ringing_timeout":1e99}`,
	})
}

func FuzzSIPTransfer(f *testing.F) {
	fuzzRoute(f, newSIPEnv(f, lkgate.SIPConfig{}), "POST", "/sip/transfer", []string{
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
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		if rec.Code == 500 {
			t.Fatalf("%q: 500 %s", name, rec.Body)
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
		if rec.Code == 500 {
			t.Fatalf("%q: 500 %s", body, rec.Body)
		}
	})
}
