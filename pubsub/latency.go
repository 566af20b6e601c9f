package pubsub

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
)

// meshLatency makes gossipsub's meshes prefer the topic peers with the
// shortest round trips, through the app-specific score (P5).
//
// go-libp2p-pubsub v0.19 fills a mesh with random peers among those scored
// 0 or more, and when a mesh reaches Dhi keeps the Dscore best scored and
// random others. With random mesh peers a small mesh (few duplicate copies)
// means long paths; a mesh made of each node's fastest links keeps the
// paths nearly as short as a large mesh. So each topic peer is pinged once
// (libp2p ping, which records the round trip in the peerstore), and the
// topic peers are ranked by round trip: the fastest get a small bonus,
// larger for faster ones (so that pruning keeps them), and the others -1,
// which keeps them out of this node's meshes (score < 0) but changes
// nothing else: they still get gossip and this node's own messages (the
// thresholds for those are -500 and -1000). Peers not measured yet, or
// that do not answer ping, score 0: any mesh may take them.
//
// A fast peer that has just pruned this node (or refused its graft: it
// keeps its own fastest peers) is left out of the ranking for the prune
// backoff and scores 0, so that the next fastest takes its place instead
// of this node's mesh staying short.
type meshLatency struct {
	h       host.Host
	fastest int              // peers ranked fastest get a bonus; the rest -1
	peers   func() []peer.ID // the topic peers (all joined topics)
	scores  atomic.Pointer[map[peer.ID]float64]
	sem     chan struct{}  // pings in flight
	wg      sync.WaitGroup // pings
	mu      sync.Mutex
	pinged  map[peer.ID]time.Time // last ping started
	pruned  map[peer.ID]time.Time // last PRUNE received
}

const (
	// latencyBonus is the score of the fastest topic peer; the next ones
	// get less, down to latencyBonus/fastest. It is of the order of the
	// first-delivery score a fast mesh peer earns (at most +5 after the
	// topic weight), and small next to a penalty for one invalid message
	// (-100).
	latencyBonus = 2.0
	// latencyRefresh is how often the ranking is computed and new topic
	// peers are pinged.
	latencyRefresh = time.Second
	// latencyRepingAfter is how long a round trip is trusted before it is
	// measured again (and how long a peer that did not answer waits).
	latencyRepingAfter = 10 * time.Minute
	latencyPingTimeout = 10 * time.Second
	latencyMaxPings    = 8
	// latencyPrunedFor is how long a peer that pruned this node stays out
	// of the ranking: gossipsub's prune backoff.
	latencyPrunedFor = time.Minute
)

func newMeshLatency(h host.Host, fastest int, peers func() []peer.ID) *meshLatency {
	m := &meshLatency{h: h, fastest: fastest, peers: peers, sem: make(chan struct{}, latencyMaxPings),
		pinged: map[peer.ID]time.Time{}, pruned: map[peer.ID]time.Time{}}
	m.scores.Store(&map[peer.ID]float64{})
	return m
}

// score is the app-specific score of p (called from the router's loop);
// 0 when the preference is off (m is nil).
func (m *meshLatency) score(p peer.ID) float64 {
	if m == nil {
		return 0
	}
	return (*m.scores.Load())[p]
}

// prunedBy notes that p pruned this node (called from the router's loop).
func (m *meshLatency) prunedBy(p peer.ID) {
	m.mu.Lock()
	m.pruned[p] = time.Now()
	m.mu.Unlock()
}

// run refreshes the ranking until ctx ends.
func (m *meshLatency) run(ctx context.Context) {
	t := time.NewTicker(latencyRefresh)
	defer t.Stop()
	defer m.wg.Wait()
	for {
		m.refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *meshLatency) refresh(ctx context.Context) {
	peers := m.peers()
	type measured struct {
		p   peer.ID
		rtt time.Duration
	}
	known := make([]measured, 0, len(peers))
	now := time.Now()
	m.mu.Lock()
	live := make(map[peer.ID]bool, len(peers))
	for _, p := range peers {
		live[p] = true
		if at, ok := m.pruned[p]; ok && now.Sub(at) < latencyPrunedFor {
			continue // not ranked: scores 0 (and was pinged already)
		}
		if rtt := m.h.Peerstore().LatencyEWMA(p); rtt > 0 {
			known = append(known, measured{p, rtt})
		}
		if last, ok := m.pinged[p]; ok && now.Sub(last) < latencyRepingAfter {
			continue
		}
		select {
		case m.sem <- struct{}{}:
			m.pinged[p] = now
			m.wg.Go(func() { m.ping(ctx, p) })
		default: // enough in flight: next refresh
		}
	}
	for p := range m.pinged {
		if !live[p] {
			delete(m.pinged, p)
		}
	}
	for p, at := range m.pruned {
		if !live[p] || now.Sub(at) >= latencyPrunedFor {
			delete(m.pruned, p)
		}
	}
	m.mu.Unlock()

	slices.SortFunc(known, func(a, b measured) int { return cmp.Compare(a.rtt, b.rtt) })
	scores := make(map[peer.ID]float64, len(known))
	for r, k := range known {
		if r < m.fastest {
			scores[k.p] = latencyBonus * float64(m.fastest-r) / float64(m.fastest)
		} else {
			scores[k.p] = -1
		}
	}
	m.scores.Store(&scores)
}

// ping measures one round trip to p; ping.Ping records it in the peerstore.
func (m *meshLatency) ping(ctx context.Context, p peer.ID) {
	defer func() { <-m.sem }()
	ctx, cancel := context.WithTimeout(ctx, latencyPingTimeout)
	defer cancel()
	select {
	case <-ping.Ping(ctx, m.h, p):
	case <-ctx.Done():
	}
}
