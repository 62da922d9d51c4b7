package httpx

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// nestedRequest has every level the key check follows: a struct in a
// struct, structs in a slice and a map, a map of strings, a pointer, an
// ignored and an unexported field.
type nestedRequest struct {
	Name   string                     `json:"name"`
	Inner  *struct{ Value string }    `json:"inner"`
	List   []struct{ ID string }      `json:"list,omitempty"`
	ByKey  map[string]struct{ N int } `json:"by_key"`
	Attrs  map[string]string          `json:"attrs"`
	Hidden string                     `json:"-"`
	secret string
}

func decodeNested(t *testing.T, body string, strict bool) Problem {
	t.Helper()
	h := &Handler{maxBody: DefaultMaxBodyBytes}
	req := httptest.NewRequest("POST", "/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	var dst nestedRequest
	p, _ := h.decodeJSON(httptest.NewRecorder(), req, &dst, strict)
	if dst.secret != "" {
		t.Fatalf("%s reached an unexported field", body)
	}
	return p
}

// The key check follows the request type to every level: a case variant
// of a nested field is refused where encoding/json would decode it, and
// repeated keys are refused at any depth.
func TestKeyCheckFollowsNestedTypes(t *testing.T) {
	for _, tt := range []struct{ body, field string }{
		{`{"inner":{"value":"x"}}`, "inner.value"},
		{`{"inner":{"Value":"x","Value":"y"}}`, "inner.Value"},
		{`{"list":[{"ID":"a"},{"id":"b"}]}`, "list[1].id"},
		{`{"by_key":{"k":{"n":1}}}`, "by_key.k.n"},
		{`{"by_key":{"k":{"N":1},"k":{"N":2}}}`, "by_key.k"},
		{`{"attrs":{"x":"1","y":"2","x":"3"}}`, "attrs.x"},
		{`{"name":"a","NAME":"b"}`, "NAME"},
		{`{"Hidden":"x","HIDDEN":"y","hidden":"z"}`, ""}, // no field: unknown, not a variant
		{`{"secret":"x","Secret":"y"}`, ""},
	} {
		p := decodeNested(t, tt.body, false)
		if p.Field != tt.field || (tt.field != "" && p.Status != 400) {
			t.Errorf("%s: got %d field %q, want field %q: %s", tt.body, p.Status, p.Field, tt.field, p.Detail)
		}
	}
	// Many keys in one object: a repeat is found whatever the order.
	var b strings.Builder
	b.WriteString(`{"attrs":{`)
	for i := range 100 {
		b.WriteString(`"k` + strings.Repeat("x", i%50) + `":"v",`)
	}
	b.WriteString(`"":""}}`)
	if p := decodeNested(t, b.String(), true); p.Field != "attrs.k" {
		t.Errorf("100 keys, repeats from 50 on: field %q %s", p.Field, p.Detail)
	}
	if p := decodeNested(t, `{"attrs":{"":"","a":"b"},"name":""}`, true); p.Status != 0 {
		t.Errorf("an empty key once: %+v", p)
	}
}

// BenchmarkDecodeJSON is the cost of the strict decoding of a token
// request, read as the route reads it.
func BenchmarkDecodeJSON(b *testing.B) {
	h := &Handler{maxBody: DefaultMaxBodyBytes}
	body := `{"room_name":"bench","participant_identity":"alice","participant_name":"Alice","participant_attributes":{"team":"blue","desk":"4"}}`
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		var dst TokenRequest
		if p, ok := h.decodeJSON(nil, req, &dst, false); !ok {
			b.Fatal(p.Detail)
		}
	}
}
