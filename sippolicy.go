package lkgate

import (
	"context"
	"maps"
	"regexp"
	"strings"
)

// SIPConfig configures the outbound calls and transfers of [NewSIP].
type SIPConfig struct {
	// Trunks chooses the LiveKit outbound trunk each tenant dials through.
	// Required. Requests never name a trunk, a SIP address or credentials:
	// what a tenant may dial through is the host's decision alone.
	Trunks TrunkPolicy
	// AllowDestination, when set, must approve every number a tenant dials
	// or transfers to (E.164, such as "+4930123456"); a refused number is
	// [ErrForbidden] and never reaches LiveKit. It is the place for a toll-
	// fraud guard (see [AllowPrefixes]). Nil allows every valid number.
	AllowDestination func(tenant, number string) bool
	// AllowCallerID, when set, must approve the caller number a tenant
	// presents ([CallRequest].From, E.164); a refused number is
	// [ErrForbidden] and never reaches LiveKit. Nil refuses every From: a
	// call without one presents a number of its trunk, picked by LiveKit,
	// so by default a tenant can only show the numbers of the trunk Trunks
	// gives it. See [AllowCallerIDs].
	AllowCallerID func(tenant, number string) bool
	// AllowSIPTransfer, when set, may approve transfers to sip: and sips:
	// URIs (which route to any SIP server, bypassing AllowDestination). Nil
	// refuses them all ([ErrForbidden]): only tel: numbers are transferred to.
	AllowSIPTransfer func(tenant, uri string) bool
	// Service reaches LiveKit's SIP API, behind the Manager's circuit
	// breaker. Nil means an SDK client for the Manager's URL and key pair.
	Service SIPService
}

// TrunkPolicy chooses the outbound trunk a tenant's calls go through.
type TrunkPolicy interface {
	// OutboundTrunk returns the id of a LiveKit outbound trunk (such as
	// "ST_..."). An error that is an *Error (for example one whose Kind is
	// ErrForbidden, for a tenant without telephony) is returned as it is;
	// any other error is reported as ErrUnavailable.
	OutboundTrunk(ctx context.Context, tenant string) (string, error)
}

// TrunkPolicyFunc adapts a function to TrunkPolicy.
type TrunkPolicyFunc func(ctx context.Context, tenant string) (string, error)

// OutboundTrunk calls f.
func (f TrunkPolicyFunc) OutboundTrunk(ctx context.Context, tenant string) (string, error) {
	return f(ctx, tenant)
}

// StaticTrunk sends every tenant's calls through one trunk: for
// deployments with one tenant, or whose tenants share a trunk on purpose.
func StaticTrunk(trunkID string) TrunkPolicy {
	return TrunkPolicyFunc(func(context.Context, string) (string, error) { return trunkID, nil })
}

// TenantTrunks gives each tenant its own trunk. A tenant missing from the
// map has no telephony: its calls are ErrForbidden. The map is copied.
func TenantTrunks(trunks map[string]string) TrunkPolicy {
	own := maps.Clone(trunks)
	return TrunkPolicyFunc(func(_ context.Context, tenant string) (string, error) {
		if id, ok := own[tenant]; ok {
			return id, nil
		}
		return "", &Error{Kind: ErrForbidden, Msg: "no outbound SIP trunk is configured for this tenant"}
	})
}

// AllowPrefixes returns an AllowDestination that lets each tenant dial only
// numbers starting with one of its prefixes (E.164, such as "+49" or
// "+1800"). A tenant missing from the map may dial nothing. The map is
// copied.
func AllowPrefixes(prefixes map[string][]string) func(tenant, number string) bool {
	own := make(map[string][]string, len(prefixes))
	for tenant, p := range prefixes {
		own[tenant] = append([]string(nil), p...)
	}
	return func(tenant, number string) bool {
		for _, p := range own[tenant] {
			if strings.HasPrefix(number, p) {
				return true
			}
		}
		return false
	}
}

// AllowCallerIDs returns an AllowCallerID that lets each tenant present
// only its own numbers (E.164, compared exactly). A tenant missing from the
// map presents none: its calls show its trunk's numbers. The map is copied.
func AllowCallerIDs(numbers map[string][]string) func(tenant, number string) bool {
	return allowListed(numbers)
}

// e164 is a phone number in E.164 form: "+", a non-zero digit, at most 15
// digits in all.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

func validateE164(field, number string) error {
	if number == "" {
		return invalidArg(field, "is required")
	}
	if !e164.MatchString(number) {
		return invalidArg(field, "must be an E.164 number such as +4930123456 (a plus sign and up to 15 digits, no spaces)")
	}
	return nil
}
