package discovery

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Publisher receives the events this package emits; the node passes its event bus.
type Publisher interface {
	Publish(typ string, data any)
}

// Event types published by this package.
const (
	// EventPeerDiscovered is published, with PeerDiscovered, the first time
	// a peer is learned of from a given source.
	EventPeerDiscovered = "peer.discovered"
	// EventBootstrapFailed is published, with BootstrapFailed, each time a
	// dial to a configured bootstrap peer fails (at most once per backoff
	// delay for each peer).
	EventBootstrapFailed = "bootstrap.failed"
	// EventRendezvousJoined is published, with RendezvousTopic, when a
	// topic is joined.
	EventRendezvousJoined = "rendezvous.joined"
	// EventRendezvousLeft is published, with RendezvousTopic, when a topic
	// is left.
	EventRendezvousLeft = "rendezvous.left"
)

// PeerDiscovered is the data of EventPeerDiscovered.
type PeerDiscovered struct {
	Peer   peer.ID
	Source Source
	Addrs  []ma.Multiaddr
}

// BootstrapFailed is the data of EventBootstrapFailed.
type BootstrapFailed struct {
	Peer      peer.ID
	Error     string
	Attempts  int
	NextRetry time.Time
}

// RendezvousTopic is the data of EventRendezvousJoined and EventRendezvousLeft.
type RendezvousTopic struct {
	Topic string
}

// publish sends an event if a publisher is configured.
func (c *config) publish(typ string, data any) {
	if c.publisher != nil {
		c.publisher.Publish(typ, data)
	}
}
