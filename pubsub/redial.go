package pubsub

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
)

// Relayed-only topic peers (issue 19, case 3). A relay closes a relayed
// connection at its limit (2 minutes or 2 MiB by default); until one side
// dials the other again, the messages published on the topics they share
// reach nobody. When the last connection to a peer that shares a joined
// topic was a relayed (limited) one that this node dialled, the node
// re-dials it at once (the
// peerstore keeps its relay addresses), then with exponential backoff, and
// counts the messages it published on the shared topics meanwhile: the
// peer missed them.

// Re-dial backoff: first attempt at once, then 500 ms doubling up to 30 s;
// the node gives up after redialGiveUp (the peer is gone, not cut off).
const (
	redialFirstBackoff = 500 * time.Millisecond
	redialMaxBackoff   = 30 * time.Second
	redialGiveUp       = 5 * time.Minute
	redialDialTimeout  = 15 * time.Second
	// redialRejoinWait bounds the wait, after a successful dial, for the
	// peer to announce its topics again (pub/sub's hello on the new
	// connection).
	redialRejoinWait = 10 * time.Second
	// redialGoneWait bounds the wait for pub/sub to drop the peer of the
	// closed connection before the first dial.
	redialGoneWait = 2 * time.Second
)

// awayPeer is a relayed-only topic peer being re-dialled.
type awayPeer struct {
	topics []string
	since  time.Time
	missed int
}

// redialer re-dials relayed-only topic peers and counts what they missed.
type redialer struct {
	s *Service

	mu   sync.Mutex
	away map[peer.ID]*awayPeer

	redials *prometheus.CounterVec
	missed  prometheus.Counter
}

func newRedialer(s *Service, reg prometheus.Registerer) *redialer {
	r := &redialer{
		s:    s,
		away: map[peer.ID]*awayPeer{},
		redials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "plexus_pubsub_relayed_peer_redials_total",
			Help: "Re-dials of a peer sharing a topic whose relayed-only connection closed (a relay's limit), by result: connected, failed (one attempt), gave_up.",
		}, []string{"result"}),
		missed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "plexus_pubsub_relayed_peer_missed_messages_total",
			Help: "Messages this node published on a topic while a peer sharing it was cut off by a relay and not yet back (once per such peer): that peer missed them unless gossip brought the most recent ones to it once back.",
		}),
	}
	for _, res := range []string{"connected", "failed", "gave_up"} {
		r.redials.WithLabelValues(res)
	}
	if reg != nil {
		reg.MustRegister(r.redials, r.missed)
	}
	return r
}

// isRelayedConn reports whether c goes through a relay.
func isRelayedConn(c network.Conn) bool {
	if c.Stat().Limited {
		return true
	}
	for _, comp := range c.RemoteMultiaddr() {
		if comp.Code() == ma.P_CIRCUIT {
			return true
		}
	}
	return false
}

// disconnected runs in the swarm's notification (before the subscription
// filter forgets the peer's topics): it starts a re-dial when the last
// connection to a topic peer was a relayed one.
func (r *redialer) disconnected(n network.Network, c network.Conn) {
	p := c.RemotePeer()
	if !isRelayedConn(c) || n.Connectedness(p) == network.Connected || n.Connectedness(p) == network.Limited {
		return
	}
	// The side that dialled the relayed connection dials again (both sides
	// at once would open two relayed connections); the other side waits
	// for it and counts what it missed meanwhile.
	dial := c.Stat().Direction == network.DirOutbound
	shared := r.sharedTopics(p)
	if len(shared) == 0 {
		return
	}
	r.mu.Lock()
	if _, ok := r.away[p]; ok {
		r.mu.Unlock()
		return
	}
	r.away[p] = &awayPeer{topics: shared, since: time.Now()}
	r.mu.Unlock()
	// Close sets closed under s.mu before it waits for s.wg.
	r.s.mu.Lock()
	if r.s.closed {
		r.s.mu.Unlock()
		r.mu.Lock()
		delete(r.away, p)
		r.mu.Unlock()
		return
	}
	r.s.wg.Add(1)
	r.s.mu.Unlock()
	r.s.log.Info("relayed connection to a topic peer closed: re-dialling it", slog.Any("peer", p), slog.Any("topics", shared), slog.Bool("dials", dial))
	go r.redial(p, dial)
}

