package config

import "fmt"

// Defaults and bounds of the per-peer stream limits
// (resource_manager.max_pending_streams_per_peer, max_streams_per_peer,
// max_streams_per_protocol_per_peer).
const (
	// DefaultMaxPendingStreamsPerPeer is used when the setting is 0: a
	// peer's streams negotiate their protocol within a round trip, so even
	// a busy DHT client has only a few pending at once.
	DefaultMaxPendingStreamsPerPeer = 32
	// MaxMaxPendingStreamsPerPeer bounds max_pending_streams_per_peer.
	MaxMaxPendingStreamsPerPeer = 1024
	// MaxStreamsPerPeerLimit bounds max_streams_per_peer and
	// max_streams_per_protocol_per_peer.
	MaxStreamsPerPeerLimit = 65536
)

func (c *Config) validateStreamLimits() []error {
	rm := c.ResourceManager
	var errs []error
	if rm.MaxPendingStreamsPerPeer < 0 || rm.MaxPendingStreamsPerPeer > MaxMaxPendingStreamsPerPeer {
		errs = append(errs, fmt.Errorf("resource_manager.max_pending_streams_per_peer: %d is outside 0..%d (0: %d)", rm.MaxPendingStreamsPerPeer, MaxMaxPendingStreamsPerPeer, DefaultMaxPendingStreamsPerPeer))
	}
	if rm.MaxStreamsPerPeer < 0 || rm.MaxStreamsPerPeer > MaxStreamsPerPeerLimit {
		errs = append(errs, fmt.Errorf("resource_manager.max_streams_per_peer: %d is outside 0..%d (0: scaled default)", rm.MaxStreamsPerPeer, MaxStreamsPerPeerLimit))
	}
	if rm.MaxStreamsPerProtocolPerPeer < 0 || rm.MaxStreamsPerProtocolPerPeer > MaxStreamsPerPeerLimit {
		errs = append(errs, fmt.Errorf("resource_manager.max_streams_per_protocol_per_peer: %d is outside 0..%d (0: scaled default)", rm.MaxStreamsPerProtocolPerPeer, MaxStreamsPerPeerLimit))
	} else if rm.MaxStreamsPerPeer > 0 && rm.MaxStreamsPerProtocolPerPeer > rm.MaxStreamsPerPeer {
		errs = append(errs, fmt.Errorf("resource_manager.max_streams_per_protocol_per_peer: %d is above max_streams_per_peer (%d)", rm.MaxStreamsPerProtocolPerPeer, rm.MaxStreamsPerPeer))
	}
	return errs
}
