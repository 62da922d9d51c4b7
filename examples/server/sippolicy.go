package main

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/lkgate/lkgate"
)

// premiumPrefixes are refused whatever LKGATE_SIP_DESTINATIONS allows:
// well-known premium-rate and high-cost destinations, favourites of toll
// fraud. It is an example, not a complete list: a real deployment takes
// its list from its carrier and keeps it current.
var premiumPrefixes = []string{
	"+1900", "+1976", // North America: premium rate
	"+449", "+4470", // UK: premium rate (09), personal numbers (070)
	"+49900", "+49137", // Germany: premium rate, televoting
	"+3389", "+39899", // France (089), Italy (899): premium rate
	"+34803", "+34806", "+34807", // Spain: premium rate
	"+41900", "+41901", "+41906", // Switzerland: premium rate
	"+43900", "+43930", "+61190", // Austria, Australia: premium rate
	"+8816", "+8817", "+870", "+979", // satellite phones, international premium rate
}

var (
	// prefixPattern is an E.164 prefix: "+" alone (every number) or "+"
	// and up to 15 digits, the first not zero.
	prefixPattern = regexp.MustCompile(`^\+([1-9][0-9]{0,14})?$`)
	// numberPattern is an E.164 number.
	numberPattern = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)
)

// sipPolicyFromEnv sets the destination and caller-ID policies of sip
// (nil without LKGATE_SIP_TRUNKS, when SIP is off) from
// LKGATE_SIP_DESTINATIONS and LKGATE_SIP_CALLER_IDS. Destinations are
// denied by default: a tenant missing from LKGATE_SIP_DESTINATIONS dials
// nothing, and premiumPrefixes are refused to every tenant. Without
// LKGATE_SIP_CALLER_IDS, calls present their trunk's number only.
func sipPolicyFromEnv(getenv func(string) string, sip *lkgate.SIPConfig) error {
	destinations, err := parseNumberLists(getenv("LKGATE_SIP_DESTINATIONS"), prefixPattern)
	if err != nil {
		return fmt.Errorf("LKGATE_SIP_DESTINATIONS: %w", err)
	}
	callerIDs, err := parseNumberLists(getenv("LKGATE_SIP_CALLER_IDS"), numberPattern)
	if err != nil {
		return fmt.Errorf("LKGATE_SIP_CALLER_IDS: %w", err)
	}
	if sip == nil {
		if len(destinations) > 0 || len(callerIDs) > 0 {
			return errors.New("LKGATE_SIP_DESTINATIONS and LKGATE_SIP_CALLER_IDS need LKGATE_SIP_TRUNKS")
		}
		return nil
	}
	allowed := lkgate.AllowPrefixes(destinations)
	sip.AllowDestination = func(tenant, number string) bool {
		for _, p := range premiumPrefixes {
			if strings.HasPrefix(number, p) {
				return false
			}
		}
		return allowed(tenant, number)
	}
	sip.AllowCallerID = lkgate.AllowCallerIDs(callerIDs)
	return nil
}

// parseNumberLists reads "tenant=n1,n2;tenant2=n3", each n matching
// valid. Empty means no tenant.
func parseNumberLists(raw string, valid *regexp.Regexp) (map[string][]string, error) {
	out := map[string][]string{}
	if strings.TrimSpace(raw) == "" {
		return out, nil
	}
	for i, entry := range strings.Split(raw, ";") {
		tenant, list, ok := strings.Cut(strings.TrimSpace(entry), "=")
		if !ok || tenant == "" || list == "" {
			return nil, fmt.Errorf("entry %d is not tenant=+number,+number", i+1)
		}
		if _, dup := out[tenant]; dup {
			return nil, fmt.Errorf("entry %d repeats tenant %q", i+1, tenant)
		}
		for _, n := range strings.Split(list, ",") {
			n = strings.TrimSpace(n)
			if !valid.MatchString(n) {
				return nil, fmt.Errorf("entry %d: %q is not in E.164 form (+ and digits, no spaces)", i+1, n)
			}
			out[tenant] = append(out[tenant], n)
		}
	}
	return out, nil
}
