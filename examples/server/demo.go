package main

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
)

// demoFiles are the demo page: plain HTML and an ES module, no build step.
//
//go:embed demo
var demoFiles embed.FS

// mountDemo serves the demo page: / for members, /join for guests (the
// invite links), the page's assets under /demo/, livekit-client's ESM
// build from disk, the API prefix the page calls, and the sign-in of users
// (/demo/session, behind csrf).
func mountDemo(mux *http.ServeMux, cfg config, users *sessions, csrf *http.CrossOriginProtection) {
	static, _ := fs.Sub(demoFiles, "demo") // "demo" is embedded: cannot fail
	page := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		// The invite token is in the guest page's URL: keep it out of Referer headers.
		w.Header().Set("Referrer-Policy", "no-referrer")
		http.ServeFileFS(w, r, static, "index.html")
	}
	mux.HandleFunc("GET /{$}", page)
	mux.HandleFunc("GET /join", page)
	mux.Handle("GET /demo/", http.StripPrefix("/demo/", http.FileServerFS(static)))
	mux.HandleFunc("GET /demo/livekit-client.esm.mjs", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		http.ServeFile(w, r, cfg.livekitClient)
	})
	users.mount(mux, csrf)
	config, _ := json.Marshal(map[string]string{"api": cfg.apiBase()}) // a map of strings always encodes
	mux.HandleFunc("GET /demo/config.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(config)
	})
}
