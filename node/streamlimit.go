package node

import (
	"fmt"
	"sync"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/prometheus/client_golang/prometheus"
)

// pendingStreamLimiter bounds, per peer, the inbound streams that have not
// negotiated a protocol yet (issue 20 row 1).
//
// go-libp2p's resource manager charges such a stream to the peer's scope
// and to the transient scope, which all peers share and which has no
// per-peer limit: one peer that opens ~500 streams on one connection and
// never sends a protocol ID fills the transient scope for the 10 s
// negotiation timeout, and every other peer's new streams are reset. With
// this limiter a peer holds at most limit such streams; its further ones are
// refused (the swarm resets them with StreamResourceLimitExceeded) and other
// peers are not affected. A stream stops counting when SetProtocol is called
// (it has negotiated and moved to its protocol's scopes) or when it ends.
type pendingStreamLimiter struct {
	network.ResourceManager
	limit   int
	refused prometheus.Counter

	mu      sync.Mutex
	pending map[peer.ID]int
}

func newPendingStreamLimiter(rm network.ResourceManager, limit int, reg prometheus.Registerer) *pendingStreamLimiter {
	l := &pendingStreamLimiter{
		ResourceManager: rm,
		limit:           limit,
		pending:         make(map[peer.ID]int),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "plexus_streams_refused_pending_per_peer_total",
			Help: "Inbound streams refused because their peer already had resource_manager.max_pending_streams_per_peer streams waiting for protocol negotiation.",
		}),
	}
	if reg != nil {
		reg.MustRegister(l.refused)
	}
	return l
}

// OpenStream admits an inbound stream only while its peer has fewer than
// limit streams pending negotiation.
func (l *pendingStreamLimiter) OpenStream(p peer.ID, dir network.Direction) (network.StreamManagementScope, error) {
	if dir != network.DirInbound {
		return l.ResourceManager.OpenStream(p, dir)
	}
	l.mu.Lock()
	if n := l.pending[p]; n >= l.limit {
		l.mu.Unlock()
		l.refused.Inc()
		return nil, fmt.Errorf("%w: peer %s already has %d inbound streams waiting for protocol negotiation (resource_manager.max_pending_streams_per_peer)",
			network.ErrResourceLimitExceeded, p, n)
	}
	l.pending[p]++
	l.mu.Unlock()
	s, err := l.ResourceManager.OpenStream(p, dir)
	if err != nil {
		l.release(p)
		return nil, err
	}
	return &pendingStream{StreamManagementScope: s, l: l, peer: p}, nil
}

// Pending returns how many inbound streams of p wait for negotiation.
func (l *pendingStreamLimiter) Pending(p peer.ID) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pending[p]
}

func (l *pendingStreamLimiter) release(p peer.ID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending[p] <= 1 {
		delete(l.pending, p)
		return
	}
	l.pending[p]--
}

// GetConnLimit keeps go-libp2p's check of the connection manager's high
// water mark against the resource manager's connection limit working.
func (l *pendingStreamLimiter) GetConnLimit() int {
	if c, ok := l.ResourceManager.(interface{ GetConnLimit() int }); ok {
		return c.GetConnLimit()
	}
	return 0
}

// pendingStream is an inbound stream's scope that counts as pending until
// it has a protocol or ends.
type pendingStream struct {
	network.StreamManagementScope
	l    *pendingStreamLimiter
	peer peer.ID
	once sync.Once
}

func (s *pendingStream) negotiated() { s.once.Do(func() { s.l.release(s.peer) }) }

func (s *pendingStream) SetProtocol(proto protocol.ID) error {
	s.negotiated()
	return s.StreamManagementScope.SetProtocol(proto)
}

func (s *pendingStream) Done() {
	s.negotiated()
	s.StreamManagementScope.Done()
}
