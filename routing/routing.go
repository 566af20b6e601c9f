package routing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/namespace"
	dssync "github.com/ipfs/go-datastore/sync"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	corerouting "github.com/libp2p/go-libp2p/core/routing"
)

// Errors callers can test for with errors.Is.
var (
	// ErrNotFound: FindPeer found no address of the peer.
	ErrNotFound = errors.New("peer not found")
	// ErrInvalidKey: Closest was given an empty key.
	ErrInvalidKey = errors.New("invalid key")
)

// DatastoreNamespace is where the DHT keeps its records in the datastore
// given with WithDatastore.
const DatastoreNamespace = "/dht"

// Service is the node's Kademlia DHT. Build it with New, stop it with Close.
type Service struct {
	h     host.Host
	d     *dht.IpfsDHT
	cfg   config
	log   *slog.Logger
	proto protocol.ID
	watch *tableWatch
	amino bool // built by NewAmino

	closeOnce sync.Once
	closeErr  error
}

var (
	_ corerouting.ValueStore     = (*Service)(nil)
	_ corerouting.ContentRouting = (*Service)(nil)
)

// New builds the DHT of host h and starts it: kad-dht's own goroutines and
// the one that delivers routing-table changes, all stopped by Close.
//
// New chains a function onto the routing table's PeerAdded and PeerRemoved
// hooks right after kad-dht sets its own. The hooks are plain fields that
// kad-dht reads under the table's lock, with no way to set them under it:
// call New before the host connects to anyone (the node builds routing right
// after the host) so that no peer is added while they are being set.
func New(h host.Host, opts ...Option) (*Service, error) {
	if h == nil {
		return nil, errors.New("routing: a host is required")
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("routing option: %w", err)
		}
	}
	log := cfg.logger
	if log == nil {
		log = slog.Default().With(slog.String("component", "routing"))
	}
	return start(h, cfg, log, DatastoreNamespace)
}

// start builds and starts the DHT of cfg, keeping its records in the
// datastore under ns.
func start(h host.Host, cfg config, log *slog.Logger, ns string) (*Service, error) {
	store := cfg.store
	if store == nil {
		store = dssync.MutexWrap(datastore.NewMapDatastore())
	}
	dstore := namespace.Wrap(store, datastore.NewKey(ns))
	qt := newQuota(cfg.quotas, log)
	if cfg.registry != nil {
		for _, c := range qt.collectors() {
			if err := cfg.registry.Register(c); err != nil {
				return nil, fmt.Errorf("routing metrics: %w", err)
			}
		}
	}
	dopts := []dht.Option{
		dht.Mode(kadModes[cfg.mode]),
		dht.ProtocolPrefix(cfg.prefix),
		dht.Datastore(dstore),
		// Other peers' records within Quotas (issue 20 row 5).
		dht.ValueDatastore(quotaStore{Batching: dstore, qt: qt}),
		dht.OnRequestHook(qt.hook),
	}
	if cfg.validators != nil {
		dopts = append(dopts, dht.Validator(cfg.validators))
	}
	dh := newDialTimeoutHost(h, cfg.queryDialTimeout)
	dopts = append(dopts, dht.QueryFilter(dh.queryFilter))
	if len(cfg.bootstrap) > 0 {
		dopts = append(dopts, dht.BootstrapPeers(cfg.bootstrap...))
	}
	dopts = append(dopts, cfg.dhtOptions...)
	d, err := dht.New(dh, dopts...)
	if err != nil {
		return nil, fmt.Errorf("start DHT %s: %w", Protocol(cfg.prefix), err)
	}
	dh.failed.setOnFail(func(p peer.ID) { d.RoutingTable().RemovePeer(p) })
	s := &Service{h: h, d: d, cfg: cfg, log: log, proto: Protocol(cfg.prefix)}
	s.watch = watchTable(d.RoutingTable(), log)
	if p := cfg.publisher; p != nil {
		s.watch.subscribe(func(c Change) { p.Publish(c.eventType(), c) }, false)
	}
	return s, nil
}

