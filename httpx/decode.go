package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// decodeJSON reads one JSON object from the request body into dst. Strict
// mode refuses unknown fields (management routes); the token route is
// tolerant because LiveKit client SDKs send fields lkgate does not use.
func (h *Handler) decodeJSON(w http.ResponseWriter, r *http.Request, dst any, strict bool) (Problem, bool) {
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "application/json" {
		return newProblem(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "the request body must be application/json"), false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return newProblem(http.StatusRequestEntityTooLarge, CodePayloadTooLarge, fmt.Sprintf("the request body exceeds %d bytes", h.maxBody)), false
		}
		return newProblem(http.StatusBadRequest, CodeInvalidArgument, "the request body could not be read"), false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return newProblem(http.StatusBadRequest, CodeInvalidArgument, "the request body is empty; send a JSON object"), false
	}
	if body = bytes.TrimSpace(body); body[0] != '{' {
		return newProblem(http.StatusBadRequest, CodeInvalidArgument, "the request body must be a JSON object"), false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(dst); err != nil {
		return jsonProblem(err), false
	}
	if dec.More() {
		return newProblem(http.StatusBadRequest, CodeInvalidArgument, "the request body has data after the JSON object"), false
	}
	return Problem{}, true
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
