package name_test

import (
	"strings"
	"testing"

	"github.com/plexus-p2p/plexus/internal/name"
)

func TestCheck(t *testing.T) {
	const maxLen = 16
	for _, tc := range []struct {
		in   string
		want string // "" when accepted, else a part of the error
	}{
		{"chat", ""},
		{"chat room", ""},
		{"チャット", ""},
		{"🎉", ""},
		{"a.b:c-v2_ü", ""},
		{strings.Repeat("a", maxLen), ""},
		{strings.Repeat("a", maxLen+1), "17 bytes, at most 16"},
		{"", "empty"},
		{"nul\x00", "U+0000"},
		{"\x1b[31mred", "U+001B"},
		{"a\u202etxt", "U+202E"}, // right-to-left override
		{"a\u200bb", "U+200B"},   // zero-width space
		{"\ufeffbom", "U+FEFF"},  // byte order mark
		{"a\u00a0b", "U+00A0"},   // non-breaking space
		{"a\tb", "U+0009"},
		{"a\nb", "U+000A"},
		{"\u3000", "U+3000"}, // ideographic space
		{"chat\xff", "not valid UTF-8"},
		{" ", "only spaces"},
		{"   ", "only spaces"},
		{" chat", "starts with a space"},
		{"chat ", "ends with a space"},
	} {
		err := name.Check(tc.in, maxLen)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Check(%q) = %v, want nil", tc.in, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Check(%q) = %v, want an error saying %q", tc.in, err, tc.want)
		}
	}
}
