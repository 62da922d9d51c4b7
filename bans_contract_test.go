package lkgate_test

import (
	"testing"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/internal/bantest"
)

// The in-process store passes the BanStore contract.
func TestMemoryBanStoreContract(t *testing.T) {
	bantest.Run(t, func(*testing.T) lkgate.BanStore { return lkgate.NewMemoryBanStore(nil) })
}
