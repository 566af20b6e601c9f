package pubsub

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	ps "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/discovery"
	"github.com/prometheus/client_golang/prometheus"

	pconfig "github.com/plexus-p2p/plexus/config"
)

// Router names accepted by WithRouter.
const (
	// RouterGossipSub speaks gossipsub v1.3/v1.2/v1.1/v1.0 with peer scoring, and
	// falls back to floodsub for peers that only speak /floodsub/1.0.0.
	RouterGossipSub = pconfig.PubSubRouterGossipSub
	// RouterFloodSub speaks only /floodsub/1.0.0, for networks of old floodsub peers.
	RouterFloodSub = pconfig.PubSubRouterFloodSub
)

// Defaults of the options. Those that are settings of the configuration file
// (package config) are written once there.
const (
	// DefaultMaxMessageSize is the largest payload a message may carry: 1 MiB.
	DefaultMaxMessageSize = pconfig.DefaultPubSubMaxMessageSize
	// DefaultPublishWait bounds how long Publish waits for a peer on the topic.
	DefaultPublishWait = pconfig.DefaultPubSubPublishWait
	// DefaultSubscriberBuffer is the buffer of a local Subscription when
	// Subscribe is given buf <= 0.
	DefaultSubscriberBuffer = 64
	// MaxSubscriberBuffer is the largest buffer a local Subscription may ask for.
	MaxSubscriberBuffer = 1 << 16
	// DefaultScoreInspectInterval is how often PeerScores is refreshed.
	DefaultScoreInspectInterval = 5 * time.Second

	// envelopeAllowance is added to the payload limit to get the wire limit
	// handed to go-libp2p-pubsub: it covers the topic (at most 256 bytes),
	// author, seqno, public key and signature of one message (under 3 KiB even
	// for RSA-8192 keys) plus protobuf framing.
	envelopeAllowance = 4 << 10
	// maxMaxMessageSize caps WithMaxMessageSize: pubsub amplifies every
	// message D times, so large payloads belong in files/, not here.
	maxMaxMessageSize = pconfig.MaxPubSubMaxMessageSize
	// topicSubscriptionBuffer is the buffer of the one go-libp2p-pubsub
	// subscription per topic; its reader never blocks.
	topicSubscriptionBuffer = 256
	// maxTopicsPerPeer bounds how many topic subscriptions of one remote peer
	// are tracked; further subscriptions from that peer are ignored.
	maxTopicsPerPeer = 512
)

type config struct {
	router          string
	maxMessageSize  int
	publishWait     time.Duration
	disc            discovery.Discovery
	events          Publisher
	logger          *slog.Logger
	gossipParams    *ps.GossipSubParams
	scoreParams     *ps.PeerScoreParams
	scoreThresholds *ps.PeerScoreThresholds
	topicScore      *ps.TopicScoreParams
	inspectInterval time.Duration
	extra           []ps.Option
	peerRate        int
	peerBurst       int
	meshFastest     int
	metrics         prometheus.Registerer
}

func defaultConfig() config {
	return config{
		router:          RouterGossipSub,
		maxMessageSize:  DefaultMaxMessageSize,
		publishWait:     DefaultPublishWait,
		inspectInterval: DefaultScoreInspectInterval,
		meshFastest:     DefaultMeshFastest,
	}
}

// FromConfig returns the options a node's [pubsub] config section sets:
// router, message size, publish wait, per-peer rate limit and the mesh
// latency preference. A node and the simulation (package sim) both start
// from it, so that a new setting reaches both.
func FromConfig(c pconfig.PubSub) []Option {
	return []Option{
		WithRouter(c.Router),
		WithMaxMessageSize(c.MaxMessageSize),
		WithPublishWait(time.Duration(c.PublishWait)),
		WithPeerRateLimit(c.PeerRateLimit, c.PeerBurst),
		WithMeshLatency(c.MeshFastest),
	}
}

// DefaultMeshFastest is how many topic peers, the fastest by round trip,
// the meshes may take by default (WithMeshLatency).
const DefaultMeshFastest = pconfig.DefaultPubSubMeshFastestPeers

