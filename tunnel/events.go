package tunnel

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Event types published through the Publisher.
const (
	// EventOpened is published with the tunnel's Info when Expose or
	// Forward created it.
	EventOpened = "tunnel.opened"
	// EventClosed is published with the tunnel's last Info when it closed.
	EventClosed = "tunnel.closed"
	// EventConnClosed is published with a ConnClosed when a connection
	// carried by a tunnel ended, cleanly or not.
	EventConnClosed = "tunnel.connection.closed"
	// EventRefused is published with a Refused when a tunnel turned a
	// connection away before carrying it.
	EventRefused = "tunnel.refused"
)

// ConnClosed is the data of an EventConnClosed event.
type ConnClosed struct {
	Tunnel   string // the tunnel's ID
	Kind     Kind
	Protocol protocol.ID
	// Peer is the remote peer of the connection.
	Peer peer.ID
	// BytesIn came from the peer, BytesOut went to it.
	BytesIn, BytesOut uint64
	Duration          time.Duration
	// Relayed reports whether the stream ran over a relayed connection.
	Relayed bool
	// Error is empty when both directions ended cleanly (or the tunnel was
	// closed); otherwise it says what failed.
	Error string
}

// Refused is the data of an EventRefused event.
type Refused struct {
	Tunnel   string
	Kind     Kind
	Protocol protocol.ID
	// Peer is the peer refused (an exposed tunnel) or the peer of the
	// tunnel (a forwarding one).
	Peer   peer.ID
	Reason string
}

func (s *Service) publish(typ string, data any) {
	if s.cfg.publisher != nil {
		s.cfg.publisher.Publish(typ, data)
	}
}
