package client

import (
	"context"
	"net/url"

	"github.com/plexus-p2p/plexus/api/wire"
)

// KnownPeers lists every peer the node knows, connected or not.
func (c *Client) KnownPeers(ctx context.Context) ([]wire.KnownPeer, error) {
	var v []wire.KnownPeer
	return v, c.Do(ctx, "GET", "/v1/peers/known", nil, &v)
}

// BootstrapStatus reports each configured bootstrap peer.
func (c *Client) BootstrapStatus(ctx context.Context) ([]wire.BootstrapStatus, error) {
	var v []wire.BootstrapStatus
	return v, c.Do(ctx, "GET", "/v1/bootstrap", nil, &v)
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
