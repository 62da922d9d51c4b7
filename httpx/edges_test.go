package httpx_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
)

// rawRequest sends a POST with body on conn, announcing length bytes, and
// reads the answer.
func rawRequest(t *testing.T, conn net.Conn, br *bufio.Reader, path string, length int, body string) *http.Response {
	t.Helper()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		path, keyAcme, length, body)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the answer to %s: %v", path, err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

// A body over the cap answers 413 and closes the connection, as net/http
// intends (it would otherwise read on past the cap to reuse it), on every
// route that reads a body, the webhook's included.
func TestTooLargeClosesTheConnection(t *testing.T) {
	e := newEnv(t, lkgate.Config{}, httpx.StaticKeysConfig{}).withGuests(t, testGuests)
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	for _, path := range []string{"/livekit/token", "/livekit/webhook", "/livekit/guest/room-auth"} {
		t.Run(path, func(t *testing.T) {
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			br := bufio.NewReader(conn)
			// The whole body is sent: a server that drained it could
			// keep the connection.
			n := httpx.DefaultMaxBodyBytes + 1024
			res := rawRequest(t, conn, br, path, n, `{"room_name":"`+strings.Repeat("x", n-15)+`"}`)
			if res.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d, want 413", res.StatusCode)
			}
			if !res.Close {
				t.Errorf("413 without Connection: close (header %q)", res.Header.Get("Connection"))
			}
			fmt.Fprintf(conn, "GET /livekit/rooms HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n\r\n", keyAcme)
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			if res, err := http.ReadResponse(br, nil); err == nil {
				t.Errorf("the connection served another request after the 413: %d", res.StatusCode)
			}
		})
	}
}

// A body that the server's read timeout cuts off answers 408, not 400,
// and closes the connection.
func TestReadTimeoutAnswers408(t *testing.T) {
	e := newEnv(t, lkgate.Config{}, httpx.StaticKeysConfig{})
	srv := httptest.NewUnstartedServer(e.h)
	srv.Config.ReadTimeout = 300 * time.Millisecond
	srv.Start()
	defer srv.Close()
	for _, path := range []string{"/livekit/token", "/livekit/webhook"} {
		t.Run(path, func(t *testing.T) {
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			br := bufio.NewReader(conn)
			// Ten bytes announced, two sent: the rest never comes.
			res := rawRequest(t, conn, br, path, 10, `{"`)
			if res.StatusCode != http.StatusRequestTimeout {
				t.Fatalf("status %d, want 408", res.StatusCode)
			}
			if !res.Close {
				t.Errorf("408 without Connection: close")
			}
		})
	}
}

// While lkgate's breaker keeps it from calling an unreachable LiveKit, the
// 503 says when to retry, in the header and the body.
func TestUnavailableCarriesRetryAfter(t *testing.T) {
	rec := httptest.NewRecorder()
	httpx.WriteError(rec, &lkgate.Error{Kind: lkgate.ErrUnavailable, RetryAfter: 2 * time.Second, Msg: "LiveKit is unreachable"})
	p := problemOf(t, rec)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "2" || p.RetryAfter != 2 || p.Code != httpx.CodeLiveKitUnavailable {
		t.Errorf("%d, Retry-After %q, problem %+v", rec.Code, rec.Header().Get("Retry-After"), p)
	}
}
