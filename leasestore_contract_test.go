package lkgate_test

import (
	"testing"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/internal/leasetest"
)

// The in-process lease store passes the LeaseStore contract that
// redislimit's Store passes too.
func TestMemoryLeaseStoreContract(t *testing.T) {
	leasetest.Run(t, func(*testing.T) lkgate.LeaseStore { return lkgate.NewMemoryLeaseStore(nil) })
}
