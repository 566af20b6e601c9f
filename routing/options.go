package routing

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ipfs/go-datastore"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/prometheus/client_golang/prometheus"

	plexusconfig "github.com/plexus-p2p/plexus/config"
)

// Mode is the DHT mode.
type Mode string

// The DHT modes. ModeAuto is a configuration only: Service.Mode reports
// ModeServer or ModeClient.
const (
	// ModeAuto serves DHT requests while the node is publicly reachable.
	ModeAuto Mode = "auto"
	// ModeServer always serves DHT requests.
	ModeServer Mode = "server"
	// ModeClient only asks.
	ModeClient Mode = "client"
)

var kadModes = map[Mode]dht.ModeOpt{ModeAuto: dht.ModeAutoServer, ModeServer: dht.ModeServer, ModeClient: dht.ModeClient}

// DefaultPrefix is the protocol prefix of the Plexus DHT.
const DefaultPrefix protocol.ID = "/plexus"

// DefaultProtocol is the Kademlia protocol of a DHT with DefaultPrefix.
const DefaultProtocol = DefaultPrefix + "/kad/1.0.0"

// Protocol returns the Kademlia protocol of a DHT with the given prefix,
// e.g. /plexus/kad/1.0.0.
func Protocol(prefix protocol.ID) protocol.ID { return prefix + "/kad/1.0.0" }

// Publisher receives the events this package emits; the node passes its event bus.
type Publisher interface {
	Publish(typ string, data any)
}

// Option configures a Service. Each option validates its own input.
type Option func(*config) error

// config holds the Service settings; defaultConfig sets every default.
type config struct {
	logger       *slog.Logger
	publisher    Publisher
	mode         Mode
	prefix       protocol.ID
	store        datastore.Batching
	validators   record.NamespacedValidator
	agentVersion string
	bootstrap    []peer.AddrInfo
	dhtOptions   []dht.Option

	queryDialTimeout time.Duration
	quotas           Quotas
	registry         prometheus.Registerer
	// prefixSet and validatorsSet record that WithProtocolPrefix and
	// WithValidator were given: NewAmino refuses both.
	prefixSet, validatorsSet bool
}

func defaultConfig() config {
	return config{mode: ModeAuto, prefix: DefaultPrefix, queryDialTimeout: time.Duration(plexusconfig.DefaultDHTQueryDialTimeout)}
}

// WithLogger sets the logger. Default: slog.Default() with component=routing.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		c.logger = l
		return nil
	}
}

// WithPublisher publishes every routing-table change as EventPeerAdded or
// EventPeerRemoved, with a Change. Default: nil, no events.
func WithPublisher(p Publisher) Option {
	return func(c *config) error {
		c.publisher = p
		return nil
	}
}

// WithMode sets the DHT mode. Default: ModeAuto.
func WithMode(m Mode) Option {
	return func(c *config) error {
		if _, ok := kadModes[m]; !ok {
			return fmt.Errorf("dht mode %q: not one of auto, server, client", m)
		}
		c.mode = m
		return nil
	}
}

// WithProtocolPrefix sets the protocol prefix: the DHT speaks
// Protocol(prefix). Default: DefaultPrefix ("/plexus").
func WithProtocolPrefix(prefix protocol.ID) Option {
	return func(c *config) error {
		s := string(prefix)
		if !strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") || strings.ContainsAny(s, " \t\n") {
			return fmt.Errorf("dht protocol prefix %q: must start with / and not end with /", s)
		}
		c.prefix = prefix
		c.prefixSet = true
		return nil
	}
}

// WithDatastore keeps the DHT's value and provider records in ds, under the
// /dht namespace. Default: in memory.
func WithDatastore(ds datastore.Batching) Option {
	return func(c *config) error {
		if ds == nil {
			return errors.New("dht datastore: nil")
		}
		c.store = ds
		return nil
	}
}

