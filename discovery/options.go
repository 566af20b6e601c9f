package discovery

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Option configures a Service. Each option validates its own input.
type Option func(*config) error

// config holds the Service settings. Every field's default is set in
// defaultConfig and documented on the option that changes it.
type config struct {
	logger    *slog.Logger
	publisher Publisher

	bootstrapPeers []peer.AddrInfo
	backoffBase    time.Duration
	backoffMax     time.Duration
	dialTimeout    time.Duration

	lowWater            int
	watchInterval       time.Duration
	rebootstrapInterval time.Duration

	maxKnownPeers   int
	knownPeerDials  int
	persistInterval time.Duration
	flushInterval   time.Duration

	mdns            bool
	mdnsServiceName string

	rendezvousInterval     time.Duration
	rendezvousConnectLimit int
	rendezvousPeerLimit    int
}

func defaultConfig() config {
	return config{
		backoffBase:            time.Second,
		backoffMax:             5 * time.Minute,
		dialTimeout:            15 * time.Second,
		lowWater:               1,
		watchInterval:          10 * time.Second,
		rebootstrapInterval:    time.Minute,
		maxKnownPeers:          10000,
		knownPeerDials:         16,
		persistInterval:        time.Minute,
		flushInterval:          time.Second,
		mdnsServiceName:        DefaultMDNSServiceName,
		rendezvousInterval:     time.Minute,
		rendezvousConnectLimit: 8,
		rendezvousPeerLimit:    100,
	}
}

// DefaultMDNSServiceName is the DNS-SD service name Plexus nodes announce
// and browse for on the local network. It differs from go-libp2p's
// "_p2p._udp" so that a Plexus node finds Plexus nodes, not every libp2p
// program on the LAN.
const DefaultMDNSServiceName = "_plexus._udp"

// WithLogger sets the logger. Default: slog.Default() with component=discovery.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		c.logger = l
		return nil
	}
}

// WithPublisher sets where events go. Default: nil, no events.
func WithPublisher(p Publisher) Option {
	return func(c *config) error {
		c.publisher = p
		return nil
	}
}

// WithBootstrapPeers sets the bootstrap peers, as multiaddrs that end in
// /p2p/<peer ID> (several addresses of one peer are merged). Default: none;
// the node then rejoins through the peers it persisted on an earlier run.
func WithBootstrapPeers(addrs ...string) Option {
	return func(c *config) error {
		maddrs := make([]ma.Multiaddr, 0, len(addrs))
		for _, s := range addrs {
			m, err := ma.NewMultiaddr(s)
			if err != nil {
				return fmt.Errorf("bootstrap peer %q: %w", s, err)
			}
			if _, id := peer.SplitAddr(m); id.Validate() != nil {
				return fmt.Errorf("bootstrap peer %q: %w", s, errMissingPeerID)
			}
			maddrs = append(maddrs, m)
		}
		// Merge the addresses of each peer, keeping the order given.
		c.bootstrapPeers = nil
		index := map[peer.ID]int{}
		for _, m := range maddrs {
			transport, id := peer.SplitAddr(m)
			i, ok := index[id]
			if !ok {
				i = len(c.bootstrapPeers)
				index[id] = i
				c.bootstrapPeers = append(c.bootstrapPeers, peer.AddrInfo{ID: id})
			}
			if transport != nil {
				c.bootstrapPeers[i].Addrs = append(c.bootstrapPeers[i].Addrs, transport)
			}
		}
		return nil
	}
}

var errMissingPeerID = errors.New("address has no /p2p/<peer ID> component")

// WithBackoff sets the retry delay for bootstrap peers that do not answer:
// it starts at base, doubles on each failure up to max, and is jittered
// (a delay d becomes a random value in [d/2, d]). Default: 1s, 5m.
func WithBackoff(base, max time.Duration) Option {
	return func(c *config) error {
		if base <= 0 || max < base {
			return fmt.Errorf("backoff base %v max %v: need 0 < base <= max", base, max)
		}
		c.backoffBase, c.backoffMax = base, max
		return nil
	}
}

