// Package nat gets a Plexus node across NATs and tells the user how well
// that works. It configures go-libp2p's NAT traversal (HostOptions) and
// watches it once the host runs (Service):
//
//   - AutoNAT v1 (/libp2p/autonat/1.0.0, client and rate-limited service)
//     and v2 (/libp2p/autonat/2/dial-request, per address) find out whether
//     the node is publicly reachable;
//   - circuit relay v2 (/libp2p/circuit/relay/0.2.0/hop and /stop): the
//     relay service on public nodes, and AutoRelay on private ones, fed with
//     static relays, known peers that offer the service and the DHT;
//   - DCUtR hole punching (/libp2p/dcutr) upgrades relayed connections to
//     direct TCP or QUIC ones; every attempt is traced, logged and published;
//   - UPnP / NAT-PMP port mapping (go-libp2p's NAT manager).
//
// Service.Status is the connectivity doctor behind "plexus nat status":
// reachability per address, observed addresses, the NAT's mapping behaviour
// when it can be inferred, port mappings, relay reservations with expiry,
// hole punch attempts and success rate, peers reached only through a relay
// and why, and concrete advice.
package nat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	"github.com/prometheus/client_golang/prometheus"
)

// Publisher receives the events this package emits; the node passes its event bus.
type Publisher interface {
	Publish(typ string, data any)
}

// Reachability values of Config.Reachability.
const (
	ReachabilityAuto    = "auto"
	ReachabilityPublic  = "public"
	ReachabilityPrivate = "private"
)

// Config selects the NAT traversal features. The zero Config turns
// everything off; the node fills it from its config file, whose defaults
// turn everything on.
type Config struct {
	// Reachability is "auto" (AutoNAT decides), "public" or "private".
	// Empty means "auto".
	Reachability string
	// PortMapping asks the router for mappings with UPnP / NAT-PMP.
	PortMapping bool
	// AutoNATService answers other nodes' AutoNAT v1 requests.
	AutoNATService bool
	// AutoNATv2 enables the per-address AutoNAT v2 client and server.
	AutoNATv2 bool
	// HolePunching enables DCUtR.
	HolePunching bool
	// RelayService serves circuit relay v2 while the node is public.
	RelayService bool
	// RelayResources are the relay service's limits. The zero value means
	// go-libp2p's defaults (relayv2.DefaultResources).
	RelayResources relayv2.Resources
	// AutoRelay looks for relays while the node is private.
	AutoRelay bool
	// StaticRelays are tried first (AutoRelay runs when any are given).
	StaticRelays []peer.AddrInfo
	// RelayCount is the number of reservations AutoRelay keeps. Default 2.
	RelayCount int
}

// ClosestPeersFunc asks the DHT for the peers closest to key, as
// (*dht.IpfsDHT).GetClosestPeers does. AutoRelay uses it to discover relays.
type ClosestPeersFunc func(ctx context.Context, key string) ([]peer.ID, error)

// Options are what New needs besides the host.
type Options struct {
	// Config must be the one HostOptions built the host with.
	Config Config
	// Logger defaults to slog.Default(); a component attr is added.
	Logger *slog.Logger
	// Events receives the package's events (nil: none).
	Events Publisher
	// Metrics, when set, is read for AutoNAT v1's confidence, which
	// go-libp2p reports only as a metric. It must be the registry the host
	// registered its metrics with (libp2p.PrometheusRegisterer).
	Metrics prometheus.Gatherer
	// ClosestPeers lets AutoRelay find relay candidates through the DHT
	// (nil: only static relays and known peers).
	ClosestPeers ClosestPeersFunc
}

// Service watches the host's NAT traversal and keeps the state the doctor
// reports. New subscribes to the host's events; Start starts the goroutine
// that handles them; Close stops it.
type Service struct {
	h     host.Host
	cfg   Config
	log   *slog.Logger
	pub   Publisher
	gath  prometheus.Gatherer
	hooks *hooks
	sub   event.Subscription
	start time.Time

	mu             sync.Mutex
	reach          network.Reachability
	reachSince     time.Time
	history        []ReachabilityChange
	v2             addrSets
	libp2pTypes    map[string]string // transport -> go-libp2p's NAT device type
	observed       *observations
	rsvps          map[peer.ID]*Reservation
	punch          punchStats
	relayedAt      map[peer.ID]time.Time // first relayed connection of a peer without a direct one
	upgrades       []time.Duration
	recentUpgrades []UpgradeEvent
	mappings       []PortMappingEntry

	notifiee *network.NotifyBundle
	stop     chan struct{}
	wg       sync.WaitGroup
	once     sync.Once
	started  bool
}

