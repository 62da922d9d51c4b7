package lkgate

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/lkgate/lkgate/internal/nameoracle"
)

// TestNameProfile: what the name profile accepts and refuses, with the
// reason each refusal gives.
func TestNameProfile(t *testing.T) {
	for _, s := range []string{
		"standup", "r1", "a_b", "t4_acme_x", "Grace Hopper", "O'Brien-Smith (ops)",
		"café", "Ærøskøbing", "日本語の部屋", "迈克尔·杰克逊", "Ελληνικά", "עברית 2", "مرحبا",
		"\U0001F600 smile", "👍🏽", "🇩🇪", "ǘ", "x" + strings.Repeat("\u0316", 30),
		// Distinct names that do not render alike: the profile does not
		// judge confusability across scripts or widths.
		"аdmin", "ｒ１",
	} {
		if err := validateText("Room", s, MaxRoomNameBytes); err != nil {
			t.Errorf("%+q refused: %v", s, err)
		}
	}
	for _, tt := range []struct{ in, reason string }{
		{"", "is required"},
		{"   ", "is required"},
		{"\t\n", "is required"},
		{"\u3000\u00a0", "is required"},
		{" r1", "must not begin or end with a space"},
		{"r1 ", "must not begin or end with a space"},
		{"r  1", "two spaces in a row"},
		{"r\u00a01", "white space U+00A0"},
		{"r\u20031", "white space U+2003"},
		{"r\u2028", "white space U+2028"},
		{"r\t1", "white space U+0009"},
		{"r1\u200b", "U+200B, an invisible"},
		{"\u200b", "U+200B, an invisible"},
		{"r\u200d1", "U+200D, an invisible"},
		{"r\u2060", "U+2060, an invisible"},
		{"\ufeffr", "U+FEFF, an invisible"},
		{"r\u00ad1", "U+00AD, an invisible"},
		{"\u3164", "U+3164, an invisible"},
		{"\u115f", "U+115F, an invisible"},
		{"r\ufe0f", "U+FE0F, an invisible"},
		{"r\U000E0100", "U+E0100, an invisible"},
		{"r\u034f", "U+034F, an invisible"},
		{"\U0001F3F4\U000E0067\U000E0062\U000E007F", "U+E0067, an invisible"},
		{"r\u202e", "U+202E, a bidirectional control"},
		{"r\u2066x\u2069", "U+2066, a bidirectional control"},
		{"r\u200f", "U+200F, a bidirectional control"},
		{"r\u061c", "U+061C, a bidirectional control"},
		{"a\x07", "U+0007, a control character"},
		{"a\x7f", "U+007F, a control character"},
		{"a\u0085", "white space U+0085"},
		{"\ue000", "U+E000, a private-use character"},
		{"\U000F0000", "U+F0000, a private-use character"},
		{"\u0378", "U+0378, an unassigned code point"},
		{"\uffff", "U+FFFF, an unassigned code point or noncharacter"},
		{"\ufdd0", "U+FDD0, an unassigned code point or noncharacter"},
		{"\u0301a", "combining mark U+0301 at its start"},
		{"\u20dd", "combining mark U+20DD"},
		{"a \u0301b", "combining mark U+0301 at its start or after a space"},
		{"cafe\u0301", "normalization form C"},
		{"\u212b", "normalization form C"},
		{"x" + strings.Repeat("\u0316", 31), "normalization form C"},
		{"r\xff", "not valid UTF-8"},
		{strings.Repeat("r", MaxRoomNameBytes+1), "is 257 bytes long; the limit is 256"},
	} {
		err := validateText("Room", tt.in, MaxRoomNameBytes)
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, ErrInvalidArgument) || e.Field != "Room" || !strings.Contains(e.Msg, tt.reason) {
			t.Errorf("%+q: %v, want ErrInvalidArgument on Room: %q", tt.in, err, tt.reason)
		}
	}
	// An optional name may be empty, not blank.
	if err := validateOptionalText("Name", "", MaxNameBytes); err != nil {
		t.Errorf("empty optional name: %v", err)
	}
	if err := validateOptionalText("Name", "  ", MaxNameBytes); err == nil || !strings.Contains(err.Error(), "only white space") {
		t.Errorf("blank optional name: %v", err)
	}
}

