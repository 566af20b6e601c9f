package streamerr

import (
	"errors"
	"fmt"
	"testing"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-yamux/v5"
)

func TestReset(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		reset  bool
		code   network.StreamErrorCode
		remote bool
	}{
		{"libp2p", fmt.Errorf("read: %w", &network.StreamError{ErrorCode: network.StreamResourceLimitExceeded, Remote: true}), true, network.StreamResourceLimitExceeded, true},
		{"yamux on CloseWrite", fmt.Errorf("close write: %w", &yamux.StreamError{ErrorCode: uint32(network.StreamGated), Remote: true}), true, network.StreamGated, true},
		{"plain reset", fmt.Errorf("x: %w", network.ErrReset), true, 0, false},
		{"other", errors.New("connection refused"), false, 0, false},
	} {
		se, ok := Reset(tc.err)
		if ok != tc.reset {
			t.Errorf("%s: reset %v, want %v", tc.name, ok, tc.reset)
			continue
		}
		if se != nil && (se.ErrorCode != tc.code || se.Remote != tc.remote) {
			t.Errorf("%s: %+v, want code %d remote %v", tc.name, se, tc.code, tc.remote)
		}
	}
}
