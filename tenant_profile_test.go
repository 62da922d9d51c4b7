package lkgate_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/lkgate/lkgate"
)

// A tenant is a name of the one name profile wherever a Manager method
// takes one, in both namings, refused before any LiveKit call: it is
// written into auth_id, lkgate.tenant and audit events, so it must not be
// invisible or look like another tenant. Under ScopedNames the token's
// path checks it again while mapping the name; ListRooms and every route
// under SharedNames rely on the Manager's own check alone.
func TestTenantNameProfile(t *testing.T) {
	forEachNaming(t, func(t *testing.T, naming lkgate.RoomNaming) {
		m, fake := newManager(t, lkgate.Config{RoomNames: naming})
		ctx := context.Background()
		for name, tenant := range map[string]string{
			"blank":            " ",
			"control":          "ac\nme",
			"bidi override":    "ac\u202eme",
			"zero-width space": "ac\u200bme",
			"outer space":      "acme ",
			"two spaces":       "ac  me",
			"not NFC":          "acme\u0301",
			"too long":         strings.Repeat("x", lkgate.MaxTenantBytes+1),
		} {
			fake.ResetCalls()
			_, tokErr := m.Token(ctx, tenant, lkgate.TokenRequest{Room: "r", Identity: "i"})
			_, listErr := m.ListRooms(ctx, tenant)
			_, roomErr := m.Room(ctx, tenant, "r")
			removeErr := m.RemoveParticipant(ctx, tenant, "r", "i")
			for op, err := range map[string]error{"Token": tokErr, "ListRooms": listErr, "Room": roomErr, "RemoveParticipant": removeErr} {
				var e *lkgate.Error
				if !errors.Is(err, lkgate.ErrInvalidArgument) || !errors.As(err, &e) || e.Field != "tenant" {
					t.Errorf("%s with a tenant (%s) %q: %v, want ErrInvalidArgument on tenant", op, name, tenant, err)
				}
			}
			if n := fake.TotalCalls(); n != 0 {
				t.Errorf("tenant (%s) %q: %d LiveKit calls, want none", name, tenant, n)
			}
		}
	})
}
