package messaging

import (
	"fmt"
	"strings"

	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/plexus-p2p/plexus/internal/protoid"
)

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

// checkWellFormed reports, wrapping ErrInvalidProtocol, why p is not a
// well-formed protocol ID (protoid.Check): it must start with "/", have no
// empty path segment, no trailing "/", only printable ASCII without spaces,
// and at most 256 bytes.
func checkWellFormed(p string) error {
	if err := protoid.Check(p); err != nil {
		return fmt.Errorf("%w: %w", err, ErrInvalidProtocol)
	}
	return nil
}
