package wire

import "time"

// PublishRequest is the body of POST /v1/pubsub/publish.
type PublishRequest struct {
	Topic string `json:"topic"`
	Data  []byte `json:"data"` // base64 in JSON
}

// PublishResult is the answer of POST /v1/pubsub/publish: who was there to
// receive the message.
type PublishResult struct {
	Topic string `json:"topic"`
	// Peers is the number of connected peers subscribed to the topic when
	// the message was sent.
	Peers int `json:"peers"`
	// MeshPeers is the number of gossipsub mesh peers (0 under floodsub).
	MeshPeers int `json:"mesh_peers"`
	// NoPeers reports that no peer was on the topic even after waiting:
	// only local subscribers received the message.
	NoPeers bool `json:"no_peers"`
	// Warning explains NoPeers, or a message sent without a mesh.
	Warning string `json:"warning,omitempty"`
	// WaitedMS is how long the publish waited for a first peer on the topic.
	WaitedMS float64 `json:"waited_ms"`
}

// TopicRequest is the body of POST /v1/pubsub/join and /v1/pubsub/leave (a
// pub/sub topic), and of POST /v1/discover/join and /v1/discover/leave (a
// rendezvous topic); those routes answer it back.
type TopicRequest struct {
	Topic string `json:"topic"`
}

// TopicInfo is one joined topic (GET /v1/pubsub/topics).
type TopicInfo struct {
	Name string `json:"name"`
	// MeshPeers is the number of gossipsub mesh peers (0 under floodsub).
	MeshPeers int `json:"mesh_peers"`
	// Peers is the number of connected peers subscribed to the topic.
	Peers int `json:"peers"`
	// LocalSubscribers is the number of local subscriptions (API streams
	// included).
	LocalSubscribers int `json:"local_subscribers"`
}

// Message is a message received on a topic: the data of the "message" events
// of GET /v1/pubsub/subscribe. That stream also sends "dropped"
// (DroppedEvent: messages this client lost by falling behind) and "closed"
// (an empty object: the topic was left).
type Message struct {
	// From is the author's peer ID; its signature was verified.
	From string `json:"from"`
	// Seqno is the author's sequence number of the message, a uint64 sent as
	// a decimal string: go-libp2p-pubsub starts it at the author's clock in
	// nanoseconds, far above 2^53, where a JSON number loses digits in
	// JavaScript. It is the decimal that ends ID.
	Seqno uint64 `json:"seqno,string"`
	Topic string `json:"topic"`
	Data  []byte `json:"data"` // base64 in JSON
	// ReceivedAt is when the node received the message.
	ReceivedAt time.Time `json:"received_at"`
	// ID identifies the message: "<author>/<seqno>".
	ID string `json:"id"`
	// ReceivedFrom is the peer that forwarded the message (the node itself
	// for messages it published).
	ReceivedFrom string `json:"received_from"`
}

// PubSubMessageEvent is the data of the pubsub.message event: a message from
// another peer arrived on a joined topic.
type PubSubMessageEvent struct {
	Topic string `json:"topic"`
	From  string `json:"from"`
	Seqno uint64 `json:"seqno,string"` // decimal string, as in Message
	Size  int    `json:"size"`         // payload bytes
	ID    string `json:"id"`
}

// PubSubPublishedEvent is the data of the pubsub.published event: the node
// published a message.
type PubSubPublishedEvent struct {
	Topic     string `json:"topic"`
	Size      int    `json:"size"` // payload bytes
	Peers     int    `json:"peers"`
	MeshPeers int    `json:"mesh_peers"`
}

// PubSubTopicEvent is the data of the pubsub.joined and pubsub.left events.
type PubSubTopicEvent struct {
	Topic string `json:"topic"`
}

// PubSubPeerScore is one peer's standing with the node's pub/sub router
// (GET /v1/pubsub/scores).
type PubSubPeerScore struct {
	Peer string `json:"peer"`
	// Score is the gossipsub peer score (0 under floodsub): below 0 the
	// peer is kept out of the node's meshes, below -2500 (graylisted)
	// everything it sends is ignored.
	Score float64 `json:"score"`
	// RateLimited counts the peer's messages dropped by the per-peer rate
	// limit (pubsub.peer_rate_limit).
	RateLimited uint64 `json:"rate_limited"`
	// State is what the score does to the peer, from the router's own
	// thresholds: "out of mesh" (below 0), "graylisted", or absent.
	State string `json:"state,omitempty"`
}

// PubSubPeerThrottledEvent is the data of the pubsub.peer_throttled event:
// messages of a peer were dropped by the per-peer rate limit (at most one
// event every 5 s per peer).
type PubSubPeerThrottledEvent struct {
	Peer string `json:"peer"`
	// Dropped counts the messages dropped since the peer's last event,
	// Total since the node started tracking it.
	Dropped uint64 `json:"dropped"`
	Total   uint64 `json:"total"`
	// Penalty is what the drops cost the peer's score now (negative).
	Penalty float64 `json:"penalty"`
}
