// Package pubsub gives the node publish/subscribe topics over libp2p.
//
// It runs go-libp2p-pubsub with the gossipsub router (protocols
// /meshsub/1.3.0, /meshsub/1.2.0, /meshsub/1.1.0, /meshsub/1.0.0, and
// /floodsub/1.0.0 for floodsub-only peers) with peer scoring on, or, when
// configured with WithRouter(RouterFloodSub), the plain floodsub router
// (/floodsub/1.0.0 only).
//
// Every message is signed by its author and verified by every receiver
// (StrictSign); unsigned or badly signed messages are dropped and count
// against the peer that forwarded them (see DefaultTopicScoreParams).
// Duplicates are suppressed by pubsub's seen-message cache. Payloads are
// limited (WithMaxMessageSize, 1 MiB by default) and every buffer is bounded:
// a slow local subscriber loses messages, and is told how many, but never
// holds up the others.
//
// A Service joins one go-libp2p-pubsub topic per topic name, with one
// underlying subscription whose messages are fanned out to any number of
// local Subscriptions.
package pubsub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"

	ps "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

var (
	// ErrClosed is returned by methods called after Close.
	ErrClosed = errors.New("pubsub service closed")
	// ErrInvalidTopic is returned for a topic name that ValidateTopicName rejects.
	ErrInvalidTopic = errors.New("invalid topic name")
	// ErrTooLarge is returned by Publish for a payload over the maximum message size.
	ErrTooLarge = errors.New("message too large")
	// ErrNotJoined is returned by Leave for a topic that is not joined.
	ErrNotJoined = errors.New("topic not joined")
)

// Service owns a go-libp2p-pubsub router on a host and the topics the node
// has joined.
type Service struct {
	h      host.Host
	ps     *ps.PubSub
	cfg    config
	log    *slog.Logger
	tr     *tracker
	filter *subFilter
	notify network.Notifiee
	protos []protocol.ID

	ctx    context.Context // lifetime of the router; cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // topic readers

	mu     sync.Mutex
	closed bool
	topics map[string]*topicState

	scoresMu sync.Mutex
	scores   map[peer.ID]float64
	graylist float64 // the graylist threshold (gossipsub scoring)

	limiter *peerLimiter // per-peer message rate limit
	metrics *metrics
	redial  *redialer    // relayed-only topic peers (redial.go)
	latency *meshLatency // nil when off (latency.go)
}

