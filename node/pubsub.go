package node

import (
	"context"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/pubsub"
)

func (n *Node) startPubSub(ctx context.Context) error {
	c := n.cfg.PubSub
	opts := append(pubsub.FromConfig(c),
		pubsub.WithMetrics(n.reg),
		pubsub.WithEvents(n.bus),
		pubsub.WithLogger(n.cfg.Logger),
	)
	if n.topicDiscovery != nil {
		opts = append(opts, pubsub.WithDiscovery(n.topicDiscovery))
	}
	// Pub/sub must keep working between peers that only reach each other
	// through a relay: its streams may use limited (relayed) connections.
	ctx = network.WithAllowLimitedConn(ctx, "pubsub")
	svc, err := pubsub.New(ctx, relayTolerantHost{n.host}, opts...)
	if err != nil {
		return err
	}
	n.ps = svc
	n.addCloser(svc.Close)
	return nil
}

// PubSub returns the publish/subscribe service.
func (n *Node) PubSub() *pubsub.Service { return n.ps }

// relayTolerantHost makes go-libp2p-pubsub (v0.19), which ignores peers
// whose connectedness is not Connected, accept peers reachable only through
// a relay (network.Limited).
type relayTolerantHost struct{ host.Host }

func (h relayTolerantHost) Network() network.Network { return relayTolerantNetwork{h.Host.Network()} }

type relayTolerantNetwork struct{ network.Network }

func (n relayTolerantNetwork) Connectedness(p peer.ID) network.Connectedness {
	if c := n.Network.Connectedness(p); c != network.Limited {
		return c
	}
	return network.Connected
}
