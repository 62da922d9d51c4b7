package main

import (
	"io"
	"log"
	"net/http"
)

// ceilingRow is the HTTP ceiling's row in the table.
const ceilingRow = "HTTP ceiling: no lkgate, a scoped token response's bytes, 64 rooms"

// ceilingHandler is the bound lkgate's token route cannot pass on this
// machine: driven exactly like the token rows (same client, mux, server,
// request body and headers), it reads the body and writes the response of
// a scoped token request, headers and bytes, recorded once, with no lkgate
// behind it. What the ceiling row costs is the HTTP client and server over
// loopback and the load generator; lkgate's scoped row as a share of it is
// what lkgate leaves of that bound.
type ceilingHandler struct {
	header http.Header
	body   []byte
}

// copyResponse records the response to req, a scoped token request.
func (c *ceilingHandler) copyResponse(req *http.Request) {
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatalf("bench: the scoped token response for the HTTP ceiling: %v", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		log.Fatalf("bench: the scoped token response for the HTTP ceiling: status %d, %v", res.StatusCode, err)
	}
	c.body = body
	c.header = res.Header.Clone()
	// The server sets these itself, as it does for lkgate's response.
	c.header.Del("Date")
	c.header.Del("Content-Length")
}

func (c *ceilingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		http.Error(w, "reading the body", http.StatusBadRequest)
		return
	}
	h := w.Header()
	for k, v := range c.header {
		h[k] = v
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(c.body)
}
