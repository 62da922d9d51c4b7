package lkserver

import (
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
)

// WebhookPath is the path of Server.WebhookURL: lkgate's webhook route
// relative to where httpx is mounted, so that an httpx.Handler given to
// HandleWebhooks serves LiveKit's deliveries unchanged.
const WebhookPath = "/livekit/webhook"

// Webhooks are on by default, as in the configurations the project ships
// (make demo, scripts/livekit-dev.sh): every server started here posts its
// webhooks, signed with APIKey, to a receiver the harness serves on
// loopback for as long as the server runs. A test hands the receiver its
// lkgate handler with HandleWebhooks; until then, deliveries are answered
// 200 and dropped. WithoutWebhooks starts a server that sends none.

// WithoutWebhooks makes the server send no webhooks at all: no receiver,
// and WithWebhook's URLs ignored. For tests of a LiveKit whose webhooks do
// not reach lkgate.
func WithoutWebhooks() Option {
	return func(o *options) { o.noWebhooks = true }
}

// webhookSink is the harness's receiver of one server's webhooks.
type webhookSink struct {
	url     string
	srv     *http.Server
	handler atomic.Pointer[http.Handler]
}

func startWebhookSink() (*webhookSink, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	k := &webhookSink{url: "http://" + l.Addr().String() + WebhookPath}
	k.srv = &http.Server{Handler: http.HandlerFunc(k.serve)}
	go func() { _ = k.srv.Serve(l) }()
	return k, nil
}

func (k *webhookSink) serve(w http.ResponseWriter, r *http.Request) {
	if h := k.handler.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	_, _ = io.Copy(io.Discard, r.Body)
}

func (k *webhookSink) close() { _ = k.srv.Close() }

// HandleWebhooks passes the server's webhook deliveries (POST WebhookURL,
// as LiveKit sends them) to h until t ends; then they are dropped again.
// One handler at a time: tests of the Shared server that call it must not
// run in parallel. It fails t for a server started WithoutWebhooks.
func (s *Server) HandleWebhooks(t testing.TB, h http.Handler) {
	t.Helper()
	if s.hooks == nil {
		t.Fatal("lkserver: HandleWebhooks on a server started WithoutWebhooks")
	}
	s.hooks.handler.Store(&h)
	t.Cleanup(func() { s.hooks.handler.Store(nil) })
}
