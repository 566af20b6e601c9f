// Package node assembles a Plexus node from a Config: the libp2p host
// (TCP, QUIC, WebSocket, WebTransport, WebRTC-direct; Noise and TLS; Yamux;
// identify and ping; resource and connection managers; the peer access list
// as its connection gater; a private network when Config.PSK is set), the
// Kademlia DHT (/plexus/kad/1.0.0 by default), the embedded datastore and
// every service. It is the public Go API for programs that embed Plexus:
//
//	n, err := node.New(ctx, node.Config{Config: config.Default(), Identity: key})
//	defer n.Close()
//	n.Start(ctx)
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	leveldb "github.com/ipfs/go-ds-leveldb"
	"github.com/libp2p/go-libp2p/core/crypto"
	coredisc "github.com/libp2p/go-libp2p/core/discovery"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/plexus-p2p/plexus/acl"
	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/discovery"
	"github.com/plexus-p2p/plexus/events"
	"github.com/plexus-p2p/plexus/files"
	"github.com/plexus-p2p/plexus/messaging"
	"github.com/plexus-p2p/plexus/nat"
	"github.com/plexus-p2p/plexus/pubsub"
	"github.com/plexus-p2p/plexus/records"
	"github.com/plexus-p2p/plexus/routing"
	"github.com/plexus-p2p/plexus/tunnel"
)

// The node's own events: EventStarted when Start has joined the network
// (data StartedEvent), EventStopping when Close begins (no data; the last
// event the node publishes).
const (
	EventStarted  = "node.started"
	EventStopping = "node.stopping"
)

// Version is the Plexus version; the agent version is "plexus/<Version>".
var Version = "0.1.0"

// Errors callers can test for with errors.Is; the API maps them to 4xx codes.
var (
	// ErrInvalidArgument wraps malformed input (multiaddr, peer ID, ...).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrNotFound wraps an unknown peer or missing object.
	ErrNotFound = errors.New("not found")
	// ErrUnreachable wraps a peer that could not be dialled in time.
	ErrUnreachable = errors.New("unreachable")
	// ErrClosed is returned by methods called after Close.
	ErrClosed = errors.New("node is closed")

	errSelf = fmt.Errorf("%w: that peer ID is this node itself", ErrInvalidArgument)
)

// Config is everything node.New needs. Only Identity is required; the zero
// config.Config is replaced by config.Default().
type Config struct {
	config.Config
	// Identity is the node's private key (required).
	Identity crypto.PrivKey
	// Datastore is shared by every service. Nil: LevelDB at DatastorePath,
	// or an in-memory store when DatastorePath is empty too.
	Datastore datastore.Batching
	// DatastorePath is the LevelDB directory used when Datastore is nil.
	DatastorePath string
	// BlocksPath is the flatfs directory of the files service's blocks.
	// Empty: "blocks" next to DatastorePath, or memory when that is empty too.
	BlocksPath string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registry receives libp2p's and the node's metrics. Nil: a new registry.
	Registry *prometheus.Registry
	// Events is the bus the node publishes to. Nil: a new bus.
	Events *events.Bus
	// PSK is the pre-shared key of a private network (32 bytes; the daemon
	// reads it from <repo>/swarm.key). Nil, the default: a public node.
	// With a key the node talks only to nodes with the same key, and only
	// over TCP and WebSocket: go-libp2p's private networks do not support
	// QUIC, WebTransport or WebRTC-direct, which are turned off (Info.Private
	// lists them).
	PSK pnet.PSK
}

// Node is a running Plexus node.
type Node struct {
	cfg     Config
	log     *slog.Logger
	ds      datastore.Batching
	bus     *events.Bus
	reg     *prometheus.Registry
	nat     *nat.Service
	acl     *acl.List
	private PrivateNetwork
	started time.Time
	bw      *metrics.BandwidthCounter // bytes in and out of every stream

	// The host and the services, in the order New creates them.
	host    host.Host
	routing *routing.Service
	amino   *routing.Service  // nil when dht.amino is off
	router  *routing.Combined // routing and amino
	disc    *discovery.Service
	records *records.Service
	ps      *pubsub.Service
	msg     *messaging.Service
	tunnels *tunnel.Service
	files   *files.Service

	handlersMu sync.Mutex // AddHTTPHandler and RemoveHandler, with their saved registrations

	// topicDiscovery finds other subscribers of a topic across the network
	// (DHT rendezvous); nil means directly connected peers only.
	topicDiscovery coredisc.Discovery

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	closers []func() error // run in reverse order by Close
	closed  bool
	done    chan struct{}
}

