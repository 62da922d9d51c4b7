package lkgate_test

import (
	"testing"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/internal/seentest"
)

// The in-process store passes the SeenEvents contract.
func TestMemorySeenEventsContract(t *testing.T) {
	seentest.Run(t, func(*testing.T) lkgate.SeenEvents { return lkgate.NewMemorySeenEvents(nil) })
}
