package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ipfs/go-datastore"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
)

// closeFlushTimeout bounds the final write of the known-peers table.
const closeFlushTimeout = 10 * time.Second

// Service is the discovery service of a node. Build it with New, run it
// with Start, stop it with Close.
type Service struct {
	h     host.Host
	d     *dht.IpfsDHT
	cfg   config
	log   *slog.Logger
	book  *peerBook
	boot  *Bootstrapper
	rv    *Rendezvous
	mdns  *mdnsDiscovery
	added chan peer.ID // peers the DHT added to its routing table

	mu      sync.Mutex
	started bool
	closed  bool
	cancel  context.CancelFunc
	sub     event.Subscription
	wg      sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// New builds the discovery service of host h, whose Kademlia DHT is d.
// Known peers are persisted in store under PeersNamespace; a nil store keeps
// them in memory only. New starts no goroutine.
//
// New wraps the routing table's PeerAdded hook (keeping the DHT's own) to
// learn the peers the DHT adds. The hook is a plain field that the DHT reads
// under its own lock, so call New right after building the DHT, before the
// host connects to anyone.
func New(h host.Host, d *dht.IpfsDHT, store datastore.Batching, opts ...Option) (*Service, error) {
	if h == nil || d == nil {
		return nil, errors.New("discovery: host and dht are required")
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("discovery option: %w", err)
		}
	}
	log := cfg.logger
	if log == nil {
		log = slog.Default().With(slog.String("component", "discovery"))
	}
	s := &Service{h: h, d: d, cfg: cfg, log: log, added: make(chan peer.ID, 256)}
	s.book = newPeerBook(h, store, &s.cfg, log)
	s.boot = newBootstrapper(h, d, s.book, &s.cfg, log)
	s.rv = newRendezvous(h, d, s.book, &s.cfg, log)

	rt := d.RoutingTable()
	prev := rt.PeerAdded
	rt.PeerAdded = func(p peer.ID) {
		if prev != nil {
			prev(p)
		}
		// Called under the routing table's lock: hand over, never block.
		// A dropped peer is picked up by the periodic routing-table scan.
		select {
		case s.added <- p:
		default:
		}
	}
	return s, nil
}

// Start loads the persisted known peers into the peerstore, then starts the
// background work: dialling bootstrap and known peers, refreshing the DHT,
// the low-water watcher, recording discovered peers, persisting them, and
// mDNS if enabled. ctx bounds the loading only; the background work runs
// until Close. Start may be called once.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return fmt.Errorf("discovery start: %w", ErrClosed)
	case s.started:
		return errors.New("discovery start: already started")
	}
	s.started = true

	n, err := s.book.load(ctx)
	if err != nil {
		return fmt.Errorf("discovery start: %w", err)
	}
	sub, err := s.h.EventBus().Subscribe([]any{
		new(event.EvtPeerIdentificationCompleted),
		new(event.EvtPeerConnectednessChanged),
	}, eventbus.BufSize(256), eventbus.Name("plexus-discovery"))
	if err != nil {
		return fmt.Errorf("discovery start: subscribe to host events: %w", err)
	}
	s.sub = sub
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.log.Info("discovery starting", "known_peers", n, "bootstrap_peers", len(s.boot.peers), "mdns", s.cfg.mdns)

	s.recordRoutingTable()
	disconnects := make(chan struct{}, 1)
	s.wg.Go(func() { s.recordEvents(runCtx, disconnects) })
	s.wg.Go(func() { s.persistLoop(runCtx) })
	s.boot.start(runCtx, &s.wg, disconnects)

	if s.cfg.mdns {
		m, err := startMDNS(s.h, s.book, &s.cfg, s.log)
		if err != nil {
			// The node stays useful without mDNS (e.g. no multicast interface).
			s.log.Warn("mdns disabled", "err", err)
		} else {
			s.mdns = m
		}
	}
	return nil
}

// Close stops the background work, leaves every rendezvous topic and writes
// the known-peers table to the datastore (so close the datastore after).
// It is idempotent.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		started := s.started
		s.mu.Unlock()

		var errs []error
		if s.mdns != nil {
			errs = append(errs, s.mdns.close())
		}
		s.rv.close()
		if s.cancel != nil {
			s.cancel()
		}
		s.wg.Wait()
		if s.sub != nil {
			errs = append(errs, s.sub.Close())
		}
		if started {
			s.book.touchConnected()
			ctx, cancel := context.WithTimeout(context.Background(), closeFlushTimeout)
			errs = append(errs, s.book.flush(ctx))
			cancel()
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// KnownPeers returns the known-peers table, most recently seen first.
func (s *Service) KnownPeers() []KnownPeer {
	return s.book.list()
}

// BootstrapStatus reports the configured bootstrap peers.
func (s *Service) BootstrapStatus() []BootstrapStatus {
	return s.boot.Status()
}

// Bootstrapper returns the service's bootstrapper.
func (s *Service) Bootstrapper() *Bootstrapper {
	return s.boot
}

// Rendezvous returns the service's rendezvous, usable before Start; Close
// leaves its topics.
func (s *Service) Rendezvous() *Rendezvous {
	return s.rv
}

// Flush writes the known peers changed since the last write to the
// datastore now, instead of waiting for the persist interval.
func (s *Service) Flush(ctx context.Context) error {
	s.book.touchConnected()
	return s.book.flush(ctx)
}

// recordEvents records identified peers and peers the DHT added to its
// routing table, and signals disconnections to the watcher.
func (s *Service) recordEvents(ctx context.Context, disconnects chan<- struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-s.added:
			s.book.record(p, SourceDHT, s.h.Peerstore().Addrs(p))
		case ev, ok := <-s.sub.Out():
			if !ok {
				return
			}
			switch e := ev.(type) {
			case event.EvtPeerIdentificationCompleted:
				s.book.record(e.Peer, SourceIdentify, e.ListenAddrs)
			case event.EvtPeerConnectednessChanged:
				if e.Connectedness != network.Connected {
					select {
					case disconnects <- struct{}{}:
					default:
					}
				}
			}
		}
	}
}

// recordRoutingTable records the routing table's peers as learned from the
// DHT, catching those whose PeerAdded hand-over was dropped.
func (s *Service) recordRoutingTable() {
	for _, p := range s.d.RoutingTable().ListPeers() {
		s.book.record(p, SourceDHT, s.h.Peerstore().Addrs(p))
	}
}

func (s *Service) persistLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.persistInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.recordRoutingTable()
		s.book.touchConnected()
		if err := s.book.flush(ctx); err != nil {
			s.log.Warn("persist known peers", "err", err)
		}
	}
}
