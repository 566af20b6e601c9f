package pubsub

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	ps "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	pname "github.com/plexus-p2p/plexus/internal/name"
	"github.com/plexus-p2p/plexus/internal/topic"
)

// MaxTopicLen is the longest topic name, in bytes: 247, so that the DHT
// rendezvous namespace of the topic ("floodsub:" and the name, see
// WithDiscovery) fits discovery's limit of 256 bytes.
const MaxTopicLen = topic.MaxPubSubLen

// ValidateTopicName returns an error wrapping ErrInvalidTopic unless name is
// non-empty, at most MaxTopicLen bytes, valid UTF-8 and printable (no control
// or format characters, no spaces other than the ASCII space, not starting
// or ending with a space): the rule of every name a node shares (package
// internal/name). Rendezvous (discovery.ValidateTopic) applies it to the
// namespace pub/sub advertises the topic under, so a topic accepted here can
// always be found through rendezvous.
func ValidateTopicName(name string) error {
	if err := pname.Check(name, MaxTopicLen); err != nil {
		return fmt.Errorf("topic name %.32q: %w: %w", name, ErrInvalidTopic, err)
	}
	return nil
}

// TopicInfo describes a joined topic.
type TopicInfo struct {
	Name string
	// MeshPeers is the number of gossipsub mesh peers (0 under floodsub).
	MeshPeers int
	// Peers is the number of connected peers subscribed to the topic.
	Peers int
	// LocalSubscribers is the number of open local Subscriptions.
	LocalSubscribers int
}

// topicState is a joined topic: the go-libp2p-pubsub topic, its one
// subscription, the goroutine reading it and the local subscribers it feeds.
type topicState struct {
	name   string
	topic  *ps.Topic
	sub    *ps.Subscription
	cancel context.CancelFunc
	done   chan struct{} // closed when the reader returns

	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

// Join joins topic: subscribes to it on the network, applies the topic score
// parameters and starts delivering its messages to local Subscriptions.
// Joining a joined topic does nothing.
func (s *Service) Join(topic string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.joinLocked(topic)
	return err
}

func (s *Service) joinLocked(name string) (*topicState, error) {
	if s.closed {
		return nil, ErrClosed
	}
	if ts, ok := s.topics[name]; ok {
		return ts, nil
	}
	if err := ValidateTopicName(name); err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	t, err := s.ps.Join(name)
	if err != nil {
		return nil, fmt.Errorf("join topic %q: %w", name, err)
	}
	if s.cfg.router == RouterGossipSub {
		if err := t.SetScoreParams(s.cfg.topicScore); err != nil {
			_ = t.Close()
			return nil, fmt.Errorf("join topic %q: score params: %w", name, err)
		}
	}
	sub, err := t.Subscribe(ps.WithBufferSize(topicSubscriptionBuffer))
	if err != nil {
		_ = t.Close()
		return nil, fmt.Errorf("join topic %q: subscribe: %w", name, err)
	}
	ctx, cancel := context.WithCancel(s.ctx)
	ts := &topicState{
		name:   name,
		topic:  t,
		sub:    sub,
		cancel: cancel,
		done:   make(chan struct{}),
		subs:   make(map[*Subscription]struct{}),
	}
	s.topics[name] = ts
	s.wg.Add(1)
	go s.read(ctx, ts)
	s.log.Info("joined topic", slog.String("topic", name))
	s.emit(EventJoined, TopicEvent{Topic: name})
	return ts, nil
}

// Leave leaves topic: unsubscribes on the network and closes its local
// Subscriptions. It returns an error wrapping ErrNotJoined if topic is not joined.
func (s *Service) Leave(topic string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	ts, ok := s.topics[topic]
	if !ok {
		return fmt.Errorf("leave topic %q: %w", topic, ErrNotJoined)
	}
	delete(s.topics, topic)
	return s.leaveLocked(ts)
}

func (s *Service) leaveLocked(ts *topicState) error {
	ts.sub.Cancel()
	ts.cancel()
	<-ts.done
	ts.mu.Lock()
	for sub := range ts.subs {
		sub.closed = true
		close(sub.ch)
	}
	clear(ts.subs)
	ts.mu.Unlock()
	err := ts.topic.Close()
	s.log.Info("left topic", slog.String("topic", ts.name))
	s.emit(EventLeft, TopicEvent{Topic: ts.name})
	if err != nil {
		return fmt.Errorf("leave topic %q: %w", ts.name, err)
	}
	return nil
}

// read moves messages from the topic's pubsub subscription to the local
// subscribers until the topic is left.
func (s *Service) read(ctx context.Context, ts *topicState) {
	defer s.wg.Done()
	defer close(ts.done)
	self := s.h.ID()
	for {
		m, err := ts.sub.Next(ctx)
		if err != nil {
			return
		}
		msg := newMessage(m)
		if m.ReceivedFrom != self {
			s.emit(EventMessage, MessageEvent{
				Topic: msg.Topic, From: msg.From, Seqno: msg.Seqno, Size: len(msg.Data), ID: msg.ID,
			})
		}
		ts.deliver(msg)
	}
}

func (ts *topicState) deliver(msg Message) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for sub := range ts.subs {
		select {
		case sub.ch <- msg:
		default:
			sub.dropped.Add(1)
		}
	}
}

// Topics describes the joined topics, sorted by name.
func (s *Service) Topics() []TopicInfo {
	s.mu.Lock()
	list := make([]*topicState, 0, len(s.topics))
	for _, ts := range s.topics {
		list = append(list, ts)
	}
	s.mu.Unlock()

	out := make([]TopicInfo, 0, len(list))
	for _, ts := range list {
		ts.mu.Lock()
		n := len(ts.subs)
		ts.mu.Unlock()
		out = append(out, TopicInfo{
			Name:             ts.name,
			MeshPeers:        s.tr.meshCount(ts.name),
			Peers:            len(s.ps.ListPeers(ts.name)),
			LocalSubscribers: n,
		})
	}
	slices.SortFunc(out, func(a, b TopicInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Peers returns the connected peers known to be subscribed to topic (whether
// or not this node has joined it).
func (s *Service) Peers(topic string) []peer.ID {
	return s.ps.ListPeers(topic)
}
