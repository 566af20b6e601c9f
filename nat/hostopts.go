package nat

import (
	"context"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/host/autorelay"
	bhost "github.com/libp2p/go-libp2p/p2p/host/basic"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/fx"
)

// AutoNAT v1 service rate limits: dial-backs per minute in total and per peer.
const (
	autoNATGlobalLimit = 30
	autoNATPeerLimit   = 3
)

// relayDiscoveryInterval is the shortest time between two calls of the relay
// peer source; AutoRelay asks again when it runs out of candidates.
const relayDiscoveryInterval = 15 * time.Second

// relayBackoff is how long AutoRelay waits before retrying a relay that
// refused a reservation.
const relayBackoff = 5 * time.Minute

// hostOptions returns the libp2p options that configure NAT traversal as
// s.cfg says, with the hooks that report to s: the port mapping manager, the
// hole punch tracer and AutoRelay's peer source.
func (s *Service) hostOptions() []libp2p.Option {
	c := s.cfg
	var opts []libp2p.Option
	switch c.Reachability {
	case ReachabilityPublic:
		opts = append(opts, libp2p.ForceReachabilityPublic())
	case ReachabilityPrivate:
		opts = append(opts, libp2p.ForceReachabilityPrivate())
	}
	if c.PortMapping {
		opts = append(opts, libp2p.NATManager(s.natManager))
	}
	if c.Reachability != ReachabilityPrivate {
		opts = append(opts, libp2p.AddrsFactory(s.addrsFactory))
	}
	if c.AutoNATService {
		opts = append(opts, libp2p.EnableNATService(),
			libp2p.AutoNATServiceRateLimit(autoNATGlobalLimit, autoNATPeerLimit, time.Minute))
	}
	if c.AutoNATv2 {
		opts = append(opts, libp2p.EnableAutoNATv2())
	}
	if c.HolePunching {
		opts = append(opts, s.holePunching)
	}
	if c.BirthdayPunch {
		// The easy side of a birthday punch sends its probes from the QUIC
		// socket, through quicreuse's connection manager.
		opts = append(opts, libp2p.WithFxOption(fx.Invoke(s.bday.setConnManager)))
	}
	if c.RelayService {
		opts = append(opts, libp2p.EnableRelayService(relayv2.WithResources(c.RelayResources)))
	}
	if c.AutoRelay || len(c.StaticRelays) > 0 {
		opts = append(opts, libp2p.EnableAutoRelayWithPeerSource(s.relays.find,
			autorelay.WithNumRelays(c.RelayCount),
			// Reserve with the first relay found instead of waiting minutes
			// for several candidates; more are added as they are found.
			autorelay.WithMinCandidates(1),
			autorelay.WithBootDelay(0),
			autorelay.WithMinInterval(relayDiscoveryInterval),
			autorelay.WithBackoff(relayBackoff)))
	}
	return opts
}

// natManager wraps go-libp2p's UPnP / NAT-PMP manager so the Service can
// report its state. The host calls it while it is built.
func (s *Service) natManager(n network.Network) bhost.NATManager {
	m := bhost.NewNATManager(n)
	s.mu.Lock()
	s.natmgr = m
	s.mu.Unlock()
	return m
}

// portMapping returns the NAT manager, or nil without port mapping.
func (s *Service) portMapping() bhost.NATManager {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.natmgr
}

// holePunching enables DCUtR with both go-libp2p's metrics tracer and
// s's. holepunch accepts a single tracer option, so this option builds both
// when the hole punching service is created, reading the metrics settings of
// the finished libp2p config.
func (s *Service) holePunching(cfg *libp2p.Config) error {
	cfg.EnableHolePunching = true
	cfg.HolePunchingOptions = append(cfg.HolePunchingOptions, func(hs *holepunch.Service) error {
		var mt holepunch.MetricsTracer
		if !cfg.DisableMetrics {
			mt = holepunch.NewMetricsTracer(holepunch.WithRegisterer(cfg.PrometheusRegisterer))
		}
		return holepunch.WithMetricsAndEventTracer(mt, tracer{s})(hs)
	})
	return nil
}

// tracer passes go-libp2p's hole punch trace events to the service.
type tracer struct{ s *Service }

var _ holepunch.EventTracer = tracer{}

// Trace implements holepunch.EventTracer.
func (t tracer) Trace(evt *holepunch.Event) { t.s.traceHolePunch(evt) }

// isRelayed reports whether a is a /p2p-circuit address.
func isRelayed(a ma.Multiaddr) bool {
	if a == nil {
		return false
	}
	for _, c := range a {
		if c.Code() == ma.P_CIRCUIT {
			return true
		}
	}
	return false
}

// contextWithStop returns a context cancelled when stop is closed.
func contextWithStop(stop <-chan struct{}, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