// WithMeshLatency makes the gossipsub meshes prefer low-latency peers: the
// fastest topic peers by round trip (measured with libp2p ping) get a small
// score bonus, and the others, beyond the fastest, score -1, which keeps
// them out of this node's meshes but still sends them gossip and this
// node's own messages (see meshLatency). 0 turns it off: meshes take any
// peer scored 0 or more, at random. Default DefaultMeshFastest. Ignored by
// the floodsub router.
func WithMeshLatency(fastest int) Option {
	return func(c *config) error {
		if fastest < 0 || fastest > pconfig.MaxPubSubMeshFastestPeers {
			return fmt.Errorf("pubsub mesh latency: %d fastest peers: must be in [0, %d]", fastest, pconfig.MaxPubSubMeshFastestPeers)
		}
		c.meshFastest = fastest
		return nil
	}
}

// Option configures a Service.
type Option func(*config) error

// WithRouter selects the router: RouterGossipSub (default) or RouterFloodSub.
func WithRouter(name string) Option {
	return func(c *config) error {
		switch name {
		case RouterGossipSub, RouterFloodSub:
			c.router = name
			return nil
		}
		return fmt.Errorf("pubsub router %q: want %q or %q", name, RouterGossipSub, RouterFloodSub)
	}
}

// WithMaxMessageSize sets the largest payload (Data) of a message, in bytes;
// default DefaultMaxMessageSize (1 MiB). Publish refuses larger payloads with
// ErrTooLarge. The wire limit given to go-libp2p-pubsub is this plus 4 KiB
// for the signed envelope, so peers with a plain 1 MiB wire limit drop
// payloads within 4 KiB of 1 MiB.
func WithMaxMessageSize(n int) Option {
	return func(c *config) error {
		if n < 1 || n > maxMaxMessageSize {
			return fmt.Errorf("pubsub max message size %d: must be in [1, %d]", n, maxMaxMessageSize)
		}
		c.maxMessageSize = n
		return nil
	}
}

// WithPublishWait bounds how long Publish waits for a first peer on the topic
// (a mesh peer under gossipsub, a topic peer under floodsub) before publishing
// anyway; default DefaultPublishWait (5s); 0 publishes at once.
func WithPublishWait(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("pubsub publish wait %s: must not be negative", d)
		}
		c.publishWait = d
		return nil
	}
}

// WithDiscovery lets pubsub find and advertise topic peers through d (for
// example DHT rendezvous, discovery.Rendezvous); default none: only directly
// connected peers are used. A nil d is the default. go-libp2p-pubsub
// advertises and looks up a topic under the namespace "floodsub:<topic>",
// which ValidateTopicName keeps within discovery.MaxTopicLen.
func WithDiscovery(d discovery.Discovery) Option {
	return func(c *config) error {
		c.disc = d
		return nil
	}
}

// WithEvents sets where events are published; default nil (no events).
func WithEvents(p Publisher) Option {
	return func(c *config) error {
		c.events = p
		return nil
	}
}

// WithLogger sets the logger; default slog.Default() with component=pubsub.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		c.logger = l
		return nil
	}
}

// DefaultGossipSubParams are the gossipsub parameters a Service uses unless
// WithGossipSubParams replaces them: go-libp2p-pubsub's defaults with a
// smaller mesh, D 5 (Dlo 4, Dhi 7) instead of 6 (5, 12), with Dout 1 and
// Dscore 5 (go-libp2p-pubsub wants Dout < D/2 and Dscore <= Dhi): when a
// mesh reaches Dhi, pruning keeps the best scored, which with the mesh
// latency preference (WithMeshLatency, on by default) are the fastest.
//
// A node forwards each message to all its mesh peers but the one it came
// from, so the duplicates it receives grow with the mesh's degree: about
// the mean degree less 2. On BenchmarkGossipLatency's 100 nodes (each
// connected to ~8 others, links of 20-200 ms, 300 messages) the v0.19
// defaults let meshes grow to nearly all ~8 neighbours (mean degree 7.5)
// and a node received 5.4-5.6 copies per message beyond the first. A mesh
// of D 5 made of random peers receives about 2.5 but its paths are longer:
// the p99 time to all was 8-27% above v0.19's. Made of each node's fastest
// peers (these parameters with the latency preference), the mean degree was
// 4.7-4.9 and a node received 2.86-3.06 copies (median 2.94, twelve runs;
// two above 3), with a p99 from 7% below to 12% above v0.19's (median 2%
// above; one above 10%) and a p50 1-7% above. With the preference, D 4
// (Dlo 4) gave 2.6-2.9 copies with a p99 0-23% above, Dhi 6 gave 2.4-2.5
// but a p99 16% and 96% above in two of four runs, and preferring only the
// 5 fastest gave 2.2-2.3 with a p99 11-12% above: a smaller mesh means
// longer paths and a longer tail. Gossip (IHAVE/IWANT) adds no duplicates
// (Dlazy 0 changes nothing). IDONTWANT (gossipsub v1.2) is on with its
// default 1 KiB threshold; sent for every message, small ones included, it
// removed only about a tenth of the duplicates and, for 256-byte messages,
// sent more bytes than it saved. Flood publishing stays on (see New). The
// message-id function is go-libp2p-pubsub's default (author and sequence
// number), which js-libp2p and rust-libp2p share.
func DefaultGossipSubParams() ps.GossipSubParams {
	p := ps.DefaultGossipSubParams()
	p.D, p.Dlo, p.Dhi, p.Dout, p.Dscore = 5, 4, 7, 1, 5
	return p
}

