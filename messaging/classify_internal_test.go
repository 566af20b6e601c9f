package messaging

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/network"
)

// Issue 20 row 1: a stream the peer resets (its resource manager refused
// it) or this node's resource manager refuses is busy (HTTP 503), with the
// reason named, not an unclassified error (HTTP 500).
func TestClassifyResetsAsBusy(t *testing.T) {
	for err, reason := range map[error]string{
		&network.StreamError{ErrorCode: network.StreamResourceLimitExceeded, Remote: true}: "at a resource limit",
		&network.StreamError{ErrorCode: network.StreamRateLimited, Remote: true}:           "rate limited",
		fmt.Errorf("read: %w", network.ErrReset):                                           "no reason given",
		fmt.Errorf("open: %w", network.ErrResourceLimitExceeded):                           "resource limit",
	} {
		got := classify(context.Background(), err)
		if !errors.Is(got, ErrBusy) || !strings.Contains(got.Error(), reason) {
			t.Errorf("classify(%v) = %v, want ErrBusy naming %q", err, got, reason)
		}
	}
	// A reset by this node's own cancellation stays the context's error.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got := classify(ctx, network.ErrReset); errors.Is(got, ErrBusy) || !errors.Is(got, context.Canceled) {
		t.Errorf("classify after cancel = %v, want context.Canceled", got)
	}
}
