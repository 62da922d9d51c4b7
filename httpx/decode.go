package httpx

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// readBody reads the request body, which serve capped at the Handler's
// maximum: beyond it a 413, after which net/http closes the connection; cut
// off by the server's read timeout, a 408 that closes it too.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, Problem, bool) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, h.bodyProblem(w, err), false
	}
	return body, Problem{}, true
}

// bodyProblem is the answer to err, a failure to read the request body.
func (h *Handler) bodyProblem(w http.ResponseWriter, err error) Problem {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return newProblem(http.StatusRequestEntityTooLarge, CodePayloadTooLarge, fmt.Sprintf("the request body exceeds %d bytes", h.maxBody))
	case errors.Is(err, os.ErrDeadlineExceeded):
		w.Header().Set("Connection", "close")
		return newProblem(http.StatusRequestTimeout, CodeRequestTimeout, "the request body did not arrive in time")
	}
	return newProblem(http.StatusBadRequest, CodeInvalidArgument, "the request body could not be read")
}

// bodies are reusable buffers for JSON request bodies: nothing decoded
// keeps a reference into one (encoding/json copies strings and raw
// messages), so it is reused once decodeJSON returns.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBody bounds the body buffers kept for reuse.
const maxPooledBody = 64 << 10

// decodeJSON reads one JSON object from the request body into dst. The
// body is application/json in UTF-8 (any other charset is a 415), valid
// UTF-8 throughout with no unpaired surrogate escape, and repeats no key in
// any object; keys match dst's field names exactly. encoding/json would
// decode an invalid byte or a lone surrogate as U+FFFD, a repeated key as
// its last value and "ROOM_NAME" as room_name, so that a proxy or WAF
// reading the body as written would judge another request than lkgate's:
// each is a 400 instead. Strict mode also refuses unknown fields
// (management routes); the token route is tolerant because LiveKit client
// SDKs send fields lkgate does not use.
func (h *Handler) decodeJSON(w http.ResponseWriter, r *http.Request, dst any, strict bool) (Problem, bool) {
	// The usual header needs no parsing (nor ParseMediaType's map).
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		mediaType, params, err := mime.ParseMediaType(ct)
		if err != nil || mediaType != "application/json" {
			return newProblem(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "the request body must be application/json"), false
		}
		if charset, ok := params["charset"]; ok && !strings.EqualFold(charset, "utf-8") {
			return newProblem(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "the request body must be UTF-8: send charset=utf-8 or no charset"), false
		}
	}
	buf := bodies.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledBody {
			bodies.Put(buf)
		}
	}()
	buf.Reset()
	if _, err := buf.ReadFrom(r.Body); err != nil {
		return h.bodyProblem(w, err), false
	}
	body := buf.Bytes()
	if !utf8.Valid(body) {
		return newProblem(http.StatusBadRequest, CodeInvalidArgument, fmt.Sprintf("the request body is not valid UTF-8 (at byte %d)", invalidUTF8At(body))), false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return newProblem(http.StatusBadRequest, CodeInvalidArgument, "the request body is empty; send a JSON object"), false
	}
	if body = bytes.TrimSpace(body); body[0] != '{' {
		return newProblem(http.StatusBadRequest, CodeInvalidArgument, "the request body must be a JSON object"), false
	}
	return decodeObject(body, dst, strict)
}

// decodeObject decodes body, trimmed UTF-8 that starts with "{", into dst
// as decodeJSON describes.
func decodeObject(body []byte, dst any, strict bool) (Problem, bool) {
	if !strict && json.Valid(body) {
		// One value and nothing after it: Unmarshal decodes it as the
		// Decoder below would, without a Decoder's copy of the body.
		if err := json.Unmarshal(body, dst); err != nil {
			return jsonProblem(err), false
		}
	} else {
		dec := json.NewDecoder(bytes.NewReader(body))
		if strict {
			dec.DisallowUnknownFields()
		}
		if err := dec.Decode(dst); err != nil {
			return jsonProblem(err), false
		}
		// Not dec.More, which takes a stray "}" or "]" for the end of input.
		if dec.InputOffset() != int64(len(body)) {
			return newProblem(http.StatusBadRequest, CodeInvalidArgument, "the request body has data after the JSON object"), false
		}
	}
	// The body is now known to be one well-formed object, which keyScan
	// relies on.
	s := keyScan{b: body, path: make([]pathStep, 0, 4)}
	if p := s.value(shapeOf(reflect.TypeOf(dst))); p != nil {
		return *p, false
	}
	return Problem{}, true
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}

