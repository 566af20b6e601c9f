package client

import (
	"context"
	"net/url"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/discovery"
)

// KnownPeers lists every peer the node knows, connected or not.
func (c *Client) KnownPeers(ctx context.Context) ([]discovery.KnownPeer, error) {
	var v []discovery.KnownPeer
	return v, c.Do(ctx, "GET", "/v1/peers/known", nil, &v)
}

// BootstrapStatus reports each configured bootstrap peer.
func (c *Client) BootstrapStatus(ctx context.Context) ([]discovery.BootstrapStatus, error) {
	var v []discovery.BootstrapStatus
	return v, c.Do(ctx, "GET", "/v1/bootstrap", nil, &v)
}

// RoutingTable lists the Kademlia routing table by bucket.
func (c *Client) RoutingTable(ctx context.Context) ([]wire.RoutingEntry, error) {
	var v []wire.RoutingEntry
	return v, c.Do(ctx, "GET", "/v1/dht/table", nil, &v)
}

// FindPeer finds a peer's addresses.
func (c *Client) FindPeer(ctx context.Context, peerID string) (wire.FoundPeer, error) {
	var v wire.FoundPeer
	return v, c.Do(ctx, "GET", "/v1/dht/findpeer?peer="+url.QueryEscape(peerID), nil, &v)
}

// ClosestPeers finds the K closest peers to a key.
func (c *Client) ClosestPeers(ctx context.Context, key string) (wire.ClosestPeers, error) {
	var v wire.ClosestPeers
	return v, c.Do(ctx, "GET", "/v1/dht/closest?key="+url.QueryEscape(key), nil, &v)
}

// Explore crawls the network.
func (c *Client) Explore(ctx context.Context) (discovery.Report, error) {
	var v discovery.Report
	return v, c.Do(ctx, "GET", "/v1/explore", nil, &v)
}

// JoinRendezvous advertises this node under an application topic and
// connects to the topic's other peers.
func (c *Client) JoinRendezvous(ctx context.Context, topic string) error {
	return c.Do(ctx, "POST", "/v1/discover/join", wire.TopicRequest{Topic: topic}, nil)
}

// LeaveRendezvous stops advertising a topic.
func (c *Client) LeaveRendezvous(ctx context.Context, topic string) error {
	return c.Do(ctx, "POST", "/v1/discover/leave", wire.TopicRequest{Topic: topic}, nil)
}

// RendezvousPeers finds the other peers of a topic.
func (c *Client) RendezvousPeers(ctx context.Context, topic string) (wire.RendezvousPeers, error) {
	var v wire.RendezvousPeers
	return v, c.Do(ctx, "GET", "/v1/discover/peers?topic="+url.QueryEscape(topic), nil, &v)
}

// RendezvousTopics lists the joined topics.
func (c *Client) RendezvousTopics(ctx context.Context) ([]string, error) {
	var v []string
	return v, c.Do(ctx, "GET", "/v1/discover/topics", nil, &v)
}
