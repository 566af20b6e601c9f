package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	corerouting "github.com/libp2p/go-libp2p/core/routing"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"

	"github.com/plexus-p2p/plexus/routing"
)

// closeFlushTimeout bounds the final write of the known-peers table.
const closeFlushTimeout = 10 * time.Second

// Routing is what discovery needs from the node's DHT; *routing.Service
// implements it.
type Routing interface {
	corerouting.ContentRouting
	// Bootstrap offers the connected peers to the routing table.
	Bootstrap(ctx context.Context) error
	// Refresh refreshes the routing table and waits for it.
	Refresh(ctx context.Context) error
	// Size returns the number of peers in the routing table.
	Size() int
	// Subscribe calls f with the peers in the routing table, then with
	// every change, until cancel.
	Subscribe(f func(routing.Change)) (cancel func())
}

// Service is the discovery service of a node. Build it with New, run it
// with Start, stop it with Close.
type Service struct {
	h           host.Host
	cfg         config
	log         *slog.Logger
	book        *peerBook
	boot        *Bootstrapper
	rv          *Rendezvous
	mdns        *mdnsDiscovery
	unsubscribe func() // from the routing table's changes

	mu      sync.Mutex
	started bool
	closed  bool
	cancel  context.CancelFunc
	sub     event.Subscription
	wg      sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// New builds the discovery service of host h, whose Kademlia DHT is rt.
// Known peers are persisted in store under PeersNamespace; a nil store keeps
// them in memory only. New starts no goroutine; from New on, every peer
// that enters the routing table is recorded as a known peer.
func New(h host.Host, rt Routing, store datastore.Batching, opts ...Option) (*Service, error) {
	if h == nil || rt == nil {
		return nil, errors.New("discovery: host and routing are required")
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
	s := &Service{h: h, cfg: cfg, log: log}
	s.book = newPeerBook(h, store, &s.cfg, log)
	s.boot = newBootstrapper(h, rt, s.book, &s.cfg, log)
	s.rv = newRendezvous(h, rt, s.book, &s.cfg, log)
	s.unsubscribe = rt.Subscribe(func(c routing.Change) {
		if c.Added {
			s.book.record(c.Peer, SourceDHT, h.Peerstore().Addrs(c.Peer))
		}
	})
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

		s.unsubscribe()
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

// JoinRendezvous advertises this node under topic and keeps connections to
// the topic's other peers until LeaveRendezvous or Close (Rendezvous.Join).
func (s *Service) JoinRendezvous(ctx context.Context, topic string) error {
	return s.rv.Join(ctx, topic)
}

// LeaveRendezvous stops advertising topic (Rendezvous.Leave).
func (s *Service) LeaveRendezvous(topic string) error {
	return s.rv.Leave(topic)
}

// RendezvousPeers looks up the other peers that joined topic
// (Rendezvous.Peers).
func (s *Service) RendezvousPeers(ctx context.Context, topic string) ([]peer.AddrInfo, error) {
	return s.rv.Peers(ctx, topic)
}

// RendezvousTopics returns the joined topics, sorted (Rendezvous.Topics).
func (s *Service) RendezvousTopics() []string {
	return s.rv.Topics()
}

// Flush writes the known peers changed since the last write to the
// datastore now, instead of waiting for the persist interval.
func (s *Service) Flush(ctx context.Context) error {
	s.book.touchConnected()
	return s.book.flush(ctx)
}

// recordEvents records identified peers and signals disconnections to the
// watcher.
func (s *Service) recordEvents(ctx context.Context, disconnects chan<- struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
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

// persistLoop writes new and changed known peers within the flush interval
// (a batch of what changed, nothing when nothing did) and refreshes the
// last-seen times of connected peers every persist interval.
func (s *Service) persistLoop(ctx context.Context) {
	touch := time.NewTicker(s.cfg.persistInterval)
	defer touch.Stop()
	flush := time.NewTicker(s.cfg.flushInterval)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-touch.C:
			s.book.touchConnected()
		case <-flush.C:
		}
		if err := s.book.flush(ctx); err != nil {
			s.log.Warn("persist known peers", "err", err)
		}
	}
}
