package protoid

import (
	"strings"
	"testing"
)

// FuzzCheck checks protocol IDs that peers and API callers name (messaging
// handlers, tunnels): an accepted ID is printable ASCII, starts with "/",
// has no empty segment and is at most MaxLen bytes; a prefix accepted by
// CheckPrefix makes a well-formed ID with any well-formed suffix.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"/app/x/1.0.0", "/", "", "//", "/a b", "/x/ssh", "/app/", "/é", strings.Repeat("/a", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if err := Check(id); err == nil {
			if len(id) == 0 || len(id) > MaxLen || id[0] != '/' || strings.HasSuffix(id, "/") || strings.Contains(id, "//") {
				t.Fatalf("Check accepted %q", id)
			}
			for i := 0; i < len(id); i++ {
				if id[i] <= ' ' || id[i] > '~' {
					t.Fatalf("Check accepted %q with byte %q", id, id[i])
				}
			}
		}
		if err := CheckPrefix(id); err == nil {
			if full := id + "x"; len(full) <= MaxLen && Check(full) != nil {
				t.Fatalf("prefix %q accepted but %q is not a valid ID: %v", id, full, Check(full))
			}
		}
	})
}
