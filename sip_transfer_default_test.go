package lkgate_test

import (
	"context"
	"errors"
	"testing"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

// Without SIPConfig.AllowSIPTransfer a sip: URI is never a transfer
// target: the zero value must not let a tenant send its call to a SIP
// server of its choosing. Refused before any LiveKit call.
func TestSIPTransferToURIRefusedByDefault(t *testing.T) {
	e := sipCall(t, lkgate.SIPConfig{}, lkgatetest.FarEnd{})
	_, err := e.sip.Transfer(context.Background(), "acme", lkgate.TransferRequest{Room: "r", Identity: "phone", TransferTo: "sip:desk@evil.example"})
	var le *lkgate.Error
	if !errors.Is(err, lkgate.ErrForbidden) || !errors.As(err, &le) || le.Field != "TransferTo" {
		t.Errorf("err %v, want ErrForbidden on TransferTo", err)
	}
	if n := e.fake.TotalCalls(); n != 0 || len(e.fake.Transfers()) != 0 {
		t.Errorf("%d LiveKit calls, %d transfers; want none", n, len(e.fake.Transfers()))
	}
}