// New watches h's NAT traversal. h must have been built with
// HostOptions(o.Config) for hole punching, relay and port mapping state; on
// another host only reachability and observed addresses are reported. New
// starts no goroutines.
func New(h host.Host, o Options) (*Service, error) {
	if h == nil {
		return nil, errors.New("nat: host is nil")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Service{
		h:           h,
		cfg:         o.Config,
		log:         o.Logger.With("component", "nat"),
		pub:         o.Events,
		gath:        o.Metrics,
		start:       time.Now(),
		reach:       network.ReachabilityUnknown,
		reachSince:  time.Now(),
		libp2pTypes: map[string]string{},
		observed:    newObservations(),
		rsvps:       map[peer.ID]*Reservation{},
		relayedAt:   map[peer.ID]time.Time{},
		stop:        make(chan struct{}),
	}
	var err error
	if s.cfg.Reachability == "" {
		s.cfg.Reachability = ReachabilityAuto
	}
	if s.hooks, err = receiveHooks(h); err != nil {
		return nil, err
	}
	if s.hooks != nil {
		s.hooks.attach(s, o.ClosestPeers)
	}

	s.sub, err = h.EventBus().Subscribe([]any{
		new(event.EvtLocalReachabilityChanged),
		new(event.EvtHostReachableAddrsChanged),
		new(event.EvtNATDeviceTypeChanged),
		new(event.EvtPeerIdentificationCompleted),
		new(event.EvtAutoRelayAddrsUpdated),
		new(event.EvtLocalAddressesUpdated),
	}, eventbus.Name("plexus-nat"), eventbus.BufSize(256))
	if err != nil {
		if s.hooks != nil {
			s.hooks.detach()
		}
		return nil, fmt.Errorf("nat: subscribe to host events: %w", err)
	}
	s.notifiee = &network.NotifyBundle{ConnectedF: s.connected, DisconnectedF: s.disconnected}
	h.Network().Notify(s.notifiee)
	return s, nil
}

// receiveHooks returns the hooks HostOptions installed in h, or nil when h
// was built without them. They arrive as a stateful event, which the event
// bus delivers asynchronously on subscription.
func receiveHooks(h host.Host) (*hooks, error) {
	hooksType := reflect.TypeOf((*hooks)(nil))
	if !slices.Contains(h.EventBus().GetAllEventTypes(), hooksType) {
		return nil, nil
	}
	sub, err := h.EventBus().Subscribe(new(*hooks))
	if err != nil {
		return nil, fmt.Errorf("nat: subscribe to host hooks: %w", err)
	}
	defer sub.Close()
	select {
	case e := <-sub.Out():
		return e.(*hooks), nil
	case <-time.After(5 * time.Second):
		return nil, errors.New("nat: the host's NAT hooks were not delivered")
	}
}

// Start handles the host's events until Close. It returns an error only
// when called twice or after Close.
func (s *Service) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.stop:
		return errors.New("nat: service is closed")
	default:
	}
	if s.started {
		return errors.New("nat: service already started")
	}
	s.started = true
	s.wg.Add(2)
	go s.loop()
	go s.renewLoop()
	return nil
}

// Close stops the service. It is idempotent.
func (s *Service) Close() error {
	s.once.Do(func() {
		close(s.stop)
		s.h.Network().StopNotify(s.notifiee)
		if s.hooks != nil {
			s.hooks.detach()
		}
		s.wg.Wait()
		s.sub.Close()
	})
	return nil
}

func (s *Service) publish(typ string, data any) {
	if s.pub != nil {
		s.pub.Publish(typ, data)
	}
}

// loop handles the host events New subscribed to.
func (s *Service) loop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case e, ok := <-s.sub.Out():
			if !ok {
				return
			}
			s.handle(e)
		}
	}
}

func (s *Service) handle(e any) {
	switch e := e.(type) {
	case event.EvtLocalReachabilityChanged:
		s.reachabilityChanged(e.Reachability)
	case event.EvtHostReachableAddrsChanged:
		s.addrsReachabilityChanged(e)
	case event.EvtNATDeviceTypeChanged:
		s.natTypeChanged(e)
	case event.EvtPeerIdentificationCompleted:
		s.identified(e)
	case event.EvtAutoRelayAddrsUpdated:
		s.relayAddrsChanged(e.RelayAddrs)
	case event.EvtLocalAddressesUpdated:
		s.localAddrsChanged()
	}
}