// TestLookAlikesRefused: of two names that render alike, the profile
// accepts at most one, so no list shows two rooms (or participants) a
// person cannot tell apart.
func TestLookAlikesRefused(t *testing.T) {
	for _, pair := range [][2]string{
		{"r1", "r1\u200b"},           // zero-width space
		{"r1", "\u200br1"},           // at the start
		{"ab", "a\u00adb"},           // soft hyphen
		{"ab", "a\u2060b"},           // word joiner
		{"r1", "r1\ufe0f"},           // variation selector
		{"x", "x\u034f"},             // combining grapheme joiner
		{"café", "cafe\u0301"},       // decomposed
		{"Å", "\u212b"},              // Angstrom sign
		{"a b", "a\u00a0b"},          // no-break space
		{"a b", "a  b"},              // a UI collapses the two spaces
		{"r1", " r1"},                // outer spaces
		{"r1", "r1 "},                //
		{"standup", "standup\u202c"}, // bidi pop
		{"abc", "\u202ecba"},         // reversed by an override
	} {
		if err := validateText("Room", pair[0], MaxRoomNameBytes); err != nil {
			t.Errorf("%+q refused: %v", pair[0], err)
		}
		if err := validateText("Room", pair[1], MaxRoomNameBytes); err == nil {
			t.Errorf("%+q accepted beside %+q", pair[1], pair[0])
		}
	}
}

func FuzzNameProfile(f *testing.F) {
	for _, s := range []string{"standup", "Grace Hopper", "café", "cafe\u0301", " r", "a  b", "a\u00a0b", "r\u200b", "\u0301", "a \u0301", "\u3164", "x" + strings.Repeat("\u0316", 31), "\u00a0", "r\ufe0f", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := validateText("Room", s, 1<<20)
		if (err == nil) != nameoracle.InProfile(s) {
			t.Fatalf("validateText(%+q) = %v, but the profile says %v", s, err, nameoracle.InProfile(s))
		}
	})
}

func TestSanitizeName(t *testing.T) {
	for in, want := range map[string]string{
		"Grace":                               "Grace",
		"cafe\u0301":                          "café",
		"e\u200b\u0301":                       "é",
		"\u0301abc":                           "abc",
		"a \u0301b":                           "a b",
		"\u3000Grace\u00a0\u2003Hopper\u2028": "Grace Hopper",
		"r\ufe0f \u2764\ufe0f":                "r \u2764",
		"\u3164Kim":                           "Kim",
		"x\u034fy":                            "xy",
		"Z" + strings.Repeat("\u0316", 40):    "Z" + strings.Repeat("\u0316", maxSanitizedMarks),
		"\ue000 private":                      "private",
		strings.Repeat("ab ", 30):             strings.TrimSpace(strings.Repeat("ab ", 21)) + " a",
	} {
		if got := sanitizeName(in, MaxGuestNameRunes); got != want {
			t.Errorf("sanitizeName(%+q) = %+q, want %+q", in, got, want)
		}
	}
	for _, in := range []string{"", "  \t", "\u200b\u202e\u3164", "\u0301\u0302", "\xff\xfe"} {
		if got := sanitizeName(in, MaxGuestNameRunes); got != "" {
			t.Errorf("sanitizeName(%+q) = %+q, want nothing", in, got)
		}
	}
}

// FuzzSanitizeGuestName: whatever a guest types, the display name is of the
// profile, within MaxGuestNameRunes, and a name already of the profile
// (short enough, with few marks on a letter) is kept as it is.
func FuzzSanitizeGuestName(f *testing.F) {
	for _, s := range []string{"Grace", "  Grace \u202e Hopper\x00 ", "cafe\u0301", "e\u200b\u0301", "Z" + strings.Repeat("\u0301", 40), "\u0301", strings.Repeat("é", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := sanitizeName(in, MaxGuestNameRunes)
		if out == "" {
			return
		}
		if !nameoracle.InProfile(out) || validateText("GuestName", out, MaxNameBytes) != nil || utf8.RuneCountInString(out) > MaxGuestNameRunes {
			t.Fatalf("sanitizeName(%+q) = %+q, not a name of the profile", in, out)
		}
		if again := sanitizeName(out, MaxGuestNameRunes); again != out {
			t.Fatalf("sanitizeName(%+q) = %+q, but sanitizing that gives %+q", in, out, again)
		}
		if nameoracle.InProfile(in) && utf8.RuneCountInString(in) <= MaxGuestNameRunes && maxMarkRun(in) <= maxSanitizedMarks && out != in {
			t.Fatalf("sanitizeName changed the valid name %+q to %+q", in, out)
		}
	})
}

func maxMarkRun(s string) int {
	run, most := 0, 0
	for _, r := range s {
		if unicode.IsMark(r) {
			run++
		} else {
			run = 0
		}
		most = max(most, run)
	}
	return most
}
