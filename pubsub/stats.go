package pubsub

import (
	"cmp"
	"slices"
	"strings"
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
)

// PeerStat is a peer's standing with this node's pub/sub router.
type PeerStat struct {
	Peer peer.ID
	// Score is the peer's gossipsub score as of the last refresh
	// (WithScoreInspectInterval); 0 under floodsub. Below 0 the peer is
	// kept out of our meshes, below GraylistScoreThreshold everything it
	// sends is ignored.
	Score float64
	// RateLimited counts the peer's messages dropped by the per-peer rate
	// limit (WithPeerRateLimit).
	RateLimited uint64
	// State is what the score does to the peer, from the router's own
	// thresholds: StateOutOfMesh, StateGraylisted, or "" (nothing).
	State string
}

// The states of PeerStat.State.
const (
	StateOutOfMesh  = "out of mesh" // score < 0: not grafted into, and pruned from, our meshes
	StateGraylisted = "graylisted"  // score < the graylist threshold: everything it sends is ignored
)

// scoreState is what score does to a peer under gossipsub scoring with
// graylist as the graylist threshold.
func scoreState(score, graylist float64) string {
	switch {
	case score < graylist:
		return StateGraylisted
	case score < 0:
		return StateOutOfMesh
	}
	return ""
}

// PeerStats lists every peer the router scores or has rate-limited, lowest
// score first.
func (s *Service) PeerStats() []PeerStat {
	scores := s.PeerScores()
	dropped := s.limiter.dropped()
	out := make([]PeerStat, 0, len(scores)+len(dropped))
	for p, sc := range scores {
		out = append(out, PeerStat{Peer: p, Score: sc, RateLimited: dropped[p], State: scoreState(sc, s.graylist)})
	}
	for p, d := range dropped {
		if _, ok := scores[p]; !ok {
			out = append(out, PeerStat{Peer: p, RateLimited: d})
		}
	}
	slices.SortFunc(out, func(a, b PeerStat) int {
		return cmp.Or(cmp.Compare(a.Score, b.Score), strings.Compare(string(a.Peer), string(b.Peer)))
	})
	return out
}

// metrics are the pub/sub router's Prometheus metrics (WithMetrics).
type metrics struct {
	dropped *prometheus.CounterVec
	mu      sync.Mutex
	reasons map[string]prometheus.Counter
}

// dropReasons maps go-libp2p-pubsub's rejection reasons to metric labels.
var dropReasons = map[string]string{
	"validation queue full":   "validation_queue_full",
	"validation throttled":    "validation_throttled",
	"validation failed":       "invalid",
	"validation ignored":      "ignored",
	"missing signature":       "invalid_signature",
	"invalid signature":       "invalid_signature",
	"unexpected signature":    "invalid_signature",
	"unexpected auth info":    "invalid_signature",
	"blacklisted peer":        "blacklisted",
	"blacklisted source":      "blacklisted",
	"self originated message": "self_originated",
}

func newMetrics(reg prometheus.Registerer, s *Service) *metrics {
	m := &metrics{
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "plexus_pubsub_messages_dropped_total",
			Help: "Incoming pub/sub messages dropped, by reason: rate_limited (the per-peer rate limit, pubsub.peer_rate_limit), validation_queue_full and validation_throttled (the node could not keep up), invalid_signature, invalid, ignored, blacklisted, self_originated, other.",
		}, []string{"reason"}),
		reasons: make(map[string]prometheus.Counter),
	}
	// The rate limit's series exists from the start, at 0, so a scrape
	// shows that nothing was dropped rather than nothing at all.
	m.dropped.WithLabelValues("rate_limited")
	if reg == nil {
		return m
	}
	below := func(threshold float64) func() float64 {
		return func() float64 {
			n := 0
			for _, sc := range s.PeerScores() {
				if sc < threshold {
					n++
				}
			}
			return float64(n)
		}
	}
	reg.MustRegister(m.dropped,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "plexus_pubsub_peers_scored", Help: "Peers the gossipsub router scores.",
		}, func() float64 { return float64(len(s.PeerScores())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "plexus_pubsub_peers_negative_score", Help: "Peers with a gossipsub score below 0 (kept out of meshes).",
		}, below(0)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "plexus_pubsub_peers_graylisted", Help: "Peers with a gossipsub score below the graylist threshold (everything they send is ignored).",
		}, below(GraylistScoreThreshold)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "plexus_pubsub_peer_score_min", Help: "The lowest gossipsub peer score (0 with no scored peer).",
		}, func() float64 {
			low := 0.0
			for _, sc := range s.PeerScores() {
				low = min(low, sc)
			}
			return low
		}),
	)
	return m
}

// drop counts n messages dropped for a go-libp2p-pubsub reason or
// "rate_limited".
func (m *metrics) drop(reason string, n int) {
	label, ok := dropReasons[reason]
	if !ok {
		label = reason
		if reason != "rate_limited" {
			label = "other"
		}
	}
	m.mu.Lock()
	c := m.reasons[label]
	if c == nil {
		c = m.dropped.WithLabelValues(label)
		m.reasons[label] = c
	}
	m.mu.Unlock()
	c.Add(float64(n))
}
