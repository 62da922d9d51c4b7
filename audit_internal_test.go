package lkgate

import (
	"context"
	"errors"
	"testing"
)

// run is the one runner of operations: one audit event per outcome, the
// operation's context on its error, and a refused room name not echoed.
func TestRunAuditsOnceAndGivesContext(t *testing.T) {
	var events []AuditEvent
	m, err := New(Config{URL: "http://lk.test", APIKey: "key", APISecret: "0123456789abcdef0123456789abcdef",
		Auditor: AuditorFunc(func(_ context.Context, ev AuditEvent) { events = append(events, ev) })})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	o := operation{op: "test op", action: ActionTokenMint, tenant: "acme", room: "r", target: "alice"}
	tests := []struct {
		name     string
		o        operation
		body     func(context.Context, *auditRecord) error
		events   int
		outcome  string
		wantKind error
		room     string
	}{
		{"success", o, func(_ context.Context, a *auditRecord) error { a.set("k", "v"); return nil }, 1, OutcomeSuccess, nil, ""},
		{"refused", o, func(context.Context, *auditRecord) error { return invalidArg("Identity", "bad") }, 1, OutcomeRefused, ErrInvalidArgument, "r"},
		{"bad room not echoed", o, func(context.Context, *auditRecord) error { return invalidArg("Room", "bad") }, 1, OutcomeRefused, ErrInvalidArgument, ""},
		{"failed", o, func(context.Context, *auditRecord) error { return &Error{Kind: ErrUpstream} }, 1, OutcomeFailed, ErrUpstream, "r"},
		{"no tenant", operation{op: "test op", action: ActionTokenMint}, func(context.Context, *auditRecord) error {
			t.Error("the body ran without a tenant")
			return nil
		}, 1, OutcomeRefused, ErrUnauthenticated, ""},
		{"dropped", operation{op: "test op", action: ActionGuardRemove, tenantless: true}, func(_ context.Context, a *auditRecord) error { a.drop(); return nil }, 0, "", nil, ""},
		{"read", operation{op: "test op", tenant: "acme"}, func(context.Context, *auditRecord) error { return nil }, 0, "", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events = nil
			err := m.run(ctx, tt.o, func(ctx context.Context, a *auditRecord) error {
				if _, ok := ctx.Deadline(); !ok {
					t.Error("the body has no deadline")
				}
				return tt.body(ctx, a)
			})
			if len(events) != tt.events {
				t.Fatalf("%d audit events, want %d", len(events), tt.events)
			}
			if tt.events == 1 && events[0].Outcome != tt.outcome {
				t.Errorf("outcome %q, want %q", events[0].Outcome, tt.outcome)
			}
			if tt.wantKind == nil {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, tt.wantKind) || e.Op != "test op" || e.Room != tt.room {
				t.Errorf("err = %#v, want kind %v, op %q, room %q", err, tt.wantKind, "test op", tt.room)
			}
		})
	}
}
