package lkgate_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

// Place a call and transfer it, against the fake: each tenant dials through
// its own trunk, to numbers its allow-list accepts, and presents its trunk's
// number or one its caller-ID policy approves.
func ExampleSIP_Call() {
	fake := lkgatetest.NewUnstartedServer()
	trunk := fake.AddOutboundTrunk("pbx.example:5060", "+15550000001")
	fake.SetFarEnd("+15550100", lkgatetest.FarEnd{})                // answers
	fake.SetFarEnd("+15550199", lkgatetest.FarEnd{CallStatus: 486}) // busy
	fake.Start()
	defer fake.Close()

	m, err := lkgate.New(lkgate.Config{URL: fake.URL(), APIKey: lkgatetest.APIKey, APISecret: lkgatetest.APISecret})
	if err != nil {
		panic(err)
	}
	defer m.Close()
	sip, err := lkgate.NewSIP(m, lkgate.SIPConfig{
		Trunks:           lkgate.TenantTrunks(map[string]string{"acme": trunk}),
		AllowDestination: lkgate.AllowPrefixes(map[string][]string{"acme": {"+1555"}}),
		AllowCallerID:    lkgate.AllowCallerIDs(map[string][]string{"acme": {"+15550000002"}}),
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	// Without From the call presents the trunk's number.
	req := lkgate.CallRequest{Room: "support", Identity: "caller", To: "+15550100", WaitUntilAnswered: true}

	c, err := sip.Call(ctx, "acme", req)
	if err != nil {
		panic(err)
	}
	fmt.Println("answered:", c.Answered, "in", c.Room)

	target, err := sip.Transfer(ctx, "acme", lkgate.TransferRequest{Room: "support", Identity: "caller", TransferTo: "+15550123"})
	fmt.Println("transferred to", target, err)

	req.To = "+15550199"
	_, err = sip.Call(ctx, "acme", req)
	var e *lkgate.Error
	if errors.Is(err, lkgate.ErrBusy) && errors.As(err, &e) {
		fmt.Println("busy, SIP status", e.SIPStatus)
	}

	req.To = "+4930123456"
	_, err = sip.Call(ctx, "acme", req)
	fmt.Println("abroad forbidden:", errors.Is(err, lkgate.ErrForbidden))

	req.To, req.From = "+15550100", "+15559999999"
	_, err = sip.Call(ctx, "acme", req)
	fmt.Println("unapproved caller number forbidden:", errors.As(err, &e) && e.Field == "From")

	req.From = ""
	_, err = sip.Call(ctx, "globex", req)
	fmt.Println("globex, without a trunk, forbidden:", errors.Is(err, lkgate.ErrForbidden))
	// Output:
	// answered: true in support
	// transferred to tel:+15550123 <nil>
	// busy, SIP status 486
	// abroad forbidden: true
	// unapproved caller number forbidden: true
	// globex, without a trunk, forbidden: true
}
