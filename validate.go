package lkgate

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Names. Every name lkgate takes follows one profile: room names, tenants
// (and an invite's Org), participant and guest identities, display names
// (TokenRequest.Name, CallRequest.Name), agent names, subjects (Guests.Admit's
// subject, InviteRequest.AllowedAdmins), participant attribute keys and
// track SIDs. A name is valid UTF-8 of at most its limit in bytes and:
//
//   - is not only white space: a required name of spaces is missing ("is
//     required"), an optional one is refused, not taken for empty;
//   - does not begin or end with white space, and its only white space is
//     single spaces (U+0020), so that no two names differ by spacing a UI
//     collapses or cannot show;
//   - contains only graphic characters (letters, marks, numbers,
//     punctuation, symbols) that are not default-ignorable: no control
//     characters, no format characters (general category Cf, which holds
//     the bidirectional controls, zero-width spaces and joiners, the soft
//     hyphen and the byte-order mark), no variation selectors, Hangul
//     fillers or other invisible code points, no private-use, unassigned
//     or noncharacter code points;
//   - does not begin with a combining mark, nor has one right after a
//     space, so every mark sits on a visible base;
//   - is in Unicode normalization form C (NFC), which also bounds a run of
//     combining marks to 30.
//
// A name that breaks the profile is refused (ErrInvalidArgument naming the
// field), never repaired: lkgate uses and answers exactly the bytes it was
// sent, so a proxy, a WAF or an audit log that sees the request sees the
// name LiveKit gets. Clients normalise to NFC before sending (most input
// already is). The one exception is a guest's display name, which a person
// types: Guests.RoomAuth sanitises it into the profile (see GuestSession).
// Look-alikes across scripts (Latin "a" and Cyrillic "а") are distinct
// names; the profile does not judge confusability. Which characters are
// assigned follows the Unicode version of the Go release lkgate is built
// with (unicode.Version).
const (
	// MaxRoomNameBytes is LiveKit's limit on its room names. Under
	// ScopedNames a tenant's own room names have this less the tenant's
	// prefix (see ScopedRoomName): at least 122 bytes.
	MaxRoomNameBytes = 256
	MaxIdentityBytes = 256
	MaxNameBytes     = 256
)

// Size limits on the other request fields, in bytes. Tokens travel in the
// WebSocket URL, and proxies commonly cap a request line at 8 KiB, so what
// a token carries (metadata, attributes, agent dispatch) is kept well
// below that.
const (
	MaxMetadataBytes   = 4096
	MaxAttributes      = 32
	MaxAttributeKey    = 128
	MaxAttributesBytes = 4096
	MaxAgents          = 4
)

// validateText checks a required name against the profile described at
// MaxRoomNameBytes.
func validateText(field, s string, max int) error {
	if s == "" || strings.TrimFunc(s, unicode.IsSpace) == "" {
		return invalidArg(field, "is required")
	}
	return validateOptionalText(field, s, max)
}

// validateOptionalText checks a name that may be empty; a name of only
// white space is refused rather than taken for empty, as lkgate never
// changes what it was sent.
func validateOptionalText(field, s string, max int) error {
	if err := validateBlob(field, s, max); err != nil || s == "" {
		return err
	}
	if strings.TrimFunc(s, unicode.IsSpace) == "" {
		return invalidArg(field, "is only white space; give a name or leave it out")
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return invalidArg(field, "must not begin or end with a space")
	}
	wordStart := true
	for _, r := range s {
		switch {
		case r == ' ' && wordStart:
			return invalidArg(field, "has two spaces in a row; a name has single spaces between words")
		case r != ' ' && unicode.IsSpace(r):
			return invalidArg(field, "contains the white space %U; the only white space in a name is the space U+0020", r)
		case !nameRune(r):
			return invalidArg(field, "contains %U, %s; names may not contain it", r, runeKind(r))
		case wordStart && unicode.IsMark(r):
			return invalidArg(field, "has the combining mark %U at its start or after a space; a mark must follow a letter or other visible character", r)
		}
		wordStart = r == ' '
	}
	// QuickSpanString settles nearly every name without IsNormalString's
	// allocation.
	if norm.NFC.QuickSpanString(s) < len(s) && !norm.NFC.IsNormalString(s) {
		return invalidArg(field, "is not in Unicode normalization form C (NFC); normalise it before sending")
	}
	return nil
}

// nameRune reports whether r may appear in a name: a graphic character
// (a space included) that is not default-ignorable. unicode.IsGraphic
// already excludes controls, format characters (Cf), private use,
// surrogates, unassigned code points and noncharacters; what remains of
// Unicode's Default_Ignorable_Code_Point is Other_Default_Ignorable_Code_Point
// (such as Hangul fillers and the combining grapheme joiner) and the
// variation selectors.
func nameRune(r rune) bool {
	return unicode.IsGraphic(r) && !unicode.In(r, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector)
}

// runeKind names the class of a rune nameRune refuses, for error messages.
func runeKind(r rune) string {
	switch {
	case unicode.IsControl(r):
		return "a control character"
	case unicode.Is(unicode.Bidi_Control, r):
		return "a bidirectional control"
	case unicode.In(r, unicode.Cf, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector):
		return "an invisible (default-ignorable) character"
	case unicode.Is(unicode.Co, r):
		return "a private-use character"
	}
	return "an unassigned code point or noncharacter"
}

// maxSanitizedMarks caps the combining marks sanitizeName keeps on one
// base: more than any script needs, and few enough that NFC's limit of 30
// (past which it inserts a joiner the profile refuses) is never reached.
const maxSanitizedMarks = 8

// sanitizeName turns text a person typed into a name of the profile, of at
// most maxRunes runes, or "" if nothing of it is left: invalid UTF-8 and
// every character the profile refuses are dropped, as are marks with no
// base and marks past maxSanitizedMarks; runs of white space become one
// space and outer white space goes; the result is in NFC.
func sanitizeName(in string, maxRunes int) string {
	var b strings.Builder
	space, marks := false, 0
	for _, r := range norm.NFC.String(strings.ToValidUTF8(in, "")) {
		mark := unicode.IsMark(r)
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case !nameRune(r), mark && (b.Len() == 0 || space || marks == maxSanitizedMarks):
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
		if mark {
			marks++
		} else {
			marks = 0
		}
	}
	// Dropping a character between a letter and its mark leaves them
	// uncomposed; NFC composes them again. A prefix of an NFC string is
	// NFC, so cutting keeps it.
	name := norm.NFC.String(b.String())
	if i := runeOffset(name, maxRunes); i < len(name) {
		name = strings.TrimRight(name[:i], " ")
	}
	return name
}

// runeOffset returns the byte offset of s's nth rune, or len(s).
func runeOffset(s string, n int) int {
	for i := range s {
		if n == 0 {
			return i
		}
		n--
	}
	return len(s)
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

func isControlOrSpace(r rune) bool {
	return unicode.IsControl(r) || unicode.IsSpace(r)
}
