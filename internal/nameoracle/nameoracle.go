// Package nameoracle states lkgate's name profile (see
// lkgate.MaxRoomNameBytes) apart from lkgate's own code, as the oracle of
// the fuzz targets that check it.
package nameoracle

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// InProfile reports whether s is a name of the profile: non-empty valid
// UTF-8 in NFC, no outer or repeated spaces, only U+0020 or graphic
// characters that are not default-ignorable, and no combining mark at the
// start or after a space.
func InProfile(s string) bool {
	if s == "" || !utf8.ValidString(s) || strings.TrimSpace(s) != s || strings.Contains(s, "  ") || norm.NFC.String(s) != s {
		return false
	}
	afterSpace := true
	for _, r := range s {
		if r != ' ' && !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S) ||
			unicode.In(r, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector) ||
			afterSpace && unicode.IsMark(r) {
			return false
		}
		afterSpace = r == ' '
	}
	return true
}
