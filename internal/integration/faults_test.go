package integration

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/internal/lkserver"
)

// Fault suite on the real server, under the load of 32 clients of 4
// tenants through httpx: LiveKit killed and restarted mid-load, then slow
// (answers delayed past the deadline), then silent (a host that takes
// connections and never answers). It asserts only what must hold: no 500,
// only 503 or 504 while LiveKit is in trouble, every answer within the
// request deadline plus slack, fast 503s once the breaker is open, recovery
// after LiveKit returns, and no goroutine left behind.
func TestLiveKitFaultsUnderLoad(t *testing.T) {
	const (
		deadline = time.Second
		openFor  = time.Second
		// slack is how late past the deadline an answer may come: 32
		// clients on a loaded machine, with -race.
		slack = 750 * time.Millisecond
		fault = 3 * time.Second
	)
	// No webhooks: the harness's receiver would hold LiveKit's
	// connections, which goleak would count. The server's own goroutines
	// (its process, before and after a restart) are the harness's, and so
	// are the connections that servers started before this test (the
	// shared LiveKit's webhook receiver) serve meanwhile; the API server
	// below is closed first, which waits for its connections.
	srv := lkserver.Start(t, lkserver.WithoutWebhooks())
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(), goleak.IgnoreAnyFunction("github.com/lkgate/lkgate/internal/proc.Start.func1"),
		goleak.IgnoreAnyFunction("os/exec.(*Cmd).Start.func2"), goleak.IgnoreAnyFunction("os/exec.(*Cmd).watchCtx"),
		goleak.IgnoreAnyFunction("net/http.(*conn).serve"))
	proxy := startFaultProxy(t, srv.URL)
	logs := newLineCounter()
	m, err := lkgate.New(lkgate.Config{URL: proxy.URL(), APIKey: srv.APIKey, APISecret: srv.APISecret, PrecreateRooms: true,
		RequestTimeout: deadline, BreakerOpenFor: openFor, Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"acme-key-0123456789", "globex-key-0123456789", "initech-key-0123456789", "umbrella-key-0123456789"}
	principals := map[string]httpx.Principal{}
	for i, k := range keys {
		principals[k] = httpx.Principal{Tenant: []string{"acme", "globex", "initech", "umbrella"}[i], Subject: "s", Permissions: httpx.AllPermissions}
	}
	auth, err := httpx.NewStaticKeys(httpx.StaticKeysConfig{Keys: principals})
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpx.New(m, httpx.Config{Authenticator: auth, Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(h)
	l := startLoad(api.URL, keys, 32)
	defer func() {
		l.stop()
		api.Close()
		m.Close()
		proxy.close()
	}()

	// checkTrouble asserts the answers of a fault: 503 or 504 only (the
	// 200s of calls that were answered as it began aside), each within the
	// deadline, and most, once the breaker is open, at once.
	checkTrouble := func(name string, from, to time.Time) {
		t.Helper()
		if waiting := l.oldestInFlight(); waiting > deadline+slack {
			t.Errorf("%s: a request has waited %s for its answer, past the %s deadline", name, waiting, deadline)
		}
		answers := l.between(from, to)
		t.Logf("%s: %s", name, summary(answers))
		fast := 0
		for _, a := range answers {
			switch {
			case a.status == http.StatusOK && a.at.Before(from.Add(deadline)):
			case a.status != http.StatusServiceUnavailable && a.status != http.StatusGatewayTimeout:
				t.Errorf("%s: status %d (after %s)", name, a.status, a.took)
			case a.took > deadline+slack:
				t.Errorf("%s: answered %d after %s, past the %s deadline", name, a.status, a.took, deadline)
			case a.status == http.StatusServiceUnavailable && a.retryAfter != "" && a.took < 100*time.Millisecond:
				fast++
			}
		}
		if fast < len(answers)/2 {
			t.Errorf("%s: only %d of %d answers were an immediate 503 with Retry-After", name, fast, len(answers))
		}
		if first, ok := l.firstAfter(from, http.StatusServiceUnavailable); ok {
			t.Logf("%s: first 503 answered %s after the fault began", name, first.at.Add(first.took).Sub(from).Round(time.Millisecond))
		}
		t.Logf("%s: log lines: %v", name, logs.take())
	}
	// recovered waits for a 200 to a request started after from.
	recovered := func(name string, from time.Time) {
		t.Helper()
		limit := from.Add(openFor + deadline + 3*time.Second)
		for time.Now().Before(limit) {
			if first, ok := l.firstAfter(from, http.StatusOK); ok {
				t.Logf("%s: first 200 answered %s after LiveKit was back", name, first.at.Add(first.took).Sub(from).Round(time.Millisecond))
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("%s: no 200 within %s after LiveKit was back", name, limit.Sub(from))
	}

	time.Sleep(time.Second)
	warm := l.between(time.Time{}, time.Now())
	t.Logf("warm-up: %s", summary(warm))
	for _, a := range warm {
		if a.status >= 500 {
			t.Fatalf("warm-up: status %d", a.status)
		}
	}
	logs.take()

	killed := time.Now()
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(fault)
	if !m.BreakerOpen() {
		t.Error("the breaker is closed while LiveKit is down")
	}
	checkTrouble("killed", killed, time.Now())
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	recovered("restarted", time.Now())

	slow := time.Now()
	proxy.setDelay(3 * deadline)
	time.Sleep(fault)
	checkTrouble("slow", slow, time.Now())
	proxy.setDelay(0)
	recovered("fast again", time.Now())

	silent := time.Now()
	proxy.setSilent(true)
	time.Sleep(fault)
	checkTrouble("silent", silent, time.Now())
	proxy.setSilent(false)
	recovered("answering again", time.Now())
}