func jsonProblem(err error) Problem {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	var fieldErr *fieldError
	switch {
	case errors.As(err, &fieldErr):
		return fieldProblem(fieldErr.field, fieldErr.msg)
	case errors.As(err, &syntaxErr):
		return newProblem(http.StatusBadRequest, CodeInvalidArgument, fmt.Sprintf("malformed JSON at byte %d", syntaxErr.Offset))
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return newProblem(http.StatusBadRequest, CodeInvalidArgument, "the request body must be a JSON object")
		}
		return fieldProblem(typeErr.Field, "must be "+jsonKind(typeErr.Type.Kind().String()))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return newProblem(http.StatusBadRequest, CodeInvalidArgument, "the JSON body ends too early")
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		field := strings.Trim(name, `"`)
		return fieldProblem(field, "is not a field of this request")
	}
	return newProblem(http.StatusBadRequest, CodeInvalidArgument, "the request body is not valid JSON")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "int", "int32", "int64", "uint", "uint32", "uint64", "float64":
		return "a number"
	}
	return "of another type"
}

// fieldError is a decoding error of one named field, returned by the
// UnmarshalJSON methods that check more than types.
type fieldError struct {
	field, msg string
}

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

// keyShape is what the key check knows of the Go value a JSON value
// decodes into: a struct's fields by their exact JSON names, or the
// elements of a slice, array or map. A nil shape (any other value, or a
// type with its own UnmarshalJSON, which sees its keys exactly) has its
// objects checked for repeated keys only. Request types embed no structs,
// so fields are not promoted.
type keyShape struct {
	object bool
	fields []shapeField
	elem   *keyShape
}

type shapeField struct {
	name  string
	shape *keyShape
}

var (
	shapes          sync.Map // reflect.Type to *keyShape
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
)

func shapeOf(t reflect.Type) *keyShape {
	if s, ok := shapes.Load(t); ok {
		return s.(*keyShape)
	}
	s := buildShape(t, map[reflect.Type]*keyShape{})
	shapes.Store(t, s)
	return s
}

func buildShape(t reflect.Type, seen map[reflect.Type]*keyShape) *keyShape {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if s, ok := seen[t]; ok {
			return s
		}
		s := &keyShape{object: true}
		seen[t] = s
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			s.fields = append(s.fields, shapeField{name: name, shape: buildShape(f.Type, seen)})
		}
		return s
	case reflect.Slice, reflect.Array, reflect.Map:
		if elem := buildShape(t.Elem(), seen); elem != nil {
			return &keyShape{elem: elem}
		}
	}
	return nil
}

// child returns the shape of the value at key, and the field's name if key
// is not a field's exact name but encoding/json would take it for that
// field (it matches names under Unicode case folding, as strings.EqualFold
// does).
func (k *keyShape) child(key []byte) (shape *keyShape, variantOf string) {
	switch {
	case k == nil:
		return nil, ""
	case !k.object:
		return k.elem, ""
	}
	for _, f := range k.fields {
		if string(key) == f.name {
			return f.shape, ""
		}
	}
	for _, f := range k.fields {
		if strings.EqualFold(string(key), f.name) {
			return nil, f.name
		}
	}
	return nil, ""
}

// keyScan walks a JSON text that encoding/json has accepted, checking
// every object's keys and every string's escapes.
type keyScan struct {
	b    []byte
	i    int
	path []pathStep // from the body to the value at i
}

// pathStep is an object's key, or an array's index when key is nil.
type pathStep struct {
	key   []byte
	index int
}

// field is the path of key in the current object, as a problem's field.
func (s *keyScan) field(key []byte) string {
	var b strings.Builder
	for _, st := range append(s.path, pathStep{key: key}) {
		switch {
		case st.key == nil:
			b.WriteString("[" + strconv.Itoa(st.index) + "]")
		case b.Len() > 0:
			b.WriteByte('.')
			fallthrough
		default:
			b.Write(st.key)
		}
	}
	return b.String()
}

func (s *keyScan) peek() byte {
	for s.i < len(s.b) {
		switch c := s.b[s.i]; c {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return c
		}
	}
	return 0
}

