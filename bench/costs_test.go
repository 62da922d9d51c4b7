package main

import (
	"flag"
	"testing"

	"github.com/lkgate/lkgate"
)

// The cost table counts the operation's LiveKit and lease-store calls and
// nothing of what runs before and after it: a new room's token cleans up
// after itself (DeleteRoom: LiveKit calls of its own), a deny needs a
// guest let in first (room-auth: a count and a lobby).
func TestCostCountsOnlyTheOperation(t *testing.T) {
	if err := flag.Set("test.benchtime", "5x"); err != nil {
		t.Fatal(err)
	}
	find := func(name string) costOp {
		for _, op := range costOps {
			if op.name == name {
				return op
			}
		}
		t.Fatalf("no operation %q", name)
		return costOp{}
	}
	for _, c := range []struct {
		op           string
		naming       lkgate.RoomNaming
		quotas       bool
		calls, store float64
	}{
		// Read, create, claim; the claim's lease and the token's.
		{"Token (new room)", lkgate.SharedNames, false, 3, 2},
		// The room is read, the guest's pass read, the admission written, the lobby closed.
		{"Guests Deny", lkgate.SharedNames, true, 4, 0},
		{"Token (existing room)", lkgate.ScopedNames, false, 0, 0},
	} {
		r := measureCost(find(c.op), c.naming, c.quotas)
		if r.err != nil {
			t.Errorf("%s: %v", c.op, r.err)
			continue
		}
		if r.calls != c.calls || r.store != c.store {
			t.Errorf("%s, %s names, quotas %v: %.2f LiveKit and %.2f lease-store calls per op, want %v and %v",
				c.op, r.naming, c.quotas, r.calls, r.store, c.calls, c.store)
		}
	}
}
