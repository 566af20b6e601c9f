package client

import (
	"context"
	"net/url"

	"github.com/plexus-p2p/plexus/api/wire"
)

// RoutingTable lists the Kademlia routing table by bucket.
func (c *Client) RoutingTable(ctx context.Context) ([]wire.RoutingEntry, error) {
	var v []wire.RoutingEntry
	return v, c.Do(ctx, "GET", "/v1/dht/table", nil, &v)
}

// DHTStatus describes the node's DHTs: the Plexus DHT and, when on, the
// Amino DHT.
func (c *Client) DHTStatus(ctx context.Context) (wire.DHTStatus, error) {
	var v wire.DHTStatus
	return v, c.Do(ctx, "GET", "/v1/dht/status", nil, &v)
}

// FindPeer finds a peer's addresses: from an open connection, the
// peerstore or a DHT lookup.
func (c *Client) FindPeer(ctx context.Context, peerID string) (wire.FoundPeer, error) {
	var v wire.FoundPeer
	return v, c.Do(ctx, "GET", "/v1/dht/findpeer?peer="+url.QueryEscape(peerID), nil, &v)
}

// ClosestPeers finds the K closest peers to a key.
func (c *Client) ClosestPeers(ctx context.Context, key string) (wire.ClosestPeers, error) {
	var v wire.ClosestPeers
	return v, c.Do(ctx, "GET", "/v1/dht/closest?key="+url.QueryEscape(key), nil, &v)
}

// Explore crawls the network from the node's routing table.
func (c *Client) Explore(ctx context.Context) (wire.ExploreReport, error) {
	var v wire.ExploreReport
	return v, c.Do(ctx, "GET", "/v1/explore", nil, &v)
}
