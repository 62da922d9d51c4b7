package lkgate_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lkgate/lkgate"
)

// The caller-supplied details of a refused call are bounded as its other
// fields are, and every field is valid UTF-8 whatever the caller sent:
// TestAuditBoundsCallerInput covers Room and Target only.
func TestAuditBoundsCallerDetails(t *testing.T) {
	log := &auditLog{}
	e := newSIPEnvWith(t, lkgate.Config{Auditor: log})
	long := strings.Repeat("9", 10000) + "\xff"
	_, err := e.sip.Call(context.Background(), "acme", lkgate.CallRequest{Room: "r\xff", Identity: "p", To: long, From: long})
	if err == nil {
		t.Fatal("accepted")
	}
	var calls []lkgate.AuditEvent
	for _, ev := range log.take() {
		if ev.Action == lkgate.ActionSIPCall {
			calls = append(calls, ev)
		}
	}
	if len(calls) != 1 || calls[0].Outcome != lkgate.OutcomeRefused {
		t.Fatalf("sip.call events %+v, want one refused", calls)
	}
	ev := calls[0]
	for k, v := range ev.Details {
		if len(v) > 300 || !strings.HasSuffix(v, "...") {
			t.Errorf("detail %q unbounded: %d bytes", k, len(v))
		}
	}
	if len(ev.Details) != 2 {
		t.Errorf("details %v, want to and from", ev.Details)
	}
	for name, s := range map[string]string{"Room": ev.Room, "Target": ev.Target, "to": ev.Details["to"], "from": ev.Details["from"]} {
		if !utf8.ValidString(s) {
			t.Errorf("%s is not valid UTF-8: %q", name, s)
		}
	}
	if n := e.fake.TotalCalls(); n != 0 {
		t.Errorf("%d LiveKit calls", n)
	}
}
