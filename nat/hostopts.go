package nat

import (
	"context"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/host/autorelay"
	bhost "github.com/libp2p/go-libp2p/p2p/host/basic"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
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

// HostOptions returns the libp2p options that configure NAT traversal as c
// says. Pass the same c to New once the host exists.
func HostOptions(c Config) []libp2p.Option {
	hk := &hooks{tracer: &tracer{}, relays: newRelaySource(c.StaticRelays)}
	opts := []libp2p.Option{libp2p.WithFxOption(fx.Invoke(hk.bind))}
	switch c.Reachability {
	case ReachabilityPublic:
		opts = append(opts, libp2p.ForceReachabilityPublic())
	case ReachabilityPrivate:
		opts = append(opts, libp2p.ForceReachabilityPrivate())
	}
	if c.PortMapping {
		opts = append(opts, libp2p.NATManager(hk.natManager))
	}
	if c.AutoNATService {
		opts = append(opts, libp2p.EnableNATService(),
			libp2p.AutoNATServiceRateLimit(autoNATGlobalLimit, autoNATPeerLimit, time.Minute))
	}
	if c.AutoNATv2 {
		opts = append(opts, libp2p.EnableAutoNATv2())
	}
	if c.HolePunching {
		opts = append(opts, hk.holePunching)
	}
	if c.RelayService {
		res := c.RelayResources
		if res.MaxReservations == 0 {
			res = relayv2.DefaultResources()
		}
		opts = append(opts, libp2p.EnableRelayService(relayv2.WithResources(res)))
	}
	if c.AutoRelay || len(c.StaticRelays) > 0 {
		n := c.RelayCount
		if n <= 0 {
			n = 2
		}
		opts = append(opts, libp2p.EnableAutoRelayWithPeerSource(hk.relays.find,
			autorelay.WithNumRelays(n),
			// Reserve with the first relay found instead of waiting minutes
			// for several candidates; more are added as they are found.
			autorelay.WithMinCandidates(1),
			autorelay.WithBootDelay(0),
			autorelay.WithMinInterval(relayDiscoveryInterval),
			autorelay.WithBackoff(5*time.Minute)))
	}
	return opts
}

// hooks connects what HostOptions installs in the host (the hole punch
// tracer, the relay peer source, the port mapping manager) with the Service
// that New creates once the host exists. HostOptions cannot reach the
// Service, so bind emits the hooks on the host's event bus as a stateful
// event, which New receives on subscription.
type hooks struct {
	tracer *tracer
	relays *relaySource

	mu      sync.Mutex
	natmgr  bhost.NATManager
	emitter interface{ Close() error }
}

// bind runs inside the host's construction (fx.Invoke).
func (hk *hooks) bind(h host.Host, lc fx.Lifecycle) error {
	hk.relays.setHost(h)
	em, err := h.EventBus().Emitter(new(*hooks), eventbus.Stateful)
	if err != nil {
		return err
	}
	if err := em.Emit(hk); err != nil {
		em.Close()
		return err
	}
	hk.mu.Lock()
	hk.emitter = em
	hk.mu.Unlock()
	lc.Append(fx.StopHook(func() { hk.closeEmitter() }))
	return nil
}

func (hk *hooks) closeEmitter() {
	hk.mu.Lock()
	em := hk.emitter
	hk.emitter = nil
	hk.mu.Unlock()
	if em != nil {
		em.Close()
	}
}

// attach routes the hooks' output to s.
func (hk *hooks) attach(s *Service, closest ClosestPeersFunc) {
	hk.tracer.setSink(s.traceHolePunch)
	hk.relays.setClosest(closest, s.log)
}

// detach stops routing to the service.
func (hk *hooks) detach() {
	hk.tracer.setSink(nil)
	hk.relays.setClosest(nil, nil)
}

// natManager wraps go-libp2p's UPnP / NAT-PMP manager so the Service can
// report its state.
func (hk *hooks) natManager(n network.Network) bhost.NATManager {
	m := bhost.NewNATManager(n)
	hk.mu.Lock()
	hk.natmgr = m
	hk.mu.Unlock()
	return m
}

// portMapping returns the NAT manager, or nil without port mapping.
func (hk *hooks) portMapping() bhost.NATManager {
	if hk == nil {
		return nil
	}
	hk.mu.Lock()
	defer hk.mu.Unlock()
	return hk.natmgr
}

// holePunching enables DCUtR with both go-libp2p's metrics tracer and ours.
// holepunch accepts a single tracer option, so this option builds both when
// the service is created, reading the metrics settings of the finished
// libp2p config.
func (hk *hooks) holePunching(cfg *libp2p.Config) error {
	cfg.EnableHolePunching = true
	cfg.HolePunchingOptions = append(cfg.HolePunchingOptions, func(s *holepunch.Service) error {
		var mt holepunch.MetricsTracer
		if !cfg.DisableMetrics {
			mt = holepunch.NewMetricsTracer(holepunch.WithRegisterer(cfg.PrometheusRegisterer))
		}
		return holepunch.WithMetricsAndEventTracer(mt, hk.tracer)(s)
	})
	return nil
}

// tracer receives go-libp2p's hole punch trace events.
type tracer struct {
	mu   sync.Mutex
	sink func(*holepunch.Event)
}

var _ holepunch.EventTracer = (*tracer)(nil)

func (t *tracer) setSink(f func(*holepunch.Event)) {
	t.mu.Lock()
	t.sink = f
	t.mu.Unlock()
}

// Trace implements holepunch.EventTracer.
func (t *tracer) Trace(evt *holepunch.Event) {
	t.mu.Lock()
	f := t.sink
	t.mu.Unlock()
	if f != nil {
		f(evt)
	}
}

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