// WithValidator adds the validator of a record namespace: keys /<ns>/... are
// accepted and ordered by v. Adding a namespace twice replaces it. Default:
// none, in which case kad-dht's own set applies ("pk" and "ipns"); once any
// is given, only the given ones apply, so pass "pk" and "ipns" too if the
// DHT must keep storing those records.
func WithValidator(ns string, v record.Validator) Option {
	return func(c *config) error {
		if ns == "" || strings.Contains(ns, "/") || v == nil {
			return fmt.Errorf("dht validator %q: need a namespace without / and a validator", ns)
		}
		if c.validators == nil {
			c.validators = record.NamespacedValidator{}
		}
		c.validators[ns] = v
		c.validatorsSet = true
		return nil
	}
}

// WithValidators adds every namespace of vs, as WithValidator does for one.
func WithValidators(vs record.NamespacedValidator) Option {
	return func(c *config) error {
		for ns, v := range vs {
			if err := WithValidator(ns, v)(c); err != nil {
				return err
			}
		}
		return nil
	}
}

// WithAgentVersion sets the agent version Explore reports for this node,
// whose own agent version identify does not record (the node passes its
// libp2p.UserAgent). Default: the peerstore's entry for this node, if any.
func WithAgentVersion(v string) Option {
	return func(c *config) error {
		c.agentVersion = v
		return nil
	}
}

// WithBootstrapPeers gives the DHT peers to connect to whenever its routing
// table is empty (kad-dht's dht.BootstrapPeers: it dials two of them, at
// random, at start and when the table runs empty, and then learns the
// network from them). Each needs a peer ID; addresses may be /dnsaddr.
// Default: none, the DHT learns peers only from the host's connections.
func WithBootstrapPeers(peers ...peer.AddrInfo) Option {
	return func(c *config) error {
		for _, ai := range peers {
			if err := ai.ID.Validate(); err != nil {
				return fmt.Errorf("dht bootstrap peer: %w", err)
			}
			if len(ai.Addrs) == 0 {
				return fmt.Errorf("dht bootstrap peer %s: no address", ai.ID)
			}
		}
		c.bootstrap = append(c.bootstrap, peers...)
		return nil
	}
}

// WithDHTOptions appends raw kad-dht options after the ones the other
// options produce, for tests and tuning (for example dht.BucketSize or
// dht.DisableAutoRefresh). Default: none.
func WithDHTOptions(opts ...dht.Option) Option {
	return func(c *config) error {
		c.dhtOptions = append(c.dhtOptions, opts...)
		return nil
	}
}

// WithQueryDialTimeout bounds each dial the DHT makes to a peer it is not
// connected to (in a lookup, or to open a stream): a dead peer costs a
// lookup this long, then leaves the routing table. Within
// config.CheckDHTQueryDialTimeout's bounds (100ms to 1m). Default
// config.DefaultDHTQueryDialTimeout (3s).
func WithQueryDialTimeout(d time.Duration) Option {
	return func(c *config) error {
		if err := plexusconfig.CheckDHTQueryDialTimeout(d); err != nil {
			return fmt.Errorf("dht query dial timeout: %w", err)
		}
		c.queryDialTimeout = d
		return nil
	}
}

// WithQuotas bounds the records other peers may store on this node (see
// Quotas). Default: Quotas{}, the config defaults.
func WithQuotas(q Quotas) Option {
	return func(c *config) error {
		if err := plexusconfig.CheckDHTQuotas(q.PeerValues, q.PeerValueBytes, q.Values, q.ValueBytes, q.PeerProviders, q.Providers); err != nil {
			return fmt.Errorf("dht quotas: %w", err)
		}
		c.quotas = q
		return nil
	}
}

// WithRegistry registers the DHT's quota metrics
// (plexus_dht_records_refused_total, ...) in r. Default: none.
func WithRegistry(r prometheus.Registerer) Option {
	return func(c *config) error {
		c.registry = r
		return nil
	}
}