// Close stops the DHT and the delivery of routing-table changes. It is
// idempotent.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		err := s.d.Close()
		s.watch.close()
		if err != nil {
			s.closeErr = fmt.Errorf("close DHT: %w", err)
		}
	})
	return s.closeErr
}

// DHT returns the underlying kad-dht instance, for what this package does
// not cover. Do not replace its routing table's hooks: use Subscribe.
func (s *Service) DHT() *dht.IpfsDHT { return s.d }

// Validator returns the validator the DHT applies to value records: a
// record.NamespacedValidator with the namespaces given with WithValidator,
// or kad-dht's own "pk" and "ipns" when none was. A key whose namespace it
// does not know is neither stored nor returned.
func (s *Service) Validator() record.Validator { return s.d.Validator }

// Protocol returns the Kademlia protocol the DHT speaks.
func (s *Service) Protocol() protocol.ID { return s.proto }

// Mode reports whether the DHT serves requests now: ModeServer or ModeClient.
func (s *Service) Mode() Mode {
	if s.d.Mode() == dht.ModeServer {
		return ModeServer
	}
	return ModeClient
}

// Amino reports whether this is the Amino DHT (built by NewAmino).
func (s *Service) Amino() bool { return s.amino }

// Status is a summary of one DHT.
type Status struct {
	// Amino is true for the Amino DHT (NewAmino), false for a DHT of New.
	Amino    bool
	Protocol protocol.ID
	Mode     Mode // ModeServer or ModeClient
	// Size is the number of peers in the routing table.
	Size int
}

// Status summarises the DHT: its protocol, mode and routing-table size.
func (s *Service) Status() Status {
	return Status{Amino: s.amino, Protocol: s.proto, Mode: s.Mode(), Size: s.Size()}
}

// Size returns the number of peers in the routing table.
func (s *Service) Size() int { return s.d.RoutingTable().Size() }

// Bootstrap offers the connected peers to the routing table and, with
// auto-refresh on, asks for a refresh.
func (s *Service) Bootstrap(ctx context.Context) error {
	if err := s.d.Bootstrap(ctx); err != nil {
		return fmt.Errorf("dht bootstrap: %w", err)
	}
	return nil
}

// Refresh refreshes the routing table (a lookup per bucket) and waits for
// it to finish or for ctx.
func (s *Service) Refresh(ctx context.Context) error {
	select {
	case err := <-s.d.RefreshRoutingTable():
		if err != nil {
			return fmt.Errorf("routing table refresh: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("routing table refresh: %w", ctx.Err())
	}
}

// Closest runs a DHT lookup for the peers closest to key (at most the
// bucket size, 20).
func (s *Service) Closest(ctx context.Context, key string) ([]peer.ID, error) {
	if key == "" {
		return nil, fmt.Errorf("closest peers: %w: empty", ErrInvalidKey)
	}
	peers, err := s.d.GetClosestPeers(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("closest peers to %q: %w", key, err)
	}
	return peers, nil
}

// PutValue stores a value record in the DHT (routing.ValueStore).
func (s *Service) PutValue(ctx context.Context, key string, value []byte, opts ...corerouting.Option) error {
	return s.d.PutValue(ctx, key, value, opts...)
}

// GetValue finds the best value record of key (routing.ValueStore).
func (s *Service) GetValue(ctx context.Context, key string, opts ...corerouting.Option) ([]byte, error) {
	return s.d.GetValue(ctx, key, opts...)
}

// SearchValue streams ever better value records of key (routing.ValueStore).
func (s *Service) SearchValue(ctx context.Context, key string, opts ...corerouting.Option) (<-chan []byte, error) {
	return s.d.SearchValue(ctx, key, opts...)
}

// Provide announces this node as a provider of c (routing.ContentRouting).
func (s *Service) Provide(ctx context.Context, c cid.Cid, announce bool) error {
	return s.d.Provide(ctx, c, announce)
}

// FindProvidersAsync looks up providers of c (routing.ContentRouting).
func (s *Service) FindProvidersAsync(ctx context.Context, c cid.Cid, count int) <-chan peer.AddrInfo {
	return s.d.FindProvidersAsync(ctx, c, count)
}
