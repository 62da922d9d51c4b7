package httpx_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
)

// Every request is one log line with its method, path (without the
// query), status and duration; a token request's line carries no token.
func TestRequestLogLine(t *testing.T) {
	e := newEnv(t, lkgate.Config{}, httpx.StaticKeysConfig{})
	res := e.do(t, "POST", "/livekit/token?x=secret", keyAcme, `{"room_name":"r","participant_identity":"i"}`)
	if res.status != 200 {
		t.Fatalf("%d %s", res.status, res.body)
	}
	line := regexp.MustCompile(`(?m)^.*msg=request .*$`).FindString(e.logs.String())
	if !regexp.MustCompile(`msg=request method=POST path=/livekit/token status=200 duration=[0-9.]+[µnm]?s$`).MatchString(line) {
		t.Errorf("request line %q", line)
	}
	if strings.Contains(e.logs.String(), "secret") || strings.Contains(e.logs.String(), "eyJ") {
		t.Errorf("the log holds a query or a token:\n%s", e.logs)
	}
}
