// Package nat gets a Plexus node across NATs and tells the user how well
// that works. One call, New, returns both the libp2p options that configure
// go-libp2p's NAT traversal and the Service that watches it once the host
// built with them runs (Start):
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
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	bhost "github.com/libp2p/go-libp2p/p2p/host/basic"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/plexus-p2p/plexus/config"
)

// Publisher receives the events this package emits; the node passes its event bus.
type Publisher interface {
	Publish(typ string, data any)
}

// Reachability values of Config.Reachability: the config file's
// nat.reachability values.
const (
	ReachabilityAuto    = config.ReachabilityAuto
	ReachabilityPublic  = config.ReachabilityPublic
	ReachabilityPrivate = config.ReachabilityPrivate
)

// Config selects the NAT traversal features. The zero Config turns
// everything off; the node fills it from its config file, whose defaults
// turn everything on. Numbers left zero get the config file's defaults; their
// bounds are checked where the config file is validated (package config).
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
	// DefaultRelayResources().
	RelayResources relayv2.Resources
	// AutoRelay looks for relays while the node is private.
	AutoRelay bool
	// StaticRelays are tried first (AutoRelay runs when any are given).
	StaticRelays []peer.AddrInfo
	// RelayCount is the number of reservations AutoRelay keeps. Default
	// config.DefaultRelayCount (2).
	RelayCount int
	// BirthdayPunch enables birthday hole punching over QUIC with other
	// Plexus nodes when one side's NAT is endpoint-dependent (birthday.go).
	BirthdayPunch bool
}

// DefaultRelayResources returns the relay service's default limits: those of
// the config file (config.DefaultRelay*), go-libp2p's for the rest.
func DefaultRelayResources() relayv2.Resources {
	res := relayv2.DefaultResources()
	res.MaxReservations = config.DefaultRelayMaxReservations
	res.MaxReservationsPerIP = config.DefaultRelayMaxPerIP
	res.MaxCircuits = config.DefaultRelayMaxCircuits
	res.ReservationTTL = config.DefaultRelayReservationTTL
	res.Limit = &relayv2.RelayLimit{Duration: config.DefaultRelayCircuitDuration, Data: config.DefaultRelayCircuitDataBytes}
	return res
}

// withDefaults fills c's zero values.
func (c Config) withDefaults() (Config, error) {
	switch c.Reachability {
	case "":
		c.Reachability = ReachabilityAuto
	case ReachabilityAuto, ReachabilityPublic, ReachabilityPrivate:
	default:
		return c, fmt.Errorf("nat: reachability %q is not one of %q, %q, %q", c.Reachability, ReachabilityAuto, ReachabilityPublic, ReachabilityPrivate)
	}
	if c.RelayResources == (relayv2.Resources{}) {
		c.RelayResources = DefaultRelayResources()
	}
	if c.RelayCount == 0 {
		c.RelayCount = config.DefaultRelayCount
	}
	return c, nil
}

// ClosestPeersFunc asks the DHT for the peers closest to key, as
// (*dht.IpfsDHT).GetClosestPeers does. AutoRelay uses it to discover relays.
type ClosestPeersFunc func(ctx context.Context, key string) ([]peer.ID, error)

// Options are what New needs besides the Config.
type Options struct {
	// Logger defaults to slog.Default(); a component attr is added.
	Logger *slog.Logger
	// Events receives the package's events (nil: none).
	Events Publisher
	// Metrics, when set, is read for AutoNAT v1's confidence, which
	// go-libp2p reports only as a metric. It must be the registry the host
	// registers its metrics with (libp2p.PrometheusRegisterer).
	Metrics prometheus.Gatherer
	// Private, when set, reports the node's private network and access
	// lists for Status (nil: a public node without lists).
	Private func() Private
}

// Service watches a host's NAT traversal and keeps the state the doctor
// reports. New creates it with the host options; Start subscribes to the
// host's events and starts the goroutines that handle them; Close stops
// them.
type Service struct {
	cfg    Config
	log    *slog.Logger
	pub    Publisher
	gath   prometheus.Gatherer
	priv   func() Private
	relays *relaySource
	start  time.Time

	mu             sync.Mutex
	h              host.Host          // set by Start
	natmgr         bhost.NATManager   // set while the host is built, with port mapping
	sub            event.Subscription // set by Start
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
	bday           *birthday

	ownNetworks // for AllowAddrDial (advertise.go)

	notifiee *network.NotifyBundle
	stop     chan struct{}
	wg       sync.WaitGroup
	once     sync.Once
	started  bool
}