// WithGossipSubParams replaces the default gossipsub parameters
// (DefaultGossipSubParams), e.g. a faster heartbeat in tests; start from
// DefaultGossipSubParams to keep the others. Ignored by the floodsub router.
func WithGossipSubParams(p ps.GossipSubParams) Option {
	return func(c *config) error {
		c.gossipParams = &p
		return nil
	}
}

// WithPeerScore replaces DefaultPeerScoreParams and DefaultPeerScoreThresholds.
// The Topics map of params is filled in on Join. Ignored by floodsub.
func WithPeerScore(params *ps.PeerScoreParams, thresholds *ps.PeerScoreThresholds) Option {
	return func(c *config) error {
		if params == nil || thresholds == nil {
			return errors.New("pubsub peer score: params and thresholds must not be nil")
		}
		c.scoreParams = params
		c.scoreThresholds = thresholds
		return nil
	}
}

// WithTopicScoreParams replaces DefaultTopicScoreParams, the score parameters
// applied to every topic on Join. Ignored by floodsub.
func WithTopicScoreParams(p *ps.TopicScoreParams) Option {
	return func(c *config) error {
		if p == nil {
			return errors.New("pubsub topic score params must not be nil")
		}
		c.topicScore = p
		return nil
	}
}

// WithScoreInspectInterval sets how often the snapshot returned by PeerScores
// is refreshed; default DefaultScoreInspectInterval (5s).
func WithScoreInspectInterval(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("pubsub score inspect interval %s: must be positive", d)
		}
		c.inspectInterval = d
		return nil
	}
}

// WithPubSubOptions appends raw go-libp2p-pubsub options (for example
// ps.WithRawTracer) after the ones this package sets; default none. Options
// that contradict this package's guarantees (signing policy, size limits)
// are the caller's responsibility.
func WithPubSubOptions(opts ...ps.Option) Option {
	return func(c *config) error {
		c.extra = append(c.extra, opts...)
		return nil
	}
}

// WithPeerRateLimit limits the messages each peer may send us, its own and
// forwarded ones together, to rate per second with bursts of burst; the
// excess is dropped before validation, counted and penalised (see
// EventPeerThrottled). Default: no limit (the node sets pubsub.peer_rate_limit
// and pubsub.peer_burst). rate 0 turns the limit off.
func WithPeerRateLimit(rate, burst int) Option {
	return func(c *config) error {
		if rate < 0 || rate > pconfig.MaxPubSubPeerRateLimit {
			return fmt.Errorf("pubsub peer rate limit %d: must be in [0, %d]", rate, pconfig.MaxPubSubPeerRateLimit)
		}
		if burst < 1 || burst > pconfig.MaxPubSubPeerBurst {
			return fmt.Errorf("pubsub peer burst %d: must be in [1, %d]", burst, pconfig.MaxPubSubPeerBurst)
		}
		c.peerRate, c.peerBurst = rate, burst
		return nil
	}
}

// WithMetrics registers the router's metrics with reg: messages dropped by
// reason (plexus_pubsub_messages_dropped_total) and peer score gauges.
// Default: none.
func WithMetrics(reg prometheus.Registerer) Option {
	return func(c *config) error {
		c.metrics = reg
		return nil
	}
}
