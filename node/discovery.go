package node

import (
	"context"
	"fmt"
	"slices"
	"time"

	kb "github.com/libp2p/go-libp2p-kbucket"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/discovery"
)

// newDiscovery builds the discovery service right after the DHT, before the
// host has connections: it hooks the routing table.
func (n *Node) newDiscovery() error {
	c := n.cfg
	svc, err := discovery.New(n.host, n.dht, n.ds,
		discovery.WithLogger(c.Logger),
		discovery.WithPublisher(n.bus),
		discovery.WithBootstrapPeers(c.Network.Bootstrap...),
		discovery.WithMDNS(c.Discovery.MDNS),
		discovery.WithLowWater(max(1, c.ConnManager.LowWater)),
	)
	if err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	n.disc = svc
	n.topicDiscovery = svc.Rendezvous()
	n.addCloser(svc.Close)
	return nil
}

// Discovery returns the discovery service: known peers, bootstrap status,
// rendezvous.
func (n *Node) Discovery() *discovery.Service { return n.disc }

// RoutingTable lists the Kademlia routing table by bucket.
func (n *Node) RoutingTable() []wire.RoutingEntry {
	self := kb.ConvertPeerID(n.host.ID())
	infos := n.dht.RoutingTable().GetPeerInfos()
	out := make([]wire.RoutingEntry, 0, len(infos))
	for _, pi := range infos {
		e := wire.RoutingEntry{
			Bucket:     kb.CommonPrefixLen(self, kb.ConvertPeerID(pi.Id)),
			PeerID:     pi.Id.String(),
			Connected:  n.host.Network().Connectedness(pi.Id) == network.Connected,
			AddedAt:    pi.AddedAt.UTC(),
			LastUseful: pi.LastUsefulAt.UTC(),
		}
		if conns := n.host.Network().ConnsToPeer(pi.Id); len(conns) > 0 {
			e.Addr = conns[0].RemoteMultiaddr().String()
		} else if addrs := n.host.Peerstore().Addrs(pi.Id); len(addrs) > 0 {
			e.Addr = addrs[0].String()
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b wire.RoutingEntry) int {
		if a.Bucket != b.Bucket {
			return a.Bucket - b.Bucket
		}
		return a.AddedAt.Compare(b.AddedAt)
	})
	return out
}

// FindPeer finds a peer's addresses: from an open connection, the
// peerstore, or a DHT lookup.
func (n *Node) FindPeer(ctx context.Context, peerID string) (wire.FoundPeer, error) {
	p, err := ParsePeer(peerID)
	if err != nil {
		return wire.FoundPeer{}, err
	}
	start := time.Now()
	res := wire.FoundPeer{PeerID: p.String()}
	switch {
	case n.host.Network().Connectedness(p) == network.Connected:
		res.Via, res.Addrs = "connected", strs(n.host.Peerstore().Addrs(p))
	default:
		ai, err := n.dht.FindPeer(ctx, p)
		if err != nil {
			if ctx.Err() != nil {
				return res, fmt.Errorf("%w: find peer %s: %v", ErrUnreachable, p, ctx.Err())
			}
			return res, fmt.Errorf("%w: peer %s was not found in the DHT: %v", ErrNotFound, p, err)
		}
		res.Via, res.Addrs = "dht", strs(ai.Addrs)
	}
	res.DurationMS = ms(time.Since(start))
	return res, nil
}

// ClosestPeers runs a DHT lookup for the K closest peers to key.
func (n *Node) ClosestPeers(ctx context.Context, key string) (wire.ClosestPeers, error) {
	if key == "" {
		return wire.ClosestPeers{}, fmt.Errorf("%w: empty key", ErrInvalidArgument)
	}
	start := time.Now()
	peers, err := n.dht.GetClosestPeers(ctx, key)
	if err != nil {
		return wire.ClosestPeers{}, fmt.Errorf("closest peers to %q: %w", key, err)
	}
	out := wire.ClosestPeers{Key: key, Peers: make([]string, len(peers)), DurationMS: ms(time.Since(start))}
	for i, p := range peers {
		out.Peers[i] = p.String()
	}
	return out, nil
}

// Explore crawls the network from the routing table.
func (n *Node) Explore(ctx context.Context) (discovery.Report, error) {
	return discovery.Explore(ctx, n.host, n.dht, discovery.ExploreOptions{
		AgentVersion: "plexus/" + Version,
		Protocols:    []protocol.ID{DHTProtocol(n.cfg.DHT.ProtocolPrefix)},
	})
}

// RendezvousPeers looks up the other peers that joined an application topic.
func (n *Node) RendezvousPeers(ctx context.Context, topic string) (wire.RendezvousPeers, error) {
	ais, err := n.disc.Rendezvous().Peers(ctx, topic)
	if err != nil {
		return wire.RendezvousPeers{}, err
	}
	out := wire.RendezvousPeers{Topic: topic, Peers: make([]wire.Provider, len(ais))}
	for i, ai := range ais {
		out.Peers[i] = wire.Provider{PeerID: ai.ID.String(), Addrs: strs(ai.Addrs)}
	}
	return out, nil
}