// New returns the NAT service for c and the libp2p options that configure
// a host's NAT traversal as c says and report to the service (the hole punch
// tracer, AutoRelay's relay source, the port mapping manager). Build one host
// with the options, then pass it to Start. New starts nothing.
func New(c Config, o Options) (*Service, []libp2p.Option, error) {
	c, err := c.withDefaults()
	if err != nil {
		return nil, nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	now := time.Now()
	s := &Service{
		cfg:         c,
		log:         o.Logger.With("component", "nat"),
		pub:         o.Events,
		gath:        o.Metrics,
		priv:        o.Private,
		relays:      newRelaySource(c.StaticRelays),
		start:       now,
		reach:       network.ReachabilityUnknown,
		reachSince:  now,
		libp2pTypes: map[string]string{},
		observed:    newObservations(),
		rsvps:       map[peer.ID]*Reservation{},
		relayedAt:   map[peer.ID]time.Time{},
		stop:        make(chan struct{}),
		bday:        newBirthday(),
	}
	s.notifiee = &network.NotifyBundle{ConnectedF: s.connected, DisconnectedF: s.disconnected}
	return s, s.hostOptions(), nil
}

// Start watches h until Close. h is the host built with New's options; on
// another host only reachability and observed addresses are reported.
// closest lets AutoRelay find relay candidates through the DHT (nil: only
// static relays and known peers). Start returns an error when called twice
// or after Close.
func (s *Service) Start(h host.Host, closest ClosestPeersFunc) error {
	if h == nil {
		return errors.New("nat: host is nil")
	}
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
	sub, err := h.EventBus().Subscribe([]any{
		new(event.EvtLocalReachabilityChanged),
		new(event.EvtHostReachableAddrsChanged),
		new(event.EvtNATDeviceTypeChanged),
		new(event.EvtPeerIdentificationCompleted),
		new(event.EvtAutoRelayAddrsUpdated),
		new(event.EvtLocalAddressesUpdated),
	}, eventbus.Name("plexus-nat"), eventbus.BufSize(256))
	if err != nil {
		return fmt.Errorf("nat: subscribe to host events: %w", err)
	}
	s.h, s.sub, s.started = h, sub, true
	s.relays.attach(h, closest, s.log)
	h.Network().Notify(s.notifiee)
	if s.cfg.BirthdayPunch {
		h.SetStreamHandler(BirthdayProtocol, s.handleBirthday)
	}
	s.wg.Add(2)
	go s.loop()
	go s.renewLoop()
	if len(s.cfg.StaticRelays) > 0 && s.cfg.Reachability != ReachabilityPublic {
		s.wg.Add(1)
		go s.keepStaticRelays(h)
	}
	return nil
}

// Close stops the service. It is idempotent and safe without Start.
func (s *Service) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		close(s.stop)
		h, sub := s.h, s.sub
		s.mu.Unlock()
		s.relays.detach()
		if h != nil {
			h.Network().StopNotify(s.notifiee)
			if s.cfg.BirthdayPunch {
				h.RemoveStreamHandler(BirthdayProtocol)
			}
		}
		s.wg.Wait()
		if sub != nil {
			sub.Close()
		}
	})
	return nil
}

// host returns the host while the service runs: nil before Start and after
// Close.
func (s *Service) host() host.Host {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.stop:
		return nil
	default:
	}
	return s.h
}

func (s *Service) publish(typ string, data any) {
	if s.pub != nil {
		s.pub.Publish(typ, data)
	}
}

// loop handles the host events Start subscribed to.
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
		s.birthdayIdentified(e)
	case event.EvtAutoRelayAddrsUpdated:
		s.relayAddrsChanged(e.RelayAddrs)
	case event.EvtLocalAddressesUpdated:
		s.localAddrsChanged()
	}
}
