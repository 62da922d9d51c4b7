package httpx

import (
	"fmt"
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
		h.log.InfoContext(r.Context(), "request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", elapsed)
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
