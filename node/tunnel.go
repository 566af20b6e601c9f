package node

import (
	"context"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/tunnel"
)

func (n *Node) startTunnels() error {
	opts := []tunnel.Option{
		tunnel.WithLogger(n.cfg.Logger),
		tunnel.WithPublisher(n.bus),
		tunnel.WithConnect(n.connectTunnelPeer),
	}
	if n.private.Enabled {
		// In a private network a tunnel exposed without --allow lets the
		// network's members in: a peer that reaches this node at all holds
		// the swarm key (and passed the allow and deny lists).
		opts = append(opts, tunnel.WithDefaultAllow(func(peer.ID) bool { return true }))
	}
	svc, err := tunnel.New(n.host, opts...)
	if err != nil {
		return err
	}
	n.tunnels = svc
	n.addCloser(svc.Close)
	return nil
}

// Tunnels returns the tunnel service: local TCP services exposed to peers
// and local listeners forwarded to peers' services (Expose, Forward, List,
// CloseTunnel). The daemon holds the tunnels; they end with the node.
func (n *Node) Tunnels() *tunnel.Service { return n.tunnels }

// connectTunnelPeer makes sure a forwarding tunnel can open a stream to p:
// a relayed connection will do (the stream may use it), otherwise the node
// connects with known addresses or finds p in the DHT first.
func (n *Node) connectTunnelPeer(ctx context.Context, p peer.ID) error {
	switch n.host.Network().Connectedness(p) {
	case network.Connected, network.Limited:
		return nil
	}
	return n.ensureConnected(ctx, p)
}
