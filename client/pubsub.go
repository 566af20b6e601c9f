package client

import (
	"context"
	"net/url"

	"github.com/plexus-p2p/plexus/api/wire"
)

// Publish publishes data on a topic (joining it first).
func (c *Client) Publish(ctx context.Context, topic string, data []byte) (wire.PublishResult, error) {
	var v wire.PublishResult
	return v, c.Do(ctx, "POST", "/v1/pubsub/publish", wire.PublishRequest{Topic: topic, Data: data}, &v)
}

// Join joins a topic without subscribing.
func (c *Client) Join(ctx context.Context, topic string) error {
	return c.Do(ctx, "POST", "/v1/pubsub/join", wire.TopicRequest{Topic: topic}, nil)
}

// Leave leaves a topic, ending its subscriptions.
func (c *Client) Leave(ctx context.Context, topic string) error {
	return c.Do(ctx, "POST", "/v1/pubsub/leave", wire.TopicRequest{Topic: topic}, nil)
}

// Topics lists joined topics.
func (c *Client) Topics(ctx context.Context) ([]wire.TopicInfo, error) {
	var v []wire.TopicInfo
	return v, c.Do(ctx, "GET", "/v1/pubsub/topics", nil, &v)
}

// TopicPeers lists the connected peers subscribed to a topic.
func (c *Client) TopicPeers(ctx context.Context, topic string) ([]string, error) {
	var v []string
	return v, c.Do(ctx, "GET", "/v1/pubsub/peers?topic="+url.QueryEscape(topic), nil, &v)
}

// Subscribe follows a topic. The stream's events are "message" (read it with
// Stream.Next(&wire.Message{})), "dropped" (wire.DroppedEvent: messages lost
// because this reader fell behind) and a last "closed" when the topic is left.
func (c *Client) Subscribe(ctx context.Context, topic string) (*Stream, error) {
	return c.Stream(ctx, "/v1/pubsub/subscribe?topic="+url.QueryEscape(topic))
}

// PubSubScores lists the peers' pub/sub scores and rate-limited messages,
// lowest score first.
func (c *Client) PubSubScores(ctx context.Context) ([]wire.PubSubPeerScore, error) {
	var v []wire.PubSubPeerScore
	return v, c.Do(ctx, "GET", "/v1/pubsub/scores", nil, &v)
}
