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
	cfg, attach := routetest.FullConfig(naming)
	e := newEnv(t, cfg, httpx.StaticKeysConfig{})
	attach(e.fake)
	return e
}
