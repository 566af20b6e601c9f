package node

import (
	"fmt"

	"github.com/plexus-p2p/plexus/discovery"
)

// newDiscovery builds the discovery service right after routing, before the
// host has connections, so that it hears every routing-table change.
func (n *Node) newDiscovery() error {
	c := n.cfg
	svc, err := discovery.New(n.host, n.routing, n.ds,
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