// WithDialTimeout bounds one connection attempt to a peer. Default: 15s.
func WithDialTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("dial timeout %v: must be positive", d)
		}
		c.dialTimeout = d
		return nil
	}
}

// WithLowWater sets the number of connected peers below which the node
// re-bootstraps (dials bootstrap and known peers, refreshes the DHT). The
// node passes its connection manager's low-water mark. 0 turns the watcher
// off. Default: 1 (re-bootstrap when the node has no connection at all).
func WithLowWater(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("low water %d: must not be negative", n)
		}
		c.lowWater = n
		return nil
	}
}

// WithWatchInterval sets how often the watcher counts connected peers, in
// addition to reacting to disconnections. Default: 10s.
func WithWatchInterval(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("watch interval %v: must be positive", d)
		}
		c.watchInterval = d
		return nil
	}
}

// WithRebootstrapInterval sets the least time between two re-bootstraps
// started by the watcher, and between two DHT routing-table refreshes this
// package asks for. Default: 1m.
func WithRebootstrapInterval(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("rebootstrap interval %v: must be positive", d)
		}
		c.rebootstrapInterval = d
		return nil
	}
}

// WithMaxKnownPeers bounds the known-peers table; past it the peer seen
// longest ago is evicted (and deleted from the datastore). Default: 10000.
func WithMaxKnownPeers(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("max known peers %d: must be at least 1", n)
		}
		c.maxKnownPeers = n
		return nil
	}
}

// WithKnownPeerDials sets how many known (persisted) peers, most recently
// seen first, are dialled at start and on each re-bootstrap. Default: 16.
func WithKnownPeerDials(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("known peer dials %d: must not be negative", n)
		}
		c.knownPeerDials = n
		return nil
	}
}

// WithPersistInterval sets how often the last-seen times of connected
// peers are refreshed and written to the datastore. New and changed peers
// are written within the flush interval (WithFlushInterval), and everything
// on Close. Default: 1m.
func WithPersistInterval(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("persist interval %v: must be positive", d)
		}
		c.persistInterval = d
		return nil
	}
}

// WithFlushInterval sets how soon a newly learnt or changed known peer is
// written to the datastore (batched), so that a node killed right after
// joining still knows its peers when it restarts. Default: 1s.
func WithFlushInterval(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("flush interval %v: must be positive", d)
		}
		c.flushInterval = d
		return nil
	}
}

// WithMDNS turns local-network discovery over mDNS on or off. Default: off
// (the node turns it on from its config; its local profile leaves it off).
func WithMDNS(on bool) Option {
	return func(c *config) error {
		c.mdns = on
		return nil
	}
}

// WithMDNSServiceName sets the DNS-SD service name used by mDNS.
// Default: DefaultMDNSServiceName.
func WithMDNSServiceName(name string) Option {
	return func(c *config) error {
		if name == "" {
			return errors.New("mdns service name: must not be empty")
		}
		c.mdnsServiceName = name
		return nil
	}
}

// WithRendezvousInterval sets how often a joined rendezvous topic is looked
// up for new peers. Default: 1m.
func WithRendezvousInterval(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("rendezvous interval %v: must be positive", d)
		}
		c.rendezvousInterval = d
		return nil
	}
}

// WithRendezvousConnectLimit sets how many peers of a joined topic the
// node keeps connections to. Default: 8.
func WithRendezvousConnectLimit(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("rendezvous connect limit %d: must not be negative", n)
		}
		c.rendezvousConnectLimit = n
		return nil
	}
}

// backoffDelay returns the jittered delay before retry number attempt
// (1-based): base·2^(attempt-1) capped at max, then a random value in
// [d/2, d]. rnd returns a value in [0, n).
func backoffDelay(attempt int, base, max time.Duration, rnd func(n int64) int64) time.Duration {
	d := base
	for i := 1; i < attempt && d < max; i++ {
		if d > max/2 {
			d = max
			break
		}
		d *= 2
	}
	d = min(d, max)
	half := d / 2
	return half + time.Duration(rnd(int64(d-half)+1))
}
