package discovery

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
)

// mdnsDialConcurrency bounds the parallel dials to peers found over mDNS;
// peers found while it is reached are recorded but not dialled (mDNS
// announces them again).
const mdnsDialConcurrency = 8

// mdnsDiscovery runs go-libp2p's mDNS service and dials the peers it finds.
type mdnsDiscovery struct {
	h    host.Host
	book *peerBook
	cfg  *config
	log  *slog.Logger
	svc  mdns.Service

	ctx    context.Context
	cancel context.CancelFunc
	sem    chan struct{}

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

func startMDNS(h host.Host, book *peerBook, cfg *config, log *slog.Logger) (*mdnsDiscovery, error) {
	ctx, cancel := context.WithCancel(context.Background())
	m := &mdnsDiscovery{
		h: h, book: book, cfg: cfg, log: log,
		ctx: ctx, cancel: cancel,
		sem: make(chan struct{}, mdnsDialConcurrency),
	}
	m.svc = mdns.NewMdnsService(h, cfg.mdnsServiceName, m)
	if err := m.svc.Start(); err != nil {
		cancel()
		_ = m.svc.Close()
		return nil, fmt.Errorf("start mdns service %q: %w", cfg.mdnsServiceName, err)
	}
	return m, nil
}

// HandlePeerFound implements mdns.Notifee. The mDNS service calls it from
// goroutines it does not wait for, so it may run after close.
func (m *mdnsDiscovery) HandlePeerFound(ai peer.AddrInfo) {
	if ai.ID == m.h.ID() {
		return
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.book.record(ai.ID, SourceMDNS, ai.Addrs)
	if m.h.Network().Connectedness(ai.ID) == network.Connected {
		m.mu.Unlock()
		return
	}
	select {
	case m.sem <- struct{}{}:
	default:
		m.mu.Unlock()
		return
	}
	m.wg.Add(1)
	m.mu.Unlock()

	go func() {
		defer m.wg.Done()
		defer func() { <-m.sem }()
		m.dial(ai)
	}()
}

// mdnsDialAttempts bounds the dials to one peer found over mDNS.
const mdnsDialAttempts = 4

// dial connects to a peer found over mDNS. Both peers usually find each
// other at the same moment; two simultaneous TCP dials between listen
// ports (which go-libp2p reuses) become one TCP simultaneous open that
// the security handshake rejects. So the peer with the lower ID dials
// first and the other waits one backoff step and dials only if still not
// connected; failed dials are retried with backoff.
func (m *mdnsDiscovery) dial(ai peer.AddrInfo) {
	wait := time.Duration(0)
	if m.h.ID() > ai.ID {
		wait = backoffDelay(1, m.cfg.backoffBase, m.cfg.backoffMax, rand.Int64N) + m.cfg.backoffBase
	}
	for attempt := 1; ; attempt++ {
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-m.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		if m.h.Network().Connectedness(ai.ID) == network.Connected {
			return
		}
		ctx, cancel := context.WithTimeout(m.ctx, m.cfg.dialTimeout)
		err := m.h.Connect(ctx, ai)
		cancel()
		if err == nil {
			m.log.Info("connected to mdns peer", "peer", ai.ID)
			return
		}
		if attempt == mdnsDialAttempts || m.ctx.Err() != nil {
			m.log.Info("mdns peer did not answer", "peer", ai.ID, "attempts", attempt, "err", err)
			return
		}
		m.log.Debug("mdns peer did not answer, retrying", "peer", ai.ID, "attempt", attempt, "err", err)
		wait = backoffDelay(attempt, m.cfg.backoffBase, m.cfg.backoffMax, rand.Int64N)
	}
}

func (m *mdnsDiscovery) close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.cancel()
	err := m.svc.Close()
	m.wg.Wait()
	if err != nil {
		return fmt.Errorf("close mdns service: %w", err)
	}
	return nil
}