// sharedTopics lists the joined topics p is subscribed to.
func (r *redialer) sharedTopics(p peer.ID) []string {
	theirs := r.s.filter.topicsOf(p)
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	var out []string
	for _, t := range theirs {
		if _, ok := r.s.topics[t]; ok {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}

// published counts a message published on topic for every away peer that
// shares it.
func (r *redialer) published(topic string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ap := range r.away {
		if slices.Contains(ap.topics, topic) {
			ap.missed++
			r.missed.Inc()
		}
	}
}

// redial dials p (with dial, else waits for p to dial) until it is back on
// one of the shared topics, the backoff runs out or the service closes.
func (r *redialer) redial(p peer.ID, dial bool) {
	defer r.s.wg.Done()
	r.mu.Lock()
	ap := r.away[p]
	r.mu.Unlock()
	backoff := redialFirstBackoff
	result := "gave_up"
	defer func() {
		r.mu.Lock()
		delete(r.away, p)
		missed := ap.missed
		r.mu.Unlock()
		gap := time.Since(ap.since)
		if result == "connected" {
			r.s.log.Info("relayed topic peer is back", slog.Any("peer", p), slog.Duration("after", gap), slog.Int("missed_messages", missed))
		} else if r.s.ctx.Err() == nil {
			r.s.log.Warn("relayed topic peer did not come back", slog.Any("peer", p), slog.Duration("after", gap), slog.Int("missed_messages", missed))
			if dial {
				r.redials.WithLabelValues(result).Inc()
			}
		}
	}()
	// go-libp2p-pubsub must have dropped the peer of the closed connection
	// first: a new connection that arrives while it still holds the dead
	// peer's stream is ignored ("already have connection to peer") and the
	// peer stays cut off until another connection comes.
	r.waitGone(p, ap.topics)
	for r.s.ctx.Err() == nil && time.Since(ap.since) < redialGiveUp {
		if !dial {
			if r.onTopics(p, ap.topics) {
				result = "connected"
				return
			}
			select {
			case <-r.s.ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		ctx, cancel := context.WithTimeout(r.s.ctx, redialDialTimeout)
		err := r.s.h.Connect(network.WithAllowLimitedConn(ctx, "pubsub-redial"), peer.AddrInfo{ID: p})
		cancel()
		if err == nil && r.waitBack(p, ap.topics) {
			result = "connected"
			r.redials.WithLabelValues(result).Inc()
			return
		}
		r.redials.WithLabelValues("failed").Inc()
		r.s.log.Debug("re-dial of a relayed topic peer failed", slog.Any("peer", p), slog.Any("err", err), slog.Duration("retry_in", backoff))
		select {
		case <-r.s.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, redialMaxBackoff)
	}
}

// waitBack waits until p is a peer of one of topics again.
func (r *redialer) waitBack(p peer.ID, topics []string) bool {
	deadline := time.Now().Add(redialRejoinWait)
	for time.Now().Before(deadline) {
		if r.onTopics(p, topics) {
			return true
		}
		if r.s.h.Network().Connectedness(p) == network.NotConnected {
			return false
		}
		select {
		case <-r.s.ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
	return false
}

// waitGone waits, at most redialGoneWait, until pub/sub no longer lists p
// on any of topics (it has processed the closed connection).
func (r *redialer) waitGone(p peer.ID, topics []string) {
	deadline := time.Now().Add(redialGoneWait)
	for time.Now().Before(deadline) {
		if !r.onTopics(p, topics) {
			return
		}
		select {
		case <-r.s.ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// onTopics reports whether pub/sub lists p on one of topics.
func (r *redialer) onTopics(p peer.ID, topics []string) bool {
	return slices.ContainsFunc(topics, func(t string) bool { return slices.Contains(r.s.ps.ListPeers(t), p) })
}
