// Package name holds the one rule for the names people give to what a node
// shares with others: pub/sub topics (package pubsub), DHT rendezvous topics
// (package discovery), record names and provide keys (package records).
// Each namespace keeps its own length limit and may add rules of its own
// (a record name is also a key segment, so it has no '/' and no space); the
// characters a name may hold are the same everywhere, so a name that works
// as a topic also works as a provide key, and a name that cannot be shown
// safely in a terminal or a log is refused everywhere.
package name

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Check reports why s is not a name of at most maxLen bytes, or nil if it is
// one. A name is:
//   - non-empty and at most maxLen bytes of valid UTF-8;
//   - printable (unicode.IsPrint: letters, marks, numbers, punctuation,
//     symbols and the ASCII space), so no control characters such as NUL,
//     ESC or newline, no format characters such as bidirectional overrides,
//     zero-width spaces or a byte order mark, and no space other than the
//     ASCII space;
//   - not starting or ending with a space, so it is never blank and never
//     differs from another name only by padding nobody can see.
//
// The error does not quote s; callers wrap it with s and their own sentinel.
func Check(s string, maxLen int) error {
	switch {
	case s == "":
		return errors.New("empty")
	case len(s) > maxLen:
		return fmt.Errorf("%d bytes, at most %d", len(s), maxLen)
	case !utf8.ValidString(s):
		return errors.New("not valid UTF-8")
	}
	for i, r := range s {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("unprintable character %U at byte %d", r, i)
		}
	}
	switch {
	case strings.Trim(s, " ") == "":
		return errors.New("only spaces")
	case s[0] == ' ':
		return errors.New("starts with a space")
	case s[len(s)-1] == ' ':
		return errors.New("ends with a space")
	}
	return nil
}
