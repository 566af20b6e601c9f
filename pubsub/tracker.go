package pubsub

import (
	"sync"
	"time"

	ps "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// tracker follows go-libp2p-pubsub's internal state through its RawTracer
// hooks: which peers are in our mesh per topic, and which peers speak only
// floodsub. go-libp2p-pubsub exposes neither. Its methods are called
// synchronously from the pubsub event loop, so they only take a short lock.
type tracker struct {
	mu      sync.Mutex
	mesh    map[string]map[peer.ID]struct{}
	flood   map[peer.ID]struct{}
	changed chan struct{} // closed and replaced when a topic may have gained a peer

	onReject func(reason string) // counts dropped messages; set before the router starts
	onPrune  func(from peer.ID)  // a peer pruned us from its mesh (or refused our graft); may be nil
}

var _ ps.RawTracer = (*tracker)(nil)

func newTracker() *tracker {
	return &tracker{
		mesh:    make(map[string]map[peer.ID]struct{}),
		flood:   make(map[peer.ID]struct{}),
		changed: make(chan struct{}),
	}
}

// wait returns a channel closed at the next change.
func (t *tracker) wait() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.changed
}

func (t *tracker) signalLocked() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// meshCount returns the number of mesh peers of topic.
func (t *tracker) meshCount(topic string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.mesh[topic])
}

// anyFloodSub reports whether any of peers speaks only floodsub.
func (t *tracker) anyFloodSub(peers []peer.ID) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range peers {
		if _, ok := t.flood[p]; ok {
			return true
		}
	}
	return false
}

func (t *tracker) OnNewOutboundStream(p peer.ID, proto protocol.ID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if proto == ps.FloodSubID {
		t.flood[p] = struct{}{}
	}
	t.signalLocked()
}

func (t *tracker) OnClosedOutboundStream(p peer.ID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.flood, p)
	for _, m := range t.mesh {
		delete(m, p)
	}
}

func (t *tracker) Join(topic string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mesh[topic] == nil {
		t.mesh[topic] = make(map[peer.ID]struct{})
	}
}

func (t *tracker) Leave(topic string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.mesh, topic)
}

func (t *tracker) Graft(p peer.ID, topic string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.mesh[topic]
	if m == nil {
		m = make(map[peer.ID]struct{})
		t.mesh[topic] = m
	}
	m[p] = struct{}{}
	t.signalLocked()
}

func (t *tracker) Prune(p peer.ID, topic string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.mesh[topic], p)
}

func (t *tracker) RecvRPC(rpc *ps.RPC) {
	if t.onPrune != nil && len(rpc.GetControl().GetPrune()) > 0 {
		t.onPrune(rpc.From())
	}
	if len(rpc.GetSubscriptions()) == 0 {
		return
	}
	// Subscriptions are applied right after this hook, in the same event
	// loop turn, so a waiter that looks again sees them.
	t.mu.Lock()
	defer t.mu.Unlock()
	t.signalLocked()
}

// RejectMessage counts a message go-libp2p-pubsub dropped, by reason.
func (t *tracker) RejectMessage(_ *ps.Message, reason string) {
	if t.onReject != nil {
		t.onReject(reason)
	}
}

func (t *tracker) ValidateMessage(*ps.Message)                      {}
func (t *tracker) DeliverMessage(*ps.Message)                       {}
func (t *tracker) DuplicateMessage(*ps.Message)                     {}
func (t *tracker) ThrottlePeer(peer.ID)                             {}
func (t *tracker) SendRPC(*ps.RPC, peer.ID)                         {}
func (t *tracker) SendRPCCompleted(*ps.RPC, peer.ID, time.Duration) {}
func (t *tracker) DropRPC(*ps.RPC, peer.ID)                         {}
func (t *tracker) UndeliverableMessage(*ps.Message)                 {}

// subFilter bounds what remote peers can make us remember: topic names must
// pass ValidateTopicName, and at most maxTopicsPerPeer subscriptions of one
// peer are tracked (further ones are ignored, as if never sent). A peer's
// count is forgotten when its last connection closes.
type subFilter struct {
	limit int

	mu    sync.Mutex
	peers map[peer.ID]map[string]struct{}
}

var _ ps.SubscriptionFilter = (*subFilter)(nil)

func newSubFilter(limit int) *subFilter {
	return &subFilter{limit: limit, peers: make(map[peer.ID]map[string]struct{})}
}

func (f *subFilter) CanSubscribe(topic string) bool {
	return ValidateTopicName(topic) == nil
}

func (f *subFilter) FilterIncomingSubscriptions(from peer.ID, subs []*pb.RPC_SubOpts) ([]*pb.RPC_SubOpts, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	known := f.peers[from]
	out := subs[:0:0]
	for _, s := range subs {
		topic := s.GetTopicid()
		if !f.CanSubscribe(topic) {
			continue
		}
		if !s.GetSubscribe() {
			delete(known, topic)
			out = append(out, s)
			continue
		}
		if _, ok := known[topic]; !ok {
			if len(known) >= f.limit {
				continue
			}
			if known == nil {
				known = make(map[string]struct{})
				f.peers[from] = known
			}
			known[topic] = struct{}{}
		}
		out = append(out, s)
	}
	if len(known) == 0 {
		delete(f.peers, from)
	}
	return out, nil
}

// topicsOf lists the topics p is subscribed to, as far as tracked.
func (f *subFilter) topicsOf(p peer.ID) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.peers[p]))
	for t := range f.peers[p] {
		out = append(out, t)
	}
	return out
}

// forget drops what is tracked about p.
func (f *subFilter) forget(p peer.ID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.peers, p)
}

// notifiee returns the network notifiee that forgets disconnected peers.
func (f *subFilter) notifiee() network.Notifiee {
	return &network.NotifyBundle{
		DisconnectedF: func(n network.Network, c network.Conn) {
			p := c.RemotePeer()
			// A peer still reached through a relay (Limited) keeps its
			// subscriptions: pub/sub goes on over that connection.
			if cs := n.Connectedness(p); cs != network.Connected && cs != network.Limited {
				f.forget(p)
			}
		},
	}
}
