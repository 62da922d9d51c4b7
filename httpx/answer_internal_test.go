package httpx

import (
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// An answer is json.Marshal's encoding and a newline, whatever answer the
// reused buffer held before: a large one, or one with HTML characters.
func TestAnswerIsMarshalAndNewline(t *testing.T) {
	answers := []any{
		TokenResponse{Token: "a.b.c", RoomName: "<b>&</b>", ParticipantIdentity: "\u2028", ExpiresAt: time.Unix(1700000000, 5)},
		map[string]string{"large": strings.Repeat("x", 2*maxPooledAnswer)},
		map[string]string{"large": strings.Repeat("y", maxPooledAnswer/2)},
		WebhookResponse{Status: "ok"},
		newProblem(400, CodeInvalidArgument, "<script>"),
	}
	for i, v := range answers {
		rec := httptest.NewRecorder()
		writeJSON(rec, 201, v)
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := rec.Body.String(); got != string(want)+"\n" {
			t.Errorf("answer %d: %.80q, want %.80q", i, got, want)
		}
		if rec.Code != 201 || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("answer %d: %d %v", i, rec.Code, rec.Header())
		}
	}
}

// A value JSON cannot encode is a 500 problem, not a partial answer.
func TestAnswerThatCannotBeEncoded(t *testing.T) {
	rec := httptest.NewRecorder()
	writeJSON(rec, 200, map[string]any{"f": func() {}})
	var p Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Code != 500 || p.Code != CodeInternal ||
		rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("%d %v %s (%v)", rec.Code, rec.Header(), rec.Body, err)
	}
}

// The answer's headers share one allocation, yet a handler or middleware
// that appends to one changes no other.
func TestAnswerHeadersAreIndependent(t *testing.T) {
	rec := httptest.NewRecorder()
	writeJSON(rec, 200, WebhookResponse{Status: "ok"})
	h := rec.Header() // the map writeJSON wrote
	h["Content-Type"] = append(h["Content-Type"], "text/plain")
	h["Cache-Control"] = append(h["Cache-Control"], "private")
	want := map[string][]string{
		"Content-Type":           {"application/json", "text/plain"},
		"Cache-Control":          {"no-store", "private"},
		"X-Content-Type-Options": {"nosniff"},
	}
	for k, v := range want {
		if !slices.Equal(h[k], v) {
			t.Errorf("%s: %q, want %q", k, h[k], v)
		}
	}
}

// Concurrent answers, sharing the encoders' pool, do not mix.
func TestConcurrentAnswers(t *testing.T) {
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			v := map[string]string{"n": strings.Repeat(string(rune('a'+i)), 100*i)}
			want, _ := json.Marshal(v)
			for range 100 {
				rec := httptest.NewRecorder()
				writeJSON(rec, 200, v)
				if rec.Body.String() != string(want)+"\n" {
					t.Errorf("answer %d mixed: %.40q", i, rec.Body)
					return
				}
			}
		})
	}
	wg.Wait()
}
