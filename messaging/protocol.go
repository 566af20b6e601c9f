package messaging

import (
	"fmt"
	"strings"

	"github.com/libp2p/go-libp2p/core/protocol"
)

// maxProtocolLen bounds the length of a protocol ID.
const maxProtocolLen = 256

// checkProtocol reports why proto is not a usable application protocol ID
// under prefix: it must start with prefix, name something after it and be
// well formed (see checkWellFormed).
func checkProtocol(proto protocol.ID, prefix string) error {
	p := string(proto)
	if !strings.HasPrefix(p, prefix) {
		return fmt.Errorf("protocol %q is outside the application prefix %q: %w", p, prefix, ErrInvalidProtocol)
	}
	if len(p) == len(prefix) {
		return fmt.Errorf("protocol %q names nothing after the prefix %q: %w", p, prefix, ErrInvalidProtocol)
	}
	return checkWellFormed(p)
}

// checkWellFormed reports why p is not a well-formed protocol ID: it must
// start with "/", have no empty path segment, no trailing "/", only printable
// ASCII without spaces, and at most 256 bytes.
func checkWellFormed(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("protocol id is empty: %w", ErrInvalidProtocol)
	case len(p) > maxProtocolLen:
		return fmt.Errorf("protocol %.40q...: longer than %d bytes: %w", p, maxProtocolLen, ErrInvalidProtocol)
	case p[0] != '/':
		return fmt.Errorf("protocol %q: must start with \"/\": %w", p, ErrInvalidProtocol)
	case strings.HasSuffix(p, "/"):
		return fmt.Errorf("protocol %q: must not end with \"/\": %w", p, ErrInvalidProtocol)
	case strings.Contains(p, "//"):
		return fmt.Errorf("protocol %q: has an empty path segment: %w", p, ErrInvalidProtocol)
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("protocol %q: invalid character %q at byte %d: %w", p, c, i, ErrInvalidProtocol)
		}
	}
	return nil
}

// checkPrefix reports why prefix cannot be a protocol prefix.
func checkPrefix(prefix string) error {
	if len(prefix) < 3 || prefix[0] != '/' || !strings.HasSuffix(prefix, "/") {
		return fmt.Errorf("protocol prefix %q: must start and end with \"/\" and name at least one segment", prefix)
	}
	if err := checkWellFormed(strings.TrimSuffix(prefix, "/")); err != nil {
		return fmt.Errorf("protocol prefix %q: %w", prefix, err)
	}
	return nil
}
