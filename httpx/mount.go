package httpx

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// serve runs fn, the handler of route (such as "POST /livekit/token", or ""
// for a request no route matches), as every route is served, whether
// through ServeHTTP or mounted by the host on its own mux: a request of
// another method is a 405 problem, a panic is a 500 problem and an error
// log line, and every request is logged and observed under route.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, route string, fn http.HandlerFunc) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.log.ErrorContext(r.Context(), "handler panic", "method", r.Method, "path", r.URL.Path, "panic", h.m.Redact(fmt.Sprint(v)))
			if !rec.wrote {
				writeProblem(rec, newProblem(http.StatusInternalServerError, CodeInternal, "internal error"))
			}
		}
		elapsed := time.Since(start)
		h.failures.Flush(r.Context())
		h.log.LogAttrs(r.Context(), slog.LevelInfo, "request", slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", rec.status), slog.Duration("duration", elapsed))
		if h.observer != nil {
			h.observer.ObserveRequest(r.Context(), route, rec.status, elapsed)
		}
	}()
	// A host may mount a route without a method in its pattern.
	if method, _, _ := strings.Cut(route, " "); route != "" && r.Method != method && (method != http.MethodGet || r.Method != http.MethodHead) {
		rec.Header().Set("Allow", method)
		writeProblem(rec, newProblem(http.StatusMethodNotAllowed, CodeMethodNotAllowed, r.Method+" is not allowed here"))
		return
	}
	// Capped on w, not rec: a MaxBytesReader makes net/http close the
	// connection after a 413, through a method of net/http's own writer
	// that rec would hide, instead of reading on past the cap.
	r.Body = http.MaxBytesReader(w, r.Body, h.maxBody)
	fn(rec, r)
}

// route is a route answered by one call of the Manager, its Guests or its
// SIP: its definition maps its request and answer types, serve does the
// rest alike for every route.
type route[Req, Res any] struct {
	pattern string                // as the package documentation lists it
	perm    Permission            // the caller must hold; public for none
	on      func(h *Handler) bool // whether h has the route; nil: always
	body    bodyMode
	params  func(r *http.Request) (Req, error) // Req of a route without a body
	// call answers req, or refuses it with the Manager's error or a
	// *fieldError naming a JSON field; Res is not sent with an error.
	call   func(h *Handler, ctx context.Context, p Principal, req Req) (Res, error)
	fields fieldNames // the JSON names of the Manager's fields
	status int        // of the answer; 0 is 200
}

// public is the Permission of a route whose request carries its own
// credential (guest room-auth): it authenticates no one.
const public Permission = 0

func guestsOn(h *Handler) bool { return h.guests != nil }
func sipOn(h *Handler) bool    { return h.sip != nil }

// bodyMode is how a route reads its JSON body: not at all, refusing
// unknown fields, or ignoring them (LiveKit client SDKs send some).
type bodyMode int

const (
	noBody bodyMode = iota
	strictBody
	tolerantBody
)

// serve answers r: it authenticates the caller before reading the
// request, calls the Manager and writes the answer or the problem.
func (rt *route[Req, Res]) serve(h *Handler, w http.ResponseWriter, r *http.Request) {
	if rt.on != nil && !rt.on(h) { // mounted by the host: answer as ServeHTTP
		h.serve(w, r, "", h.noRoute)
		return
	}
	h.serve(w, r, rt.pattern, func(w http.ResponseWriter, r *http.Request) {
		var p Principal
		ctx := r.Context()
		if rt.perm != public {
			var ok bool
			if p, ctx, ok = h.authenticate(w, r, rt.perm); !ok {
				return
			}
		}
		var req Req
		var err error
		if rt.body != noBody {
			if prob, ok := h.decodeJSON(w, r, &req, rt.body == strictBody); !ok {
				writeProblem(w, prob)
				return
			}
		} else if rt.params != nil {
			req, err = rt.params(r)
		}
		var res Res
		if err == nil {
			res, err = rt.call(h, ctx, p, req)
		}
		if err != nil {
			h.fail(ctx, w, err, rt.fields)
			return
		}
		writeJSON(w, cmp.Or(rt.status, http.StatusOK), res)
	})
}

// pathRoom is the room name a request to Room carries in its path: the
// value of the last named wildcard of the pattern that routed it
// ({room_name} under ServeHTTP; any name on the host's mux), or, when no
// wildcard did (a fixed prefix removed by http.StripPrefix), the path's last
// segment.
func pathRoom(r *http.Request) string {
	if name := lastWildcard(r.Pattern); name != "" {
		return r.PathValue(name)
	}
	p := r.URL.EscapedPath()
	segment := p[strings.LastIndexByte(p, '/')+1:]
	if room, err := url.PathUnescape(segment); err == nil {
		return room
	}
	return segment // not a valid name either: refused as one
}

// lastWildcard returns the name of the last named wildcard ({name} or
// {name...}, not {$}) of a ServeMux pattern, or "".
func lastWildcard(pattern string) string {
	for pattern != "" {
		open := strings.LastIndexByte(pattern, '{')
		if open < 0 {
			return ""
		}
		name, _, _ := strings.Cut(pattern[open+1:], "}")
		if name = strings.TrimSuffix(name, "..."); name != "$" && name != "" {
			return name
		}
		pattern = pattern[:open]
	}
	return ""
}
