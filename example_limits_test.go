package lkgate_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

// Limit a tenant to one room and two tokens a minute, and audit what
// happens. Refusals come before anything is done, and say which limit
// refused and when to retry.
func ExampleLimits() {
	fake := lkgatetest.NewUnstartedServer()
	fake.Start()
	defer fake.Close()

	m, err := lkgate.New(lkgate.Config{
		URL:       fake.URL(),
		APIKey:    lkgatetest.APIKey,
		APISecret: lkgatetest.APISecret,
		Limits: lkgate.LimitConfig{Default: lkgate.Limits{
			MaxRooms:  1,
			TokenRate: lkgate.PerMinute(2, 2),
		}},
		Auditor: lkgate.AuditorFunc(func(_ context.Context, ev lkgate.AuditEvent) {
			fmt.Printf("audit: %s by %s: %s room=%s target=%q %s%s\n", ev.Tenant, ev.Subject, ev.Action, ev.Room, ev.Target, ev.Outcome, limitOf(ev))
		}),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	ctx := lkgate.WithSubject(context.Background(), "alice@acme")
	for _, room := range []string{"standup", "retro", "standup"} {
		_, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: room, Identity: "alice"})
		var e *lkgate.Error
		if errors.As(err, &e) && errors.Is(err, lkgate.ErrLimited) {
			fmt.Printf("refused by %s, retry after %s\n", e.Limit, e.RetryAfter)
		}
	}
	retro, _ := m.LiveKitRoom("acme", "retro")
	_, exists := fake.Room(retro)
	fmt.Println("retro created:", exists)
	// Output:
	// audit: acme by alice@acme: room.create room=standup target="" success
	// audit: acme by alice@acme: token.mint room=standup target="alice" success
	// audit: acme by alice@acme: room.create room=retro target="" refused (max_rooms)
	// audit: acme by alice@acme: token.mint room=retro target="alice" refused (max_rooms)
	// refused by max_rooms, retry after 30s
	// audit: acme by alice@acme: token.mint room=standup target="alice" refused (token_rate)
	// refused by token_rate, retry after 30s
	// retro created: false
}

func limitOf(ev lkgate.AuditEvent) string {
	if ev.Limit == "" {
		return ""
	}
	return " (" + ev.Limit + ")"
}
