package integration

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/internal/lkserver"
	"github.com/lkgate/lkgate/internal/sipstack"
)

// usageSink is a UsageRecorder keeping every record it gets.
type usageSink struct {
	mu   sync.Mutex
	recs []lkgate.UsageRecord
}

func (u *usageSink) RecordUsage(_ context.Context, r lkgate.UsageRecord) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.recs = append(u.recs, r)
	return nil
}

// wait returns the records that match, once there are n of them.
func (u *usageSink) wait(t *testing.T, what string, n int, match func(lkgate.UsageRecord) bool) []lkgate.UsageRecord {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		u.mu.Lock()
		var got []lkgate.UsageRecord
		for _, r := range u.recs {
			if match(r) {
				got = append(got, r)
			}
		}
		u.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d usage records, want %d", what, len(got), n)
		}
	}
}

// session is what the test itself saw of one participant's session.
type session struct {
	joined, left time.Time // when the SDK's connect returned; when Disconnect was called
}

// Real participants join and leave a real LiveKit, whose webhooks reach
// lkgate's route: two WebRTC clients and a guest, who waits in its lobby,
// is admitted and joins. Each session is recorded once, as its tenant's,
// with the right kind and room, and with the duration the test measured
// within the webhook's precision (created_at is in whole seconds); the
// room's record has its peak. In both namings.
func TestUsageFromRealSessions(t *testing.T) {
	srv := lkserver.Start(t)
	for _, naming := range namings {
		t.Run(naming.String(), func(t *testing.T) { usageFromRealSessions(t, srv, naming) })
	}
}

