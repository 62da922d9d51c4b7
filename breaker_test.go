package lkgate_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twitchtv/twirp"
	"go.uber.org/goleak"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

// listRooms is one operation that needs LiveKit.
func listRooms(m *lkgate.Manager) error {
	_, err := m.ListRooms(context.Background(), "acme")
	return err
}

// After BreakerFailures failed calls in a row, lkgate stops calling
// LiveKit: operations fail at once with ErrUnavailable and a RetryAfter,
// and LiveKit sees no call, until a probe in the background finds it back.
// The host's own RoomService (here the fake's client) is guarded like the
// default one.
func TestBreakerStopsCallingADownLiveKit(t *testing.T) {
	const openFor = time.Second
	fake := lkgatetest.NewServer(t)
	m := fake.NewManager(t, lkgate.Config{BreakerFailures: 3, BreakerOpenFor: openFor})
	fake.SetError("ListRooms", twirp.NewError(twirp.Unavailable, "overloaded"))
	for i := range 3 {
		if err := listRooms(m); !errors.Is(err, lkgate.ErrUnavailable) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if !m.BreakerOpen() {
		t.Fatal("BreakerOpen is false after 3 failures in a row")
	}
	fake.ResetCalls()
	for range 20 {
		err := listRooms(m)
		var e *lkgate.Error
		if !errors.As(err, &e) || !errors.Is(err, lkgate.ErrUnavailable) || e.RetryAfter < time.Second || e.RetryAfter > openFor {
			t.Fatalf("with the breaker open: %v (retry after %v)", err, e.RetryAfter)
		}
	}
	if n := fake.TotalCalls(); n != 0 {
		t.Errorf("LiveKit got %d calls while the breaker was open", n)
	}

	// LiveKit is back: the probe, after openFor, closes the breaker.
	fake.SetError("ListRooms", nil)
	deadline := time.Now().Add(openFor + 2*time.Second)
	for listRooms(m) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("still failing %s after LiveKit came back", openFor+2*time.Second)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if m.BreakerOpen() {
		t.Error("BreakerOpen after a success")
	}
}

// Answers are no failures: not found, refusals and invalid arguments never
// open the breaker, however many come in a row.
func TestBreakerIgnoresAnswers(t *testing.T) {
	fake := lkgatetest.NewServer(t)
	m := fake.NewManager(t, lkgate.Config{BreakerFailures: 2})
	for _, err := range []error{twirp.NotFoundError("gone"), twirp.NewError(twirp.PermissionDenied, "no"), twirp.InvalidArgumentError("x", "bad")} {
		fake.SetError("ListRooms", err)
		for range 5 {
			if listRooms(m) == nil {
				t.Fatal("the injected error did not arrive")
			}
		}
	}
	if m.BreakerOpen() {
		t.Error("LiveKit's answers opened the breaker")
	}
	fake.SetError("ListRooms", nil)
	if err := listRooms(m); err != nil {
		t.Errorf("after the answers: %v", err)
	}
}

// A busy callee comes from LiveKit as "unavailable" with a SIP status: it
// is the far end's answer, not LiveKit being down. (One failure would open
// this breaker: each Call's CreateRoom succeeds first.)
func TestBreakerIgnoresCallOutcomes(t *testing.T) {
	fake := lkgatetest.NewServer(t)
	trunk := fake.AddOutboundTrunk("pbx.example:5060", "+15550000001")
	m := fake.NewManager(t, lkgate.Config{BreakerFailures: 1})
	sip := fake.NewSIP(t, m, lkgate.SIPConfig{Trunks: lkgate.StaticTrunk(trunk), AllowDestination: func(string, string) bool { return true }})
	fake.SetFarEnd("+15550100", lkgatetest.FarEnd{CallStatus: 486})
	for i := range 5 {
		_, err := sip.Call(context.Background(), "acme", lkgate.CallRequest{Room: "r", Identity: fmt.Sprintf("phone-%d", i), To: "+15550100", WaitUntilAnswered: true})
		if !errors.Is(err, lkgate.ErrBusy) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if m.BreakerOpen() {
		t.Error("busy callees opened the breaker")
	}
}

// Against a LiveKit host that takes connections and never answers (as one
// dropping packets), only the calls that trip the breaker wait for the
// deadline; the next ones fail at once.
func TestBreakerSparesTheDeadlineOfASilentHost(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			held = append(held, c) // read nothing, answer nothing
		}
	}()
	const deadline = 300 * time.Millisecond
	m, err := lkgate.New(lkgate.Config{URL: "http://" + l.Addr().String(), APIKey: lkgatetest.APIKey, APISecret: lkgatetest.APISecret,
		RequestTimeout: deadline, BreakerFailures: 2, BreakerOpenFor: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	defer m.Close()
	for i := range 2 {
		if err := listRooms(m); !errors.Is(err, lkgate.ErrTimeout) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	dialed := accepted.Load()
	for i := range 10 {
		start := time.Now()
		if err := listRooms(m); !errors.Is(err, lkgate.ErrUnavailable) {
			t.Fatalf("call %d after the trip: %v", i, err)
		}
		if elapsed := time.Since(start); elapsed > deadline/3 {
			t.Fatalf("call %d after the trip took %s of the %s deadline", i, elapsed, deadline)
		}
	}
	if n := accepted.Load(); n != dialed {
		t.Errorf("%d more connections after the trip", n-dialed)
	}
}

// A caller's own deadline, shorter than LiveKit needs, is the caller's
// business: however many expire in a row, the breaker stays closed for
// every other caller. lkgate's own RequestTimeout running out does count.
func TestBreakerIgnoresCallersShortDeadlines(t *testing.T) {
	fake := lkgatetest.NewServer(t)
	m := fake.NewManager(t, lkgate.Config{BreakerFailures: 2, RequestTimeout: 200 * time.Millisecond})
	fake.SetDelay("ListRooms", 50*time.Millisecond)
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		_, err := m.ListRooms(ctx, "acme")
		cancel()
		if !errors.Is(err, lkgate.ErrTimeout) {
			t.Fatalf("with a 5 ms deadline: %v", err)
		}
	}
	if m.BreakerOpen() {
		t.Fatal("callers' short deadlines opened the breaker")
	}
	fake.SetDelay("ListRooms", time.Second)
	for range 2 {
		if err := listRooms(m); !errors.Is(err, lkgate.ErrTimeout) {
			t.Fatalf("past RequestTimeout: %v", err)
		}
	}
	if !m.BreakerOpen() {
		t.Error("lkgate's own deadline running out twice did not open the breaker")
	}
}
