package routing

import (
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	kb "github.com/libp2p/go-libp2p-kbucket"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Event types published with WithPublisher, with a Change.
const (
	// EventPeerAdded: a peer entered the routing table.
	EventPeerAdded = "routing.peer_added"
	// EventPeerRemoved: a peer left the routing table.
	EventPeerRemoved = "routing.peer_removed"
)

// Change is one routing-table change, and the data of EventPeerAdded and
// EventPeerRemoved.
type Change struct {
	Peer peer.ID
	// Added is true when the peer entered the table, false when it left.
	Added bool
	// Size is the number of peers in the table after the change.
	Size int
}

func (c Change) eventType() string {
	if c.Added {
		return EventPeerAdded
	}
	return EventPeerRemoved
}

// Entry is one peer of the routing table.
type Entry struct {
	Peer peer.ID
	// Bucket is the length of the prefix the peer's key shares with this
	// node's: the bucket it falls in.
	Bucket int
	// Addr is the address of an open connection to the peer, else its first
	// known address; nil when there is neither.
	Addr      ma.Multiaddr
	Connected bool
	AddedAt   time.Time
	// LastUseful is when the peer last answered a query usefully; zero if
	// never.
	LastUseful time.Time
}

// Table lists the routing table by bucket, then by the time the peers were
// added.
func (s *Service) Table() []Entry {
	self := kb.ConvertPeerID(s.h.ID())
	infos := s.d.RoutingTable().GetPeerInfos()
	out := make([]Entry, 0, len(infos))
	for _, pi := range infos {
		e := Entry{
			Peer:       pi.Id,
			Bucket:     kb.CommonPrefixLen(self, kb.ConvertPeerID(pi.Id)),
			Connected:  s.h.Network().Connectedness(pi.Id) == network.Connected,
			AddedAt:    pi.AddedAt,
			LastUseful: pi.LastUsefulAt,
		}
		if conns := s.h.Network().ConnsToPeer(pi.Id); len(conns) > 0 {
			e.Addr = conns[0].RemoteMultiaddr()
		} else if addrs := s.h.Peerstore().Addrs(pi.Id); len(addrs) > 0 {
			e.Addr = addrs[0]
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Entry) int {
		if a.Bucket != b.Bucket {
			return a.Bucket - b.Bucket
		}
		return a.AddedAt.Compare(b.AddedAt)
	})
	return out
}

// Subscribe calls f with every routing-table change, in order, until the
// returned cancel is called. It first calls f, from the calling goroutine,
// with an Added change for each peer already in the table; the later calls
// come from one goroutine of the Service. f is never called concurrently
// with itself; it must not block for long (it delays the other
// subscribers, never the DHT), and must not call Subscribe or cancel.
// After cancel returns, f is called at most once more (if a delivery to it
// was under way).
func (s *Service) Subscribe(f func(Change)) (cancel func()) {
	return s.watch.subscribe(f, true)
}

// tableWatch turns the routing table's hooks into an ordered queue of
// changes and delivers it to subscribers from one goroutine.
type tableWatch struct {
	log *slog.Logger

	mu     sync.Mutex
	queue  []Change
	closed bool
	wake   chan struct{} // capacity 1: the queue has changes
	stop   chan struct{}
	done   chan struct{}

	// deliverMu is held while a batch is applied to members and delivered,
	// and while a subscriber is added, so that a subscriber sees the
	// members at one point of the sequence and every change after it.
	deliverMu sync.Mutex
	members   map[peer.ID]struct{}
	subs      []*subscriber
}

type subscriber struct {
	f   func(Change)
	off atomic.Bool
}

// watchTable wraps rt's hooks and starts the delivery goroutine.
func watchTable(rt *kb.RoutingTable, log *slog.Logger) *tableWatch {
	w := &tableWatch{
		log:     log,
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		members: map[peer.ID]struct{}{},
	}
	for _, p := range rt.ListPeers() {
		w.members[p] = struct{}{}
	}
	// kad-dht set its hooks in dht.New (connection manager tags, fixing a
	// low table); call them first, then queue the change. Both run under
	// the table's write lock, so they must not call back into the table.
	added, removed := rt.PeerAdded, rt.PeerRemoved
	rt.PeerAdded = func(p peer.ID) {
		if added != nil {
			added(p)
		}
		w.push(Change{Peer: p, Added: true})
	}
	rt.PeerRemoved = func(p peer.ID) {
		if removed != nil {
			removed(p)
		}
		w.push(Change{Peer: p})
	}
	// dht.New may already be adding peers (its loops start before it
	// returns). kad-dht adds and removes peers under the table's lock, so
	// taking that lock once here (ListPeers) orders the hooks above before
	// every later change; the changes made before it are queued now. A
	// change queued twice (by a hook and here) is delivered once.
	now := map[peer.ID]struct{}{}
	for _, p := range rt.ListPeers() {
		now[p] = struct{}{}
		if _, ok := w.members[p]; !ok {
			w.push(Change{Peer: p, Added: true})
		}
	}
	for p := range w.members {
		if _, ok := now[p]; !ok {
			w.push(Change{Peer: p})
		}
	}
	go w.run()
	return w
}

// push queues a change; it never blocks.
func (w *tableWatch) push(c Change) {
	w.mu.Lock()
	if !w.closed {
		w.queue = append(w.queue, c)
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *tableWatch) run() {
	defer close(w.done)
	for {
		select {
		case <-w.stop:
			return
		case <-w.wake:
		}
		w.mu.Lock()
		batch := w.queue
		w.queue = nil
		w.mu.Unlock()
		w.deliver(batch)
	}
}

func (w *tableWatch) deliver(batch []Change) {
	w.deliverMu.Lock()
	defer w.deliverMu.Unlock()
	w.subs = slices.DeleteFunc(w.subs, func(s *subscriber) bool { return s.off.Load() })
	for _, c := range batch {
		if _, member := w.members[c.Peer]; member == c.Added {
			continue // queued twice (see watchTable)
		}
		if c.Added {
			w.members[c.Peer] = struct{}{}
		} else {
			delete(w.members, c.Peer)
		}
		c.Size = len(w.members)
		w.log.Debug("routing table changed", "peer", c.Peer, "added", c.Added, "size", c.Size)
		for _, s := range w.subs {
			if !s.off.Load() {
				s.f(c)
			}
		}
	}
}

// subscribe adds f, after replaying the current members to it if replay.
func (w *tableWatch) subscribe(f func(Change), replay bool) (cancel func()) {
	s := &subscriber{f: f}
	w.deliverMu.Lock()
	defer w.deliverMu.Unlock()
	if replay {
		for p := range w.members {
			f(Change{Peer: p, Added: true, Size: len(w.members)})
		}
	}
	w.subs = append(w.subs, s)
	return func() { s.off.Store(true) }
}

// close stops the delivery goroutine; changes still queued are dropped.
func (w *tableWatch) close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	w.queue = nil
	w.mu.Unlock()
	close(w.stop)
	<-w.done
}
