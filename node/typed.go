package node

// This file gives applications pub/sub topics and request/response
// protocols that carry Go values instead of bytes: each value travels as its
// JSON encoding, so a program in another language can speak the same topic
// or protocol through the HTTP API.

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/plexus-p2p/plexus/pubsub"
)

// Topic is a pub/sub topic whose messages are JSON encodings of T.
type Topic[T any] struct {
	ps   *pubsub.Service
	name string
}

// JoinTopic joins the pub/sub topic name for messages of type T. The
// node's peers on the topic find each other through the DHT rendezvous on
// the topic (see pubsub.WithDiscovery), so join after WaitReady: a topic
// joined before the node has a routing-table peer is advertised only when
// go-libp2p-pubsub retries, minutes later.
func JoinTopic[T any](n *Node, name string) (*Topic[T], error) {
	if err := n.ps.Join(name); err != nil {
		return nil, err
	}
	return &Topic[T]{ps: n.ps, name: name}, nil
}

// Name returns the topic's name.
func (t *Topic[T]) Name() string { return t.name }

// Peers returns the connected peers subscribed to the topic.
func (t *Topic[T]) Peers() []peer.ID { return t.ps.Peers(t.name) }

// Publish publishes v's JSON encoding (see pubsub.Service.Publish: it
// waits, at most the configured publish wait, for a peer on the topic).
func (t *Topic[T]) Publish(ctx context.Context, v T) (pubsub.PublishResult, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return pubsub.PublishResult{}, fmt.Errorf("publish to %q: encode %T: %w", t.name, v, err)
	}
	return t.ps.Publish(ctx, t.name, data)
}

// Subscribe adds a local subscriber of the topic, with the default buffer
// (pubsub.DefaultSubscriberBuffer messages). It receives the node's own
// messages too.
func (t *Topic[T]) Subscribe() (*TopicSubscription[T], error) {
	sub, err := t.ps.Subscribe(t.name, 0)
	if err != nil {
		return nil, err
	}
	return &TopicSubscription[T]{sub: sub}, nil
}

// Received is a message of a Topic, decoded.
type Received[T any] struct {
	// From is the author, whose signature was verified.
	From  peer.ID
	Value T
	// Message is the message as received, with its raw payload.
	Message pubsub.Message
}

// TopicSubscription delivers the messages of a Topic as values of T.
type TopicSubscription[T any] struct {
	sub     *pubsub.Subscription
	invalid atomic.Uint64
}

// Next returns the next message that decodes as T; messages that do not
// are skipped and counted by Invalid. It returns ctx's error when ctx ends
// and pubsub.ErrClosed once the subscription is closed (by Close, by
// leaving the topic or by closing the node).
func (s *TopicSubscription[T]) Next(ctx context.Context) (Received[T], error) {
	for {
		select {
		case <-ctx.Done():
			return Received[T]{}, ctx.Err()
		case m, ok := <-s.sub.C():
			if !ok {
				return Received[T]{}, pubsub.ErrClosed
			}
			var v T
			if err := json.Unmarshal(m.Data, &v); err != nil {
				s.invalid.Add(1)
				continue
			}
			return Received[T]{From: m.From, Value: v, Message: m}, nil
		}
	}
}

// Invalid returns how many messages were skipped because they were not
// JSON encodings of T.
func (s *TopicSubscription[T]) Invalid() uint64 { return s.invalid.Load() }

// Dropped returns how many messages were dropped because the subscriber
// did not keep up.
func (s *TopicSubscription[T]) Dropped() uint64 { return s.sub.Dropped() }

// Close stops delivery; Next then returns pubsub.ErrClosed. It does not
// leave the topic. It is idempotent.
func (s *TopicSubscription[T]) Close() { s.sub.Close() }

// Handle serves proto (under the messaging prefix, "/app/" by default)
// with fn: each request is decoded from JSON as Req and fn's answer is
// sent back as JSON. A request that does not decode, or an error fn
// returns, reaches the caller as a *messaging.HandlerError with the
// message.
func Handle[Req, Resp any](n *Node, proto protocol.ID, fn func(ctx context.Context, from peer.ID, req Req) (Resp, error)) error {
	return n.msg.Handle(proto, func(ctx context.Context, from peer.ID, data []byte) ([]byte, error) {
		var req Req
		if err := json.Unmarshal(data, &req); err != nil {
			return nil, fmt.Errorf("decode request as %T: %w", req, err)
		}
		resp, err := fn(ctx, from, req)
		if err != nil {
			return nil, err
		}
		return json.Marshal(resp)
	})
}

// Request sends req's JSON encoding to peer p on proto, as Node.Send does
// (connecting to p first, through the DHT if needed), and decodes the
// answer as Resp. Errors are Send's, or a decoding error naming Resp.
func Request[Req, Resp any](ctx context.Context, n *Node, p peer.ID, proto protocol.ID, req Req) (Resp, error) {
	var resp Resp
	data, err := json.Marshal(req)
	if err != nil {
		return resp, fmt.Errorf("request %s: encode %T: %w", proto, req, err)
	}
	res, err := n.Send(ctx, p, proto, data)
	if err != nil {
		return resp, err
	}
	if err := json.Unmarshal(res.Data, &resp); err != nil {
		return resp, fmt.Errorf("request %s to %s: decode answer as %T: %w", proto, p, resp, err)
	}
	return resp, nil
}
