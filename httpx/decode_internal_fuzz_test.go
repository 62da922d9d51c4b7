package httpx

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"unicode/utf8"
)

// decodeObjectWithDecoder is how decodeObject decoded every body before
// its Unmarshal path for tolerant routes, kept as the oracle.
func decodeObjectWithDecoder(body []byte, dst any, strict bool) (Problem, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(dst); err != nil {
		return jsonProblem(err), false
	}
	if dec.InputOffset() != int64(len(body)) {
		return newProblem(http.StatusBadRequest, CodeInvalidArgument, "the request body has data after the JSON object"), false
	}
	s := keyScan{b: body, path: make([]pathStep, 0, 4)}
	if p := s.value(shapeOf(reflect.TypeOf(dst))); p != nil {
		return *p, false
	}
	return Problem{}, true
}

// FuzzDecodeObject: a body decodes to the same value, or the same
// problem, as the Decoder decoded it, for the tolerant token route and a
// strict one.
func FuzzDecodeObject(f *testing.F) {
	for _, b := range []string{
		`{"room_name":"r","participant_identity":"i"}`,
		`{"room_name":"r","participant_identity":null,"participant_attributes":{"a":"b"},"extra":[1,{"x":2}]}`,
		`{"room_name":"r"} {}`, `{"room_name":"r"}}`, `{"room_name":"r"]`, `{"room_name":1}`, `{"ROOM_NAME":"r"}`,
		`{"room_name":"r","room_name":"s"}`, `{"room_config":{"agents":[{"agent_name":"a","x":1}]}}`,
		`{"room_config":{"agents":[{"agent_name":7}]}}`, `{"room_config":[]}`, `{"room_name":"\ud800"}`,
		`{"participant_attributes":{"a":"b","a":"c"}}`, `{"participant_metadata":"\u003c"}`, `{`, `{"a":`,
	} {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		body = bytes.TrimSpace(body)
		if !utf8.Valid(body) || len(body) == 0 || body[0] != '{' {
			return // decodeJSON refuses these before decoding
		}
		for _, strict := range []bool{false, true} {
			var got, want TokenRequest
			gotProblem, gotOK := decodeObject(body, &got, strict)
			wantProblem, wantOK := decodeObjectWithDecoder(body, &want, strict)
			if gotOK != wantOK || !reflect.DeepEqual(gotProblem, wantProblem) {
				t.Fatalf("%q (strict %t): %t %+v, want %t %+v", body, strict, gotOK, gotProblem, wantOK, wantProblem)
			}
			if gotOK && !reflect.DeepEqual(got, want) {
				t.Fatalf("%q (strict %t): decoded %+v, want %+v", body, strict, got, want)
			}
		}
	})
}
