package lkgate_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/twitchtv/twirp"
	"go.uber.org/goleak"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

// faultConfig enables guests and SIP, so that every operation can be tried.
func faultConfig(url string, naming faultNaming) lkgate.Config {
	return lkgate.Config{
		URL: url, APIKey: lkgatetest.APIKey, APISecret: lkgatetest.APISecret, RequestTimeout: time.Second,
		RoomNames: naming.naming, PrecreateRooms: naming.precreate,
	}
}

// faultGuests are the guests of m, under a fixed configuration that
// NewGuests cannot refuse.
func faultGuests(m *lkgate.Manager) *lkgate.Guests {
	g, err := lkgate.NewGuests(m, lkgate.GuestConfig{Keys: []lkgate.InviteKey{{ID: "k1", Key: bytes.Repeat([]byte{7}, lkgate.InviteKeyBytes)}}, InviteBaseURL: "https://app.example"})
	if err != nil {
		panic(err)
	}
	return g
}

// faultSIP are the SIP calls of m, under a fixed configuration that
// NewSIP cannot refuse.
func faultSIP(m *lkgate.Manager) *lkgate.SIP {
	sip, err := lkgate.NewSIP(m, lkgate.SIPConfig{Trunks: lkgate.StaticTrunk("ST_fault")})
	if err != nil {
		panic(err)
	}
	return sip
}

// operations are every Manager method that reaches LiveKit, on a room that
// acme owns (or a new one for "token, new room"); invite is a valid invite
// to that room.
func operations(invite string) map[string]func(context.Context, *lkgate.Manager) error {
	return map[string]func(context.Context, *lkgate.Manager) error{
		"token, owned room": func(ctx context.Context, m *lkgate.Manager) error {
			_, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: "owned", Identity: "i"})
			return err
		},
		"token, new room": func(ctx context.Context, m *lkgate.Manager) error {
			_, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: "new", Identity: "i"})
			return err
		},
		"list rooms": func(ctx context.Context, m *lkgate.Manager) error { _, err := m.ListRooms(ctx, "acme"); return err },
		"room":       func(ctx context.Context, m *lkgate.Manager) error { _, err := m.Room(ctx, "acme", "owned"); return err },
		"remove": func(ctx context.Context, m *lkgate.Manager) error {
			return m.RemoveParticipant(ctx, "acme", "owned", "alice")
		},
		"mute": func(ctx context.Context, m *lkgate.Manager) error {
			_, err := m.MuteTrack(ctx, "acme", lkgate.MuteRequest{Room: "owned", Identity: "alice", Source: lkgate.SourceMicrophone, Muted: true})
			return err
		},
		"permissions": func(ctx context.Context, m *lkgate.Manager) error {
			_, err := m.UpdatePermissions(ctx, "acme", "owned", "alice", lkgate.ViewerGrant())
			return err
		},
		"guest invite": func(ctx context.Context, m *lkgate.Manager) error {
			_, err := faultGuests(m).Invite(ctx, "acme", lkgate.InviteRequest{Org: "acme", Room: "owned", AllowAll: true})
			return err
		},
		"guest room-auth": func(ctx context.Context, m *lkgate.Manager) error {
			_, err := faultGuests(m).RoomAuth(ctx, invite, "Guest")
			return err
		},
		"guest admit": func(ctx context.Context, m *lkgate.Manager) error {
			return faultGuests(m).Admit(lkgate.WithSubject(ctx, "alice"), "acme", "owned", "guest-x")
		},
		"waiting guests": func(ctx context.Context, m *lkgate.Manager) error {
			_, err := faultGuests(m).Waiting(ctx, "acme", "owned")
			return err
		},
		"sip call": func(ctx context.Context, m *lkgate.Manager) error {
			_, err := faultSIP(m).Call(ctx, "acme", lkgate.CallRequest{Room: "owned", Identity: "phone", To: "+15550100"})
			return err
		},
		"sip transfer": func(ctx context.Context, m *lkgate.Manager) error {
			_, err := faultSIP(m).Transfer(ctx, "acme", lkgate.TransferRequest{Room: "owned", Identity: "alice", TransferTo: "+15550199"})
			return err
		},
	}
}

// faultNaming is a room naming, and whether tokens create rooms first.
type faultNaming struct {
	name      string
	naming    lkgate.RoomNaming
	precreate bool
	// offline are the operations that make no LiveKit call in this naming:
	// LiveKit's trouble must not touch them.
	offline map[string]bool
}

var faultNamings = []faultNaming{
	// Room-auth counts the waiting guests in LiveKit (Limits'
	// defaults), so it is never offline.
	{"scoped", lkgate.ScopedNames, false, map[string]bool{"token, owned room": true, "token, new room": true, "guest invite": true}},
	{"scoped, precreated rooms", lkgate.ScopedNames, true, map[string]bool{"guest invite": true}},
	{"shared", lkgate.SharedNames, false, nil},
}