// New builds the node: datastore, host, DHT and every service. The host listens as soon as
// New returns; call Start to join the network.
func New(ctx context.Context, cfg Config) (_ *Node, err error) {
	if cfg.Identity == nil {
		return nil, errors.New("node: Config.Identity is required")
	}
	if cfg.Network.Listen == nil && cfg.DHT.Mode == "" {
		cfg.Config = config.Default()
	}
	if err := cfg.Config.Validate(); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	private, err := applyPSK(cfg.PSK, &cfg.Config)
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Events == nil {
		cfg.Events = events.New()
	}
	n := &Node{
		cfg:     cfg,
		private: private,
		log:     cfg.Logger.With("component", "node"),
		bus:     cfg.Events,
		reg:     cfg.Registry,
		started: time.Now(),
		bw:      metrics.NewBandwidthCounter(),
		done:    make(chan struct{}),
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			n.Close()
		}
	}()

	if cfg.Datastore != nil {
		n.ds = cfg.Datastore
	} else if cfg.DatastorePath != "" {
		lds, err := leveldb.NewDatastore(cfg.DatastorePath, nil)
		if err != nil {
			return nil, fmt.Errorf("open datastore %s: %w", cfg.DatastorePath, err)
		}
		n.ds = lds
		n.addCloser(lds.Close)
	} else {
		n.ds = dssync.MutexWrap(datastore.NewMapDatastore())
	}

	// The NAT service comes with the host options it watches.
	natSvc, natOpts, err := nat.New(natConfig(cfg.NAT), nat.Options{Logger: cfg.Logger, Events: n.bus, Metrics: n.reg,
		Private: n.privateStatus})
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	n.nat = natSvc
	// The access list gates every connection of the host.
	if err := n.newACL(ctx); err != nil {
		return nil, err
	}
	if n.host, err = newHost(cfg, n.reg, natOpts, natDialGater{n.acl, natSvc}, n.bw); err != nil {
		return nil, err
	}
	n.addCloser(n.host.Close)
	n.acl.Attach(n.host.Network())
	n.addCloser(n.acl.Close)
	n.logPrivate()

	if err := n.newRouting(); err != nil {
		return nil, err
	}
	if err := n.newDiscovery(); err != nil {
		return nil, err
	}

	if err := n.startRecords(); err != nil {
		return nil, err
	}
	if err := n.startPubSub(ctx); err != nil {
		return nil, err
	}
	if err := n.startMessaging(); err != nil {
		return nil, err
	}
	if err := n.startPerf(); err != nil {
		return nil, err
	}
	if err := n.startTunnels(); err != nil {
		return nil, err
	}
	if err := n.startNAT(); err != nil {
		return nil, err
	}
	if err := n.startFiles(); err != nil {
		return nil, err
	}
	registerMetrics(n)
	n.startExplorer()
	n.watch()
	n.log.Info("node ready", "peer", n.host.ID(), "addrs", n.host.Addrs())
	return n, nil
}

// Start joins the network: it dials the configured bootstrap peers (with
// backoff; failures are logged, published and retried, not returned) and the
// peers it knew before a restart, refreshes the routing table, and starts
// mDNS when enabled. With no bootstrap peers and no known peers the node is
// the first node of a new network.
func (n *Node) Start(ctx context.Context) error {
	if n.isClosed() {
		return ErrClosed
	}
	if len(n.cfg.Network.Bootstrap) == 0 {
		n.log.Info("no bootstrap peers configured: running as a bootstrap node (the first node of a new network)")
	}
	if err := n.disc.Start(n.ctx); err != nil {
		return err
	}
	n.bus.Publish(EventStarted, StartedEvent{Peer: n.host.ID()})
	return nil
}

// Host returns the libp2p host.
func (n *Node) Host() host.Host { return n.host }

// Datastore returns the datastore shared by every service.
func (n *Node) Datastore() datastore.Batching { return n.ds }

// Events returns the node's event bus.
func (n *Node) Events() *events.Bus { return n.bus }

// Registry returns the Prometheus registry with libp2p's and the node's metrics.
func (n *Node) Registry() *prometheus.Registry { return n.reg }

// Config returns the configuration the node runs with.
func (n *Node) Config() config.Config { return n.cfg.Config }

// ID returns the node's peer ID.
func (n *Node) ID() peer.ID { return n.host.ID() }

// Done is closed when the node has been closed.
func (n *Node) Done() <-chan struct{} { return n.done }

func (n *Node) addCloser(f func() error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closers = append(n.closers, f)
}

func (n *Node) isClosed() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.closed
}

// Close stops every service in reverse order of creation and closes the
// datastore. It is idempotent and safe after a failed New.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	closers := n.closers
	n.closers = nil
	n.mu.Unlock()

	n.bus.Publish(EventStopping, nil)
	n.cancel()
	n.wg.Wait() // watchers end with n.ctx
	var errs []error
	for i := len(closers) - 1; i >= 0; i-- {
		if err := closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	close(n.done)
	return errors.Join(errs...)
}