func (s *keyScan) value(shape *keyShape) *Problem {
	switch s.peek() {
	case '{':
		return s.object(shape)
	case '[':
		return s.array(shape)
	case '"':
		_, _, p := s.str()
		return p
	}
	// A number, true, false or null. Its first byte is taken unseen, so
	// that every call progresses.
	s.i++
	for s.i < len(s.b) && !strings.ContainsRune(",}] \t\n\r", rune(s.b[s.i])) {
		s.i++
	}
	return nil
}

func (s *keyScan) object(shape *keyShape) *Problem {
	s.i++
	var buf [8][]byte
	keys := buf[:0]
	for {
		switch s.peek() {
		case '}', 0:
			s.i++
			return s.repeatedKey(keys)
		case ',':
			s.i++
			s.peek()
		}
		key, escaped, p := s.str()
		if p != nil {
			return p
		}
		if escaped {
			var k string
			_ = json.Unmarshal(s.b[s.i-len(key)-2:s.i], &k) // well-formed, as encoding/json accepted it
			key = []byte(k)
		}
		s.peek()
		s.i++ // the colon
		child, variantOf := shape.child(key)
		if variantOf != "" {
			p := fieldProblem(s.field(key), "is not a field of this request; field names are case-sensitive (did you mean "+variantOf+"?)")
			return &p
		}
		s.path = append(s.path, pathStep{key: key})
		if p := s.value(child); p != nil {
			return p
		}
		s.path = s.path[:len(s.path)-1]
		keys = append(keys, key)
	}
}

func (s *keyScan) array(shape *keyShape) *Problem {
	s.i++
	var elem *keyShape
	if shape != nil {
		elem = shape.elem
	}
	for n := 0; ; n++ {
		switch s.peek() {
		case ']', 0:
			s.i++
			return nil
		case ',':
			s.i++
		}
		s.path = append(s.path, pathStep{index: n})
		if p := s.value(elem); p != nil {
			return p
		}
		s.path = s.path[:len(s.path)-1]
	}
}

// str reads the string at s.i and returns its raw content and whether it
// has escapes. An unpaired surrogate escape (\ud800), which encoding/json
// would quietly decode to U+FFFD, is a problem.
func (s *keyScan) str() (raw []byte, escaped bool, p *Problem) {
	start := s.i + 1
	for s.i = start; s.i < len(s.b); s.i++ {
		switch s.b[s.i] {
		case '"':
			s.i++
			return s.b[start : s.i-1], escaped, nil
		case '\\':
			escaped = true
			s.i++
			if s.i < len(s.b) && s.b[s.i] == 'u' {
				if p := s.surrogates(); p != nil {
					return nil, false, p
				}
			}
		}
	}
	return s.b[start:], escaped, nil
}

// surrogates checks the \u escape whose u is at s.i and leaves s.i on its
// last hex digit, or on the last of its pair's.
func (s *keyScan) surrogates() *Problem {
	at := s.i - 1
	r, ok := s.hex(s.i + 1)
	if !ok {
		return nil
	}
	s.i += 4
	if !utf16.IsSurrogate(r) {
		return nil
	}
	if r < 0xdc00 && s.i+6 < len(s.b) && s.b[s.i+1] == '\\' && s.b[s.i+2] == 'u' {
		if low, ok := s.hex(s.i + 3); ok && low >= 0xdc00 && low <= 0xdfff {
			s.i += 6
			return nil
		}
	}
	p := newProblem(http.StatusBadRequest, CodeInvalidArgument, fmt.Sprintf("the request body has an unpaired surrogate escape (\\u%04x) at byte %d, which is no character", r, at))
	return &p
}

// hex decodes the four hex digits at i.
func (s *keyScan) hex(i int) (rune, bool) {
	var b [2]byte
	if i+4 > len(s.b) {
		return 0, false
	}
	if _, err := hex.Decode(b[:], s.b[i:i+4]); err != nil {
		return 0, false
	}
	return rune(b[0])<<8 | rune(b[1]), true
}

// repeatedKey returns a problem naming a key the current object's keys
// hold twice.
func (s *keyScan) repeatedKey(keys [][]byte) *Problem {
	slices.SortFunc(keys, bytes.Compare)
	for i := 1; i < len(keys); i++ {
		if bytes.Equal(keys[i], keys[i-1]) {
			p := fieldProblem(s.field(keys[i]), "is given more than once")
			return &p
		}
	}
	return nil
}
