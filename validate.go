package lkgate

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Size limits on request fields, in bytes. Tokens travel in the WebSocket
// URL, and proxies commonly cap a request line at 8 KiB, so what a token
// carries (metadata, attributes, agent dispatch) is kept well below that.
const (
	// MaxRoomNameBytes is LiveKit's limit on its room names. Under
	// ScopedNames a tenant's own room names have this less the tenant's
	// prefix (see ScopedRoomName): at least 122 bytes.
	MaxRoomNameBytes   = 256
	MaxIdentityBytes   = 256
	MaxNameBytes       = 256
	MaxMetadataBytes   = 4096
	MaxAttributes      = 32
	MaxAttributeKey    = 128
	MaxAttributesBytes = 4096
	MaxAgents          = 4
)

// validateText checks a required single-line field: non-empty, at most max
// bytes of valid UTF-8, no control or bidi-override characters.
func validateText(field, s string, max int) error {
	if s == "" {
		return invalidArg(field, "is required")
	}
	return validateOptionalText(field, s, max)
}

func validateOptionalText(field, s string, max int) error {
	if len(s) > max {
		return invalidArg(field, "is %d bytes long; the limit is %d", len(s), max)
	}
	if !utf8.ValidString(s) {
		return invalidArg(field, "is not valid UTF-8")
	}
	if strings.ContainsFunc(s, isForbiddenRune) {
		return invalidArg(field, "must not contain control or bidirectional-override characters")
	}
	return nil
}

// validateBlob checks free-form text such as metadata, which may span lines.
func validateBlob(field, s string, max int) error {
	if len(s) > max {
		return invalidArg(field, "is %d bytes long; the limit is %d", len(s), max)
	}
	if !utf8.ValidString(s) {
		return invalidArg(field, "is not valid UTF-8")
	}
	return nil
}

func validateAttributes(field string, attrs map[string]string) error {
	if len(attrs) > MaxAttributes {
		return invalidArg(field, "has %d entries; the limit is %d", len(attrs), MaxAttributes)
	}
	total := 0
	for k, v := range attrs {
		if err := validateText(field+" key", k, MaxAttributeKey); err != nil {
			return err
		}
		if strings.HasPrefix(k, reservedAttributePrefix) {
			return invalidArg(field, "key %q uses the prefix %q, which lkgate reserves", k, reservedAttributePrefix)
		}
		if strings.HasPrefix(k, "lk.") {
			return invalidArg(field, "key %q uses the prefix \"lk.\", which LiveKit reserves", k)
		}
		if err := validateBlob(field+"["+k+"]", v, MaxAttributesBytes); err != nil {
			return err
		}
		total += len(k) + len(v)
	}
	if total > MaxAttributesBytes {
		return invalidArg(field, "total %d bytes; the limit is %d", total, MaxAttributesBytes)
	}
	return nil
}

// isForbiddenRune reports control characters and the Unicode bidirectional
// overrides and isolates, which can disguise a name in a UI.
func isForbiddenRune(r rune) bool {
	if unicode.IsControl(r) {
		return true
	}
	switch {
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x200E, r == 0x200F, r == 0x061C:
		return true
	}
	return false
}

func isControlOrSpace(r rune) bool {
	return unicode.IsControl(r) || unicode.IsSpace(r)
}
