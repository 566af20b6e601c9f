// Package protoid holds the rule for application protocol IDs and their
// prefix, shared by package messaging (which registers and dials them) and
// package config (which validates messaging.protocol_prefix), so that the
// configuration accepts exactly the prefixes the messaging service accepts.
package protoid

import (
	"fmt"
	"strings"
)

// MaxLen is the longest protocol ID, in bytes.
const MaxLen = 256

// Check reports why id is not a well-formed protocol ID, or nil: it must
// start with "/", have no empty path segment, no trailing "/", only printable
// ASCII without spaces, and at most MaxLen bytes. The error names id.
func Check(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("protocol id is empty")
	case len(id) > MaxLen:
		return fmt.Errorf("protocol %.40q...: longer than %d bytes", id, MaxLen)
	case id[0] != '/':
		return fmt.Errorf("protocol %q: must start with \"/\"", id)
	case strings.HasSuffix(id, "/"):
		return fmt.Errorf("protocol %q: must not end with \"/\"", id)
	case strings.Contains(id, "//"):
		return fmt.Errorf("protocol %q: has an empty path segment", id)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("protocol %q: invalid character %q at byte %d", id, c, i)
		}
	}
	return nil
}

// CheckPrefix reports why prefix cannot be the prefix of application
// protocol IDs, or nil: it must start and end with "/", name at least one
// segment (so "/" alone, which would let applications take over libp2p's
// own protocols, is refused) and be well formed without its final "/".
func CheckPrefix(prefix string) error {
	if len(prefix) < 3 || prefix[0] != '/' || !strings.HasSuffix(prefix, "/") {
		return fmt.Errorf("protocol prefix %q: must start and end with \"/\" and name at least one segment", prefix)
	}
	if err := Check(strings.TrimSuffix(prefix, "/")); err != nil {
		return fmt.Errorf("protocol prefix %q: %w", prefix, err)
	}
	return nil
}
