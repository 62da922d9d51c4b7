// Package integration runs lkgate against a real livekit-server started by
// internal/lkserver. These tests fail, never skip, when the server cannot
// start (except under -short).
package integration

import (
	"os"
	"testing"

	"github.com/lkgate/lkgate/internal/lkserver"
)

func TestMain(m *testing.M) {
	code := m.Run()
	lkserver.StopShared()
	os.Exit(code)
}
