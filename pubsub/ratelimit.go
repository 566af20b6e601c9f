package pubsub

import (
	"math"
	"sync"
	"time"

	ps "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Per-peer rate limiting of incoming messages (issue 20 row 7: one peer
// flooding 7,100 valid messages a second was not penalised, and the target
// silently dropped 39% of everything in its full validation queue).
//
// Every message in an RPC a peer sends us, its own or forwarded, takes a
// token from that peer's bucket (WithPeerRateLimit: rate per second, burst).
// Messages beyond the bucket are removed from the RPC before their
// signatures are checked or they take a place in the validation queue, are
// counted (PeerStats, the plexus_pubsub_messages_dropped_total metric with
// reason "rate_limited", a pubsub.peer_throttled event at most every
// throttleEventInterval per peer), and lower the peer's gossipsub score:
// each dropped message adds one penalty point to the app-specific score
// (P5), decaying with a half-life of penaltyHalfLife and capped at
// maxPenalty. A peer a little over its rate leaves our meshes (score < 0)
// for a while; one that floods is graylisted (score < -2500, everything it
// sends is ignored) until it stops and the penalty decays.
const (
	penaltyHalfLife       = time.Minute
	maxPenalty            = 10000
	throttleEventInterval = 5 * time.Second
	// limiterSweepInterval is how often state of peers whose penalty has
	// decayed away is forgotten.
	limiterSweepInterval = time.Minute
)

// EventPeerThrottled: messages of a peer were dropped by the per-peer rate
// limit (PeerThrottledEvent); published at most every 5 s per peer.
const EventPeerThrottled = "pubsub.peer_throttled"

// PeerThrottledEvent is the data of EventPeerThrottled.
type PeerThrottledEvent struct {
	Peer peer.ID
	// Dropped counts the peer's messages dropped since its last event;
	// Total since the node started tracking it.
	Dropped, Total uint64
	// Score is the peer's app-specific penalty now (negative).
	Penalty float64
}

type bucket struct {
	tokens    float64
	filled    time.Time
	dropped   uint64 // total
	unevented uint64 // dropped since the last event
	evented   time.Time
	penalty   float64
	decayed   time.Time
}

// peerLimiter holds the per-peer token buckets.
type peerLimiter struct {
	rate, burst float64 // rate 0: no limit
	now         func() time.Time
	onDrop      func(n int)              // metric
	onThrottle  func(PeerThrottledEvent) // event

	mu    sync.Mutex
	peers map[peer.ID]*bucket
	swept time.Time
}

func newPeerLimiter(rate, burst int) *peerLimiter {
	return &peerLimiter{rate: float64(rate), burst: float64(burst), now: time.Now,
		peers: make(map[peer.ID]*bucket), onDrop: func(int) {}, onThrottle: func(PeerThrottledEvent) {}}
}

// decayLocked brings b's penalty to now.
func (b *bucket) decayLocked(now time.Time) {
	if b.penalty > 0 {
		b.penalty *= math.Exp2(-now.Sub(b.decayed).Seconds() / penaltyHalfLife.Seconds())
		if b.penalty < 0.01 {
			b.penalty = 0
		}
	}
	b.decayed = now
}

// inspect is the RPC inspector: it removes the messages of rpc beyond its
// sender's bucket. It runs on go-libp2p-pubsub's event loop.
func (l *peerLimiter) inspect(from peer.ID, rpc *ps.RPC) error {
	n := len(rpc.Publish)
	if n == 0 || l.rate <= 0 {
		return nil
	}
	now := l.now()
	l.mu.Lock()
	b := l.peers[from]
	if b == nil {
		b = &bucket{tokens: l.burst, filled: now, decayed: now}
		l.peers[from] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.filled).Seconds()*l.rate)
	b.filled = now
	allow := min(n, int(b.tokens))
	b.tokens -= float64(allow)
	drop := n - allow
	var ev *PeerThrottledEvent
	if drop > 0 {
		b.decayLocked(now)
		b.penalty = min(maxPenalty, b.penalty+float64(drop))
		b.dropped += uint64(drop)
		b.unevented += uint64(drop)
		if now.Sub(b.evented) >= throttleEventInterval {
			ev = &PeerThrottledEvent{Peer: from, Dropped: b.unevented, Total: b.dropped, Penalty: -b.penalty}
			b.unevented, b.evented = 0, now
		}
	}
	l.sweepLocked(now)
	l.mu.Unlock()
	if drop > 0 {
		clear(rpc.Publish[allow:]) // let the dropped messages be collected
		rpc.Publish = rpc.Publish[:allow]
		l.onDrop(drop)
	}
	if ev != nil {
		l.onThrottle(*ev)
	}
	return nil
}

// sweepLocked forgets peers with a full bucket and no penalty left.
func (l *peerLimiter) sweepLocked(now time.Time) {
	if now.Sub(l.swept) < limiterSweepInterval {
		return
	}
	l.swept = now
	for p, b := range l.peers {
		b.decayLocked(now)
		if b.penalty == 0 && now.Sub(b.filled).Seconds()*l.rate+b.tokens >= l.burst {
			delete(l.peers, p)
		}
	}
}

// score is the app-specific score (P5) of p: minus its decayed penalty.
func (l *peerLimiter) score(p peer.ID) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.peers[p]
	if b == nil {
		return 0
	}
	b.decayLocked(l.now())
	return -b.penalty
}

// dropped returns every tracked peer's count of rate-limited messages.
func (l *peerLimiter) dropped() map[peer.ID]uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[peer.ID]uint64, len(l.peers))
	for p, b := range l.peers {
		if b.dropped > 0 {
			out[p] = b.dropped
		}
	}
	return out
}
