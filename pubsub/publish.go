package pubsub

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// PublishResult tells who was there to receive a published message.
type PublishResult struct {
	Topic string
	// Peers is the number of connected peers subscribed to the topic when the
	// message was sent; under gossipsub the message is flood-published to
	// all of them (except peers scored below PublishScoreThreshold).
	Peers int
	// MeshPeers is the number of gossipsub mesh peers (0 under floodsub).
	MeshPeers int
	// NoPeers reports that no peer was on the topic even after waiting:
	// only local subscribers received the message.
	NoPeers bool
	// Warning explains NoPeers, or a message sent without a mesh.
	Warning string
	// Waited is how long Publish waited for a peer.
	Waited time.Duration
}

// Publish signs data and publishes it to topic, joining the topic first if
// needed.
//
// A publish right after joining does not vanish: if the topic has no peer
// yet (no mesh peer under gossipsub, no subscribed peer under floodsub),
// Publish waits until one appears, at most WithPublishWait (5s) and no longer
// than ctx allows. If nobody appeared it publishes anyway, for local
// subscribers, and returns a result with NoPeers set.
//
// A payload over the maximum message size is refused, before anything is
// sent, with an error wrapping ErrTooLarge that names the limit.
func (s *Service) Publish(ctx context.Context, topic string, data []byte) (PublishResult, error) {
	res := PublishResult{Topic: topic}
	if len(data) > s.cfg.maxMessageSize {
		return res, fmt.Errorf("publish to %q: payload of %d bytes exceeds the maximum message size of %d bytes: %w",
			topic, len(data), s.cfg.maxMessageSize, ErrTooLarge)
	}
	s.mu.Lock()
	ts, err := s.joinLocked(topic)
	s.mu.Unlock()
	if err != nil {
		return res, fmt.Errorf("publish: %w", err)
	}

	start := time.Now()
	peers, mesh, err := s.waitForPeer(ctx, topic)
	if err != nil {
		return res, fmt.Errorf("publish to %q: waiting for peers: %w", topic, err)
	}
	res.Waited = time.Since(start)
	res.Peers, res.MeshPeers = len(peers), mesh

	if err := ts.topic.Publish(ctx, data); err != nil {
		return res, fmt.Errorf("publish to %q: %w", topic, err)
	}
	s.redial.published(topic)
	switch {
	case res.Peers == 0:
		res.NoPeers = true
		res.Warning = fmt.Sprintf("no peer on topic after waiting %s: only local subscribers received the message", res.Waited.Round(time.Millisecond))
		s.log.Warn("published to a topic without peers", slog.String("topic", topic), slog.Duration("waited", res.Waited))
	case s.cfg.router == RouterGossipSub && mesh == 0 && !s.tr.anyFloodSub(peers):
		res.Warning = fmt.Sprintf("no mesh peer yet: message flood-published to %d topic peers", res.Peers)
	}
	s.emit(EventPublished, PublishedEvent{Topic: topic, Size: len(data), Peers: res.Peers, MeshPeers: mesh})
	return res, nil
}

// waitForPeer waits, at most the publish wait, until topic is ready to
// publish to and returns its peers then. It fails only if ctx ends.
func (s *Service) waitForPeer(ctx context.Context, topic string) ([]peer.ID, int, error) {
	var timeout <-chan time.Time
	if s.cfg.publishWait > 0 {
		t := time.NewTimer(s.cfg.publishWait)
		defer t.Stop()
		timeout = t.C
	}
	// Mesh changes and subscription announcements wake us; the ticker is a
	// fallback for changes the tracer cannot see.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		changed := s.tr.wait()
		peers := s.ps.ListPeers(topic)
		mesh := s.tr.meshCount(topic)
		if s.ready(peers, mesh) || s.cfg.publishWait == 0 {
			return peers, mesh, nil
		}
		select {
		case <-changed:
		case <-tick.C:
		case <-timeout:
			return s.ps.ListPeers(topic), s.tr.meshCount(topic), nil
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-s.ctx.Done():
			return nil, 0, ErrClosed
		}
	}
}

// ready reports whether a message published now reaches a peer through the
// router's normal path: a mesh peer (or a floodsub-only topic peer) under
// gossipsub, any topic peer under floodsub.
func (s *Service) ready(peers []peer.ID, mesh int) bool {
	if s.cfg.router == RouterFloodSub {
		return len(peers) > 0
	}
	return mesh > 0 || s.tr.anyFloodSub(peers)
}
