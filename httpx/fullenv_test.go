package httpx_test

import (
	"testing"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/internal/routetest"
)

// newFullEnv is an env whose Manager has routetest.FullConfig: every
// route works.
func newFullEnv(t *testing.T, naming lkgate.RoomNaming) *env {
	t.Helper()
	full := routetest.FullConfig(naming)
	e := newEnv(t, full.Manager, httpx.StaticKeysConfig{})
	e.hcfg.Guests, e.hcfg.SIP = full.Features(t, e.fake, e.m)
	return e.build(t)
}
