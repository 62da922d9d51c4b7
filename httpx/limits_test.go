package httpx_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
)

// A tenant over a limit gets 429 with Retry-After and a code naming the
// limit; the other tenant does not; the refusal is audited with the
// caller's subject.
func TestLimitRefusals(t *testing.T) { forEachNaming(t, testLimitRefusals) }

func testLimitRefusals(t *testing.T, naming lkgate.RoomNaming) {
	e := newEnv(t, lkgate.Config{RoomNames: naming, Limits: lkgate.LimitConfig{Default: lkgate.Limits{TokenRate: lkgate.PerMinute(1, 1), MaxRooms: 1}}}, httpx.StaticKeysConfig{})
	token := func(key, room string) response {
		return e.do(t, "POST", "/livekit/token", key, `{"room_name":"`+room+`","participant_identity":"alice"}`)
	}
	if res := token(keyAcme, "standup"); res.status != http.StatusOK {
		t.Fatalf("first token: %d %s", res.status, res.body)
	}
	res := token(keyAcme, "standup")
	if res.status != http.StatusTooManyRequests || res.problem.Code != httpx.CodeTokenRateExceeded || res.problem.Limit != lkgate.LimitTokenRate {
		t.Fatalf("over the rate: %d %s", res.status, res.body)
	}
	if ra := res.header.Get("Retry-After"); ra != "60" || res.problem.RetryAfter != 60 {
		t.Errorf("Retry-After %q, body %d; want 60", ra, res.problem.RetryAfter)
	}
	if !strings.Contains(res.problem.Detail, "token_rate") {
		t.Errorf("detail %q does not name the limit", res.problem.Detail)
	}

	if res := token(keyGlobex, "g1"); res.status != http.StatusOK {
		t.Fatalf("globex: %d %s", res.status, res.body)
	}
	res = token(keyGlobex, "g2")
	// globex has used its one token of the minute, so the rate answers first.
	if res.status != http.StatusTooManyRequests || res.problem.Code != httpx.CodeTokenRateExceeded {
		t.Fatalf("globex second: %d %s", res.status, res.body)
	}
	audit := e.logs.String()
	wants := []string{
		`msg=audit`, `tenant=acme subject=alice action=token.mint room=standup target=alice outcome=success`,
		`tenant=acme subject=alice action=token.mint room=standup target=alice outcome=refused reason="limit exceeded" limit=token_rate`,
	}
	if naming == lkgate.SharedNames {
		// Only a shared name is claimed.
		wants = append(wants, `tenant=globex subject=gina action=room.claim room=g1 target="" outcome=success`)
	}
	// The room quota counted g1 in, so it was created, in globex's
	// namespace under ScopedNames.
	if _, ok := e.fake.Room(e.lkRoom(t, "globex", "g1")); !ok {
		t.Error("globex's room g1 was not created")
	}
	for _, want := range wants {
		if !strings.Contains(audit, want) {
			t.Errorf("audit log lacks %q:\n%s", want, audit)
		}
	}
}

func TestRoomQuotaRefusal(t *testing.T) { forEachNaming(t, testRoomQuotaRefusal) }

func testRoomQuotaRefusal(t *testing.T, naming lkgate.RoomNaming) {
	e := newEnv(t, lkgate.Config{RoomNames: naming, Limits: lkgate.LimitConfig{Default: lkgate.Limits{MaxRooms: 1}}}, httpx.StaticKeysConfig{})
	if res := e.do(t, "POST", "/livekit/token", keyAcme, `{"room_name":"a","participant_identity":"alice"}`); res.status != http.StatusOK {
		t.Fatalf("%d %s", res.status, res.body)
	}
	res := e.do(t, "POST", "/livekit/token", keyAcme, `{"room_name":"b","participant_identity":"alice"}`)
	if res.status != http.StatusTooManyRequests || res.problem.Code != httpx.CodeMaxRoomsExceeded ||
		res.header.Get("Retry-After") != strconvSeconds(lkgate.QuotaRetryAfter) {
		t.Fatalf("over the quota: %d %v %s", res.status, res.header, res.body)
	}
	if _, ok := e.fake.Room(e.lkRoom(t, "acme", "a")); !ok {
		t.Error("the first room was not created")
	}
	if _, ok := e.fake.Room(e.lkRoom(t, "acme", "b")); ok {
		t.Error("the refused room was created")
	}
}

func strconvSeconds(d time.Duration) string { return strconv.Itoa(int(d / time.Second)) }