// New starts a pubsub router on h. ctx is used only while constructing: the
// router's goroutines (go-libp2p-pubsub's event loop, heartbeat, validation
// workers, and one reader per joined topic) run until Close.
func New(ctx context.Context, h host.Host, opts ...Option) (*Service, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	log := cfg.logger
	if log == nil {
		log = slog.Default().With(slog.String("component", "pubsub"))
	}

	s := &Service{
		h:      h,
		cfg:    cfg,
		log:    log,
		tr:     newTracker(),
		filter: newSubFilter(maxTopicsPerPeer),
		topics: make(map[string]*topicState),
	}
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.metrics = newMetrics(cfg.metrics, s)
	s.tr.onReject = func(reason string) { s.metrics.drop(reason, 1) }
	s.limiter = newPeerLimiter(cfg.peerRate, cfg.peerBurst)
	s.limiter.onDrop = func(n int) { s.metrics.drop("rate_limited", n) }
	s.limiter.onThrottle = func(ev PeerThrottledEvent) {
		s.log.Warn("peer over its pub/sub rate limit: messages dropped", slog.Any("peer", ev.Peer),
			slog.Uint64("dropped", ev.Dropped), slog.Uint64("total", ev.Total), slog.Float64("penalty", ev.Penalty))
		s.emit(EventPeerThrottled, ev)
	}

	psOpts := []ps.Option{
		// Before anything else looks at an RPC: drop the messages beyond
		// the sender's rate limit.
		ps.WithAppSpecificRpcInspector(s.limiter.inspect),
		ps.WithMessageSignaturePolicy(ps.StrictSign),
		ps.WithMaxMessageSize(cfg.maxMessageSize + envelopeAllowance),
		ps.WithSubscriptionFilter(s.filter),
		ps.WithRawTracer(s.tr),
		ps.WithLogger(log.With(slog.String("system", "go-libp2p-pubsub"))),
	}
	if cfg.disc != nil {
		psOpts = append(psOpts, ps.WithDiscovery(cfg.disc))
	}

	var err error
	switch cfg.router {
	case RouterFloodSub:
		s.protos = []protocol.ID{ps.FloodSubID}
		psOpts = append(psOpts, cfg.extra...)
		s.ps, err = ps.NewFloodsubWithProtocols(s.ctx, h, s.protos, psOpts...)
	default:
		rt := ps.DefaultGossipSubRouter(h)
		s.protos = rt.Protocols()
		params, thresholds := cfg.scoreParams, cfg.scoreThresholds
		if params == nil {
			params, thresholds = DefaultPeerScoreParams(), DefaultPeerScoreThresholds()
		}
		s.graylist = thresholds.GraylistThreshold
		if params.Topics == nil {
			params.Topics = make(map[string]*ps.TopicScoreParams)
		}
		// The rate limiter's penalty and the mesh latency preference join
		// the app-specific score (P5).
		pc := *params
		params = &pc
		app := params.AppSpecificScore
		if app == nil {
			app = func(peer.ID) float64 { return 0 }
		}
		if cfg.meshFastest > 0 {
			s.latency = newMeshLatency(h, cfg.meshFastest, s.topicPeers)
			s.tr.onPrune = s.latency.prunedBy
		}
		params.AppSpecificScore = func(p peer.ID) float64 { return app(p) + s.limiter.score(p) + s.latency.score(p) }
		if cfg.topicScore == nil {
			s.cfg.topicScore = DefaultTopicScoreParams()
		}
		// Flood publishing: our own messages go to every topic peer (scored
		// above PublishScoreThreshold), not only to the mesh, so a peer that
		// is not grafted yet still gets them; go-libp2p-pubsub v0.19 leaves
		// it off unless asked.
		psOpts = append(psOpts, rt.WithDefaultTagTracer(), ps.WithFloodPublish(true))
		gp := DefaultGossipSubParams()
		if cfg.gossipParams != nil {
			gp = *cfg.gossipParams
		}
		psOpts = append(psOpts, ps.WithGossipSubParams(gp))
		psOpts = append(psOpts,
			ps.WithPeerScore(params, thresholds),
			ps.WithPeerScoreInspect(ps.PeerScoreInspectFn(s.storeScores), cfg.inspectInterval),
		)
		psOpts = append(psOpts, cfg.extra...)
		s.ps, err = ps.NewGossipSubWithRouter(s.ctx, h, rt, psOpts...)
	}
	if err != nil {
		s.cancel()
		return nil, fmt.Errorf("start %s router: %w", cfg.router, err)
	}
	s.redial = newRedialer(s, cfg.metrics)
	if s.latency != nil {
		s.wg.Go(func() { s.latency.run(s.ctx) })
	}
	forget := s.filter.notifiee()
	s.notify = &network.NotifyBundle{DisconnectedF: func(n network.Network, c network.Conn) {
		s.redial.disconnected(n, c) // reads the peer's topics before the filter forgets them
		forget.Disconnected(n, c)
	}}
	h.Network().Notify(s.notify)
	return s, nil
}

// Close leaves every topic (closing all local Subscriptions), stops the
// router and removes its protocol handlers. It is idempotent.
func (s *Service) Close() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	topics := s.topics
	s.topics = nil
	for _, ts := range topics {
		s.leaveLocked(ts)
	}
	s.mu.Unlock()

	s.cancel()
	s.wg.Wait()
	for _, p := range s.protos {
		s.h.RemoveStreamHandler(p)
	}
	s.h.Network().StopNotify(s.notify)
	return nil
}

// topicPeers lists the peers of every joined topic, each once.
func (s *Service) topicPeers() []peer.ID {
	s.mu.Lock()
	names := slices.Collect(maps.Keys(s.topics))
	s.mu.Unlock()
	var out []peer.ID
	seen := map[peer.ID]bool{}
	for _, t := range names {
		for _, p := range s.ps.ListPeers(t) {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// PeerScores returns the gossipsub score of every peer the router tracks, as
// of the last refresh (WithScoreInspectInterval). It returns nil under floodsub.
func (s *Service) PeerScores() map[peer.ID]float64 {
	s.scoresMu.Lock()
	defer s.scoresMu.Unlock()
	return maps.Clone(s.scores)
}

func (s *Service) storeScores(m map[peer.ID]float64) {
	c := maps.Clone(m)
	if c == nil {
		c = make(map[peer.ID]float64)
	}
	s.scoresMu.Lock()
	s.scores = c
	s.scoresMu.Unlock()
}
