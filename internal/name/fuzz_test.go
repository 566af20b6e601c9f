package name

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzCheck checks the one rule for shared names (pub/sub topics,
// rendezvous topics, record names, provide keys) against its documented
// definition: non-empty valid UTF-8 within the limit, printable, no
// leading or trailing space.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"chat", " chat", "chat ", "a\u202eb", "a\u200bb", "\xff", "", "日本語", "a\nb", strings.Repeat("x", 300)} {
		f.Add(s, uint16(256))
	}
	f.Fuzz(func(t *testing.T, s string, maxLen uint16) {
		err := Check(s, int(maxLen))
		ok := s != "" && len(s) <= int(maxLen) && utf8.ValidString(s) &&
			!strings.HasPrefix(s, " ") && !strings.HasSuffix(s, " ") &&
			strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0
		if (err == nil) != ok {
			t.Fatalf("Check(%q, %d) = %v, the definition says valid=%v", s, maxLen, err, ok)
		}
	})
}
