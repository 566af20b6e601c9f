// Package streamerr reads why a libp2p stream was reset from the error a
// stream operation returned.
package streamerr

import (
	"errors"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-yamux/v5"
)

// Reset returns the reset behind err, if the stream was reset. go-libp2p's
// Yamux streams turn the muxer's reset errors into *network.StreamError on
// Read and Write but not on CloseWrite, which returns Yamux's own
// *yamux.StreamError: both are recognised.
func Reset(err error) (*network.StreamError, bool) {
	var se *network.StreamError
	if errors.As(err, &se) {
		return se, true
	}
	var ye *yamux.StreamError
	if errors.As(err, &ye) {
		return &network.StreamError{ErrorCode: network.StreamErrorCode(ye.ErrorCode), Remote: ye.Remote, TransportError: err}, true
	}
	return nil, errors.Is(err, network.ErrReset)
}