func usageFromRealSessions(t *testing.T, srv *lkserver.Server, naming lkgate.RoomNaming) {
	usage := &usageSink{}
	m := newManager(t, srv, lkgate.Config{RoomNames: naming, Usage: usage, Room: lkgate.RoomOptions{DepartureTimeout: time.Second}})
	guests := newGuests(t, m, inviteKey)
	h, err := httpx.New(m, httpx.Config{
		Authenticator: httpx.AuthenticatorFunc(func(*http.Request) (httpx.Principal, error) { return httpx.Principal{}, errors.New("unused") }),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.HandleWebhooks(t, h)
	ctx := context.Background()
	room := fmt.Sprintf("usage-%d", time.Now().UnixNano())
	lk := lkRoom(t, m, "acme", room)
	seen := map[string]*session{}

	join := func(identity string) func() {
		before := time.Now()
		r := mintAndJoin(t, srv, m, "acme", room, identity, nil)
		s := &session{joined: before}
		seen[identity] = s
		return func() { s.left = time.Now(); r.Disconnect() }
	}
	leaveAlice := join("alice")
	time.Sleep(1500 * time.Millisecond)
	leaveBob := join("bob")

	// The guest: room-auth, its lobby, admission, the main room.
	inv, err := guests.Invite(ctx, "acme", lkgate.InviteRequest{Org: "acme", Room: room, AllowAll: true})
	if err != nil {
		t.Fatal(err)
	}
	lobbyJoined := time.Now()
	g := joinLobby(t, srv, guests, inv.Token, "Grace")
	time.Sleep(2 * time.Second)
	if err := guests.Admit(lkgate.WithSubject(ctx, "alice"), "acme", room, g.session.Identity); err != nil {
		t.Fatal(err)
	}
	msg := g.nextAdmission(t)
	lobbyLeft := time.Now()
	g.lobby.Disconnect()
	seen["lobby"] = &session{joined: lobbyJoined, left: lobbyLeft}
	guestJoined := time.Now()
	guestRoom := srv.Join(t, msg.Token)
	waitForParticipant(t, srv, lk, g.session.Identity)
	seen[g.session.Identity] = &session{joined: guestJoined}

	time.Sleep(2500 * time.Millisecond)
	seen[g.session.Identity].left = time.Now()
	guestRoom.Disconnect()
	time.Sleep(1200 * time.Millisecond)
	leaveBob()
	time.Sleep(700 * time.Millisecond)
	leaveAlice()

	usage.wait(t, "participant sessions", 4, func(r lkgate.UsageRecord) bool { return r.Type == lkgate.UsageParticipantSession })
	rooms := usage.wait(t, "room sessions", 2, func(r lkgate.UsageRecord) bool { return r.Type == lkgate.UsageRoomSession })
	time.Sleep(time.Second) // anything recorded twice would show by now
	recs := usage.wait(t, "participant sessions", 4, func(r lkgate.UsageRecord) bool { return r.Type == lkgate.UsageParticipantSession })
	if len(recs) != 4 {
		t.Errorf("%d participant records, want 4: %+v", len(recs), recs)
	}
	// The webhook's end time is whole seconds (created_at), its start
	// milliseconds (joined_at_ms): a record may be up to 1 s short, and the
	// test's own timing adds a little around the SDK's connect and
	// disconnect.
	const short, long = time.Second + 250*time.Millisecond, 250 * time.Millisecond
	var worst time.Duration
	check := func(r lkgate.UsageRecord, s *session, what string) {
		measured := s.left.Sub(s.joined)
		diff := r.Duration - measured
		worst = max(worst, diff.Abs())
		t.Logf("%s: recorded %v, measured %v, error %v (start %+dms, end %+dms)", what, r.Duration, measured.Round(time.Millisecond),
			diff.Round(time.Millisecond), r.Start.Sub(s.joined).Milliseconds(), r.End.Sub(s.left).Milliseconds())
		if diff < -short || diff > long {
			t.Errorf("%s: recorded %v, measured %v: want at most %v shorter, %v longer", what, r.Duration, measured, short, long)
		}
	}
	for _, r := range recs {
		want := lkgate.UsageRecord{Tenant: "acme", Room: room, Kind: lkgate.UsageWebRTC}
		s := seen[r.Identity]
		switch {
		case r.Lobby:
			want.Room, want.Kind, s = "", lkgate.UsageGuest, seen["lobby"]
		case r.Identity == g.session.Identity:
			want.Kind = lkgate.UsageGuest
		}
		if s == nil || r.Tenant != want.Tenant || r.Room != want.Room || r.Kind != want.Kind || r.ID == "" || r.RoomSID == "" {
			t.Errorf("record %+v, want tenant %q room %q kind %q", r, want.Tenant, want.Room, want.Kind)
			continue
		}
		check(r, s, r.Identity+map[bool]string{true: " (lobby)"}[r.Lobby])
	}
	for _, r := range rooms {
		if r.Lobby {
			if r.Tenant != "acme" || r.Room != "" {
				t.Errorf("lobby room record %+v", r)
			}
			continue
		}
		// The room opened with alice's join and closed DepartureTimeout
		// after she left.
		if r.Tenant != "acme" || r.Room != room || r.PeakParticipants != 3 {
			t.Errorf("room record %+v, want acme's %q with a peak of 3", r, room)
		}
		check(r, &session{joined: seen["alice"].joined, left: seen["alice"].left.Add(time.Second)}, "room")
	}
	t.Logf("worst error between recorded and measured durations: %v", worst)
}

// A phone call on the real SIP stack (livekit-sip and a sipp far end) is
// recorded as a SIP session of its tenant's room, for as long as its
// participant was in the room: livekit-sip v1.0.0 joins while it dials,
// so the session starts before the answer.
func TestUsageOfRealSIPCall(t *testing.T) {
	stack := sipstack.Start(t)
	usage := &usageSink{}
	m := newManager(t, stack.LiveKit, lkgate.Config{Usage: usage})
	peer := sipstack.StartPeer(t, sipstack.AnswerAndRefer, sipstack.PeerOptions{})
	calls, err := lkgate.NewSIP(m, lkgate.SIPConfig{Trunks: lkgate.StaticTrunk(stack.Trunk(t, peer.Addr))})
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpx.New(m, httpx.Config{
		Authenticator: httpx.AuthenticatorFunc(func(*http.Request) (httpx.Principal, error) { return httpx.Principal{}, errors.New("unused") }),
		SIP:           calls,
	})
	if err != nil {
		t.Fatal(err)
	}
	stack.LiveKit.HandleWebhooks(t, h)
	ctx := context.Background()
	begin := time.Now()
	c, err := calls.Call(ctx, "acme", lkgate.CallRequest{Room: "phone-usage", Identity: "phone", To: "+15550100", WaitUntilAnswered: true})
	if err != nil {
		t.Fatal(err)
	}
	answered := time.Now()
	t.Logf("call answered in %v (%s)", answered.Sub(begin), c.ParticipantSID)
	time.Sleep(3 * time.Second)
	hungUp := time.Now()
	if _, err := adminClient(stack.LiveKit).RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: lkRoom(t, m, "acme", "phone-usage"), Identity: "phone"}); err != nil {
		t.Fatalf("hang up: %v", lkgate.Redact(err.Error()))
	}
	if code := peer.Wait(t, 10*time.Second); code != 0 {
		t.Errorf("sipp exit code %d, want 0", code)
	}
	r := usage.wait(t, "the call's session", 1, func(r lkgate.UsageRecord) bool { return r.Type == lkgate.UsageParticipantSession })[0]
	measured := hungUp.Sub(answered)
	t.Logf("SIP session: recorded %v, measured %v (answer to hang-up), error %v (start %+dms from the answer, end %+dms)",
		r.Duration, measured.Round(time.Millisecond), (r.Duration - measured).Round(time.Millisecond),
		r.Start.Sub(answered).Milliseconds(), r.End.Sub(hungUp).Milliseconds())
	if r.Kind != lkgate.UsageSIP || r.Tenant != "acme" || r.Room != "phone-usage" || r.Identity != "phone" || r.ID != c.ParticipantSID {
		t.Errorf("SIP record %+v", r)
	}
	if r.Start.Before(begin) || r.Start.After(answered) || r.End.After(hungUp.Add(250*time.Millisecond)) || r.End.Before(hungUp.Add(-1250*time.Millisecond)) {
		t.Errorf("recorded %v to %v; the call was placed at %v, answered at %v, hung up at %v", r.Start, r.End, begin, answered, hungUp)
	}
}