// rawLiveKit is a server that is not LiveKit: it answers every request with
// handle, to play a proxy in trouble.
func rawLiveKit(t *testing.T, handle http.HandlerFunc) string {
	srv := httptest.NewServer(handle)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestFaultsGiveClearErrorsWithinTheDeadline(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	closedPort := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return "http://" + l.Addr().String()
	}
	faults := []struct {
		name string
		url  func(t *testing.T) string // a LiveKit in trouble; "" for the slow fake
		want error
	}{
		{"down", func(*testing.T) string { return closedPort() }, lkgate.ErrUnavailable},
		{"slow", nil, lkgate.ErrTimeout},
		{"503 from a proxy", func(t *testing.T) string {
			return rawLiveKit(t, func(w http.ResponseWriter, _ *http.Request) {
				http.Error(w, "upstream down", http.StatusServiceUnavailable)
			})
		}, lkgate.ErrUnavailable},
		{"500 from a proxy", func(t *testing.T) string {
			return rawLiveKit(t, func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "oops", http.StatusInternalServerError) })
		}, lkgate.ErrUpstream},
		{"connection closed mid-call", func(t *testing.T) string {
			return rawLiveKit(t, func(w http.ResponseWriter, _ *http.Request) {
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					conn.Close()
				}
			})
		}, lkgate.ErrUnavailable},
	}
	for _, naming := range faultNamings {
		t.Run(naming.name, func(t *testing.T) {
			for _, f := range faults {
				t.Run(f.name, func(t *testing.T) {
					for name := range operations("") {
						t.Run(name, func(t *testing.T) {
							testFault(t, naming, f.url, name, f.want)
						})
					}
				})
			}
		})
	}
}

// testFault runs operation name against a LiveKit in trouble (the slow fake
// when url is nil), with no deadline of the caller's, and wants it to fail
// with want within Config.RequestTimeout, or to succeed if it needs no
// LiveKit call.
func testFault(t *testing.T, naming faultNaming, url func(t *testing.T) string, name string, want error) {
	fake := lkgatetest.NewServer(t)
	setup, _ := newManagerOn(t, fake, faultConfig(fake.URL(), naming))
	seedRoom(t, setup, fake, "acme", "owned")
	invite, err := faultGuests(setup).Invite(context.Background(), "acme", lkgate.InviteRequest{Org: "acme", Room: "owned", AllowAll: true})
	if err != nil {
		t.Fatal(err)
	}
	op := operations(invite.Token)[name]
	lk := fake.URL()
	if url != nil {
		lk = url(t)
	} else {
		for _, method := range []string{"ListRooms", "CreateRoom", "UpdateRoomMetadata", "GetParticipant", "RemoveParticipant", "MutePublishedTrack", "UpdateParticipant", "ListParticipants", "CreateSIPParticipant", "TransferSIPParticipant"} {
			fake.SetDelay(method, faultDelay)
		}
	}
	cfg := faultConfig(lk, naming)
	cfg.RequestTimeout = faultDeadline
	m, err := lkgate.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	start := time.Now()
	err = op(context.Background(), m)
	if naming.offline[name] {
		want = nil
	}
	if !errors.Is(err, want) || (want == nil && err != nil) {
		t.Fatalf("got %v, want %v", err, want)
	}
	if elapsed := time.Since(start); elapsed > faultDeadline+faultSlack {
		t.Errorf("returned after %s, past the %s deadline (Config.RequestTimeout) and %s of slack", elapsed, faultDeadline, faultSlack)
	}
}

const (
	// faultDeadline is Config.RequestTimeout in the fault tests, and
	// faultSlack how late past it an answer may come (scheduling under
	// -race). The slow fake holds every call for faultDelay, longer than
	// both: an operation that ignored the deadline, or granted each of its
	// calls one, would answer after it.
	faultDeadline = 200 * time.Millisecond
	faultSlack    = 250 * time.Millisecond
	faultDelay    = time.Second
)

// A claim that fails halfway leaves nothing that breaks the next request,
// even under DenyUnowned: the room lkgate created is deleted again, in the
// background, so that the client has its answer without waiting for the
// delete (here slower than the whole request deadline).
func TestFailedClaimLeavesNoOwnerlessRoom(t *testing.T) {
	const deadline = 500 * time.Millisecond
	m, fake := newManager(t, lkgate.Config{RoomNames: lkgate.SharedNames, UnownedRooms: lkgate.DenyUnowned, RequestTimeout: deadline})
	fake.SetError("UpdateRoomMetadata", twirp.NewError(twirp.Unavailable, "flaky"))
	fake.SetDelay("DeleteRoom", 2*deadline)
	start := time.Now()
	if err := token(m, "acme", "r"); !errors.Is(err, lkgate.ErrUnavailable) {
		t.Fatalf("claim with LiveKit failing = %v after %s", err, time.Since(start))
	}
	if elapsed := time.Since(start); elapsed > deadline {
		t.Errorf("the failed claim answered after %s: it waited for the cleanup", elapsed)
	}
	for wait := time.Now().Add(5 * deadline); ; time.Sleep(10 * time.Millisecond) {
		if _, ok := fake.Room("r"); !ok {
			break
		}
		if time.Now().After(wait) {
			t.Fatal("the room created for the failed claim was left behind")
		}
	}
	fake.SetDelay("DeleteRoom", 0)
	fake.SetError("UpdateRoomMetadata", nil)
	if err := token(m, "acme", "r"); err != nil {
		t.Fatalf("next request after the failure: %v", err)
	}
	if got := roomMetadata(t, fake, "r")[lkgate.OwnerKey]; got != "acme" {
		t.Errorf("owner %v", got)
	}
}
