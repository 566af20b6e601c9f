package discovery

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// BootstrapStatus is the state of one configured bootstrap peer.
type BootstrapStatus struct {
	Peer      peer.ID
	Addrs     []ma.Multiaddr
	Connected bool
	// Attempts counts the failed dials since the last successful one.
	Attempts  int
	LastError string
	// LastAttempt and LastConnected are zero if it never happened.
	LastAttempt   time.Time
	LastConnected time.Time
	// NextRetry is when the peer will be dialled again; zero when no dial is
	// scheduled (it answered, or a dial is under way).
	NextRetry time.Time
}

// knownDialConcurrency bounds the parallel dials to known peers.
const knownDialConcurrency = 8

// ErrNotStarted is returned by operations that need a started Service.
var ErrNotStarted = errors.New("discovery service not started")

// Bootstrapper dials the configured bootstrap peers and the persisted known
// peers, refreshes the DHT routing table once connected, and re-bootstraps
// when the node's connections fall below the low-water mark. Its goroutines
// are started by Service.Start and stopped by Service.Close.
//
// A bootstrap peer is dialled until it answers once, each failure pushing
// the next dial back (capped, jittered exponential backoff); after that it
// is dialled again only by a re-bootstrap, under the same backoff. Known
// peers are dialled once at start and once per re-bootstrap.
type Bootstrapper struct {
	h    host.Host
	rt   Routing
	book *peerBook
	cfg  *config
	log  *slog.Logger

	kick      chan struct{} // wakes run: a dial finished or a re-bootstrap was asked for
	refreshCh chan struct{} // asks refreshLoop for a DHT refresh

	mu              sync.Mutex
	peers           []*bootPeer
	knownDialing    map[peer.ID]struct{}
	lastRebootstrap time.Time
	ctx             context.Context // nil until started
	wg              *sync.WaitGroup
}

type bootPeer struct {
	info          peer.AddrInfo
	wanted        bool // dial when due
	dialing       bool
	attempts      int
	lastErr       string
	lastAttempt   time.Time
	lastConnected time.Time
	nextRetry     time.Time
}

func newBootstrapper(h host.Host, rt Routing, book *peerBook, cfg *config, log *slog.Logger) *Bootstrapper {
	b := &Bootstrapper{
		h: h, rt: rt, book: book, cfg: cfg, log: log,
		kick:         make(chan struct{}, 1),
		refreshCh:    make(chan struct{}, 1),
		knownDialing: make(map[peer.ID]struct{}),
	}
	for _, ai := range cfg.bootstrapPeers {
		if ai.ID == h.ID() {
			continue
		}
		b.peers = append(b.peers, &bootPeer{info: ai, wanted: true})
	}
	return b
}

// Status reports every configured bootstrap peer, in configuration order.
func (b *Bootstrapper) Status() []BootstrapStatus {
	b.mu.Lock()
	out := make([]BootstrapStatus, 0, len(b.peers))
	for _, bp := range b.peers {
		st := BootstrapStatus{
			Peer:          bp.info.ID,
			Addrs:         slices.Clone(bp.info.Addrs),
			Attempts:      bp.attempts,
			LastError:     bp.lastErr,
			LastAttempt:   bp.lastAttempt,
			LastConnected: bp.lastConnected,
		}
		if bp.wanted && !bp.dialing {
			st.NextRetry = bp.nextRetry
		}
		out = append(out, st)
	}
	b.mu.Unlock()
	for i := range out {
		out[i].Connected = b.h.Network().Connectedness(out[i].Peer) == network.Connected
	}
	return out
}

// Rebootstrap dials again the bootstrap peers the node is not connected to
// (each no sooner than its backoff allows) and the most recently seen known
// peers, then refreshes the DHT routing table.
func (b *Bootstrapper) Rebootstrap() error {
	b.mu.Lock()
	ctx := b.ctx
	b.mu.Unlock()
	if ctx == nil {
		return ErrNotStarted
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b.rebootstrap(ctx)
	return nil
}

// start launches the dial scheduler, the DHT refresher and, with a low-water
// mark set, the watcher. disconnects receives a value when a peer disconnects.
func (b *Bootstrapper) start(ctx context.Context, wg *sync.WaitGroup, disconnects <-chan struct{}) {
	b.mu.Lock()
	b.ctx, b.wg = ctx, wg
	b.lastRebootstrap = time.Now()
	b.mu.Unlock()

	b.dialKnown(ctx)
	wg.Go(func() { b.run(ctx) })
	wg.Go(func() { b.refreshLoop(ctx) })
	if b.cfg.lowWater > 0 {
		wg.Go(func() { b.watch(ctx, disconnects) })
	}
}

func (b *Bootstrapper) wake() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

func (b *Bootstrapper) requestRefresh() {
	select {
	case b.refreshCh <- struct{}{}:
	default:
	}
}

// run dials each wanted bootstrap peer when its retry is due.
func (b *Bootstrapper) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var due <-chan time.Time
		if next := b.dialDue(ctx); !next.IsZero() {
			timer.Reset(time.Until(next))
			due = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case <-b.kick:
		case <-due:
		}
		timer.Stop()
	}
}

// dialDue starts a dial to every wanted peer whose retry time has come and
// returns the earliest retry time still ahead (zero if none).
func (b *Bootstrapper) dialDue(ctx context.Context) time.Time {
	now := time.Now()
	var next time.Time
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, bp := range b.peers {
		if !bp.wanted || bp.dialing {
			continue
		}
		if b.h.Network().Connectedness(bp.info.ID) == network.Connected {
			// It dialled us, or another part of the node dialled it.
			bp.wanted, bp.attempts, bp.lastErr, bp.nextRetry = false, 0, "", time.Time{}
			bp.lastConnected = now
			continue
		}
		if bp.nextRetry.After(now) {
			if next.IsZero() || bp.nextRetry.Before(next) {
				next = bp.nextRetry
			}
			continue
		}
		bp.dialing = true
		bp.lastAttempt = now
		b.wg.Go(func() { b.dial(ctx, bp) })
	}
	return next
}

func (b *Bootstrapper) dial(ctx context.Context, bp *bootPeer) {
	info := bp.info // never written after construction
	dctx, cancel := context.WithTimeout(ctx, b.cfg.dialTimeout)
	err := b.h.Connect(dctx, info)
	cancel()
	if ctx.Err() != nil {
		return
	}

	now := time.Now()
	b.mu.Lock()
	bp.dialing = false
	var failed BootstrapFailed
	if err == nil {
		bp.wanted, bp.attempts, bp.lastErr, bp.nextRetry = false, 0, "", time.Time{}
		bp.lastConnected = now
	} else {
		bp.attempts++
		bp.lastErr = err.Error()
		bp.nextRetry = now.Add(backoffDelay(bp.attempts, b.cfg.backoffBase, b.cfg.backoffMax, rand.Int64N))
		failed = BootstrapFailed{Peer: info.ID, Error: bp.lastErr, Attempts: bp.attempts, NextRetry: bp.nextRetry}
	}
	b.mu.Unlock()

	if err == nil {
		b.log.Info("connected to bootstrap peer", "peer", info.ID)
		b.book.record(info.ID, SourceBootstrap, info.Addrs)
		b.requestRefresh()
	} else {
		b.log.Warn("bootstrap peer did not answer", "peer", info.ID, "attempts", failed.Attempts,
			"next_retry", failed.NextRetry, "err", err)
		b.cfg.publish(EventBootstrapFailed, failed)
	}
	b.wake()
}

func (b *Bootstrapper) isBootstrapPeer(p peer.ID) bool {
	return slices.ContainsFunc(b.peers, func(bp *bootPeer) bool { return bp.info.ID == p })
}

// dialKnown dials, with bounded parallelism, the most recently seen known
// peers that are neither bootstrap peers nor connected nor being dialled.
func (b *Bootstrapper) dialKnown(ctx context.Context) {
	b.mu.Lock()
	cands := b.book.dialCandidates(b.cfg.knownPeerDials, func(p peer.ID) bool {
		_, dialing := b.knownDialing[p]
		return dialing || b.isBootstrapPeer(p)
	})
	for _, ai := range cands {
		b.knownDialing[ai.ID] = struct{}{}
	}
	b.mu.Unlock()
	if len(cands) == 0 {
		return
	}
	b.log.Debug("dialling known peers", "count", len(cands))

	b.wg.Go(func() {
		sem := make(chan struct{}, knownDialConcurrency)
		var wg sync.WaitGroup
		for _, ai := range cands {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				break
			}
			wg.Go(func() {
				defer func() { <-sem }()
				dctx, cancel := context.WithTimeout(ctx, b.cfg.dialTimeout)
				err := b.h.Connect(dctx, ai)
				cancel()
				if err != nil {
					b.log.Debug("known peer did not answer", "peer", ai.ID, "err", err)
				} else {
					b.requestRefresh()
				}
			})
		}
		wg.Wait()
		b.mu.Lock()
		for _, ai := range cands {
			delete(b.knownDialing, ai.ID)
		}
		b.mu.Unlock()
	})
}

func (b *Bootstrapper) rebootstrap(ctx context.Context) {
	b.mu.Lock()
	b.lastRebootstrap = time.Now()
	for _, bp := range b.peers {
		if b.h.Network().Connectedness(bp.info.ID) != network.Connected {
			bp.wanted = true // nextRetry is kept: backoff still applies
		}
	}
	b.mu.Unlock()
	b.wake()
	b.dialKnown(ctx)
	b.requestRefresh()
}

// watch re-bootstraps, at most once per rebootstrap interval, while the
// node has fewer connected peers than the low-water mark.
func (b *Bootstrapper) watch(ctx context.Context, disconnects <-chan struct{}) {
	t := time.NewTicker(b.cfg.watchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-disconnects:
		}
		n := len(b.h.Network().Peers())
		if n >= b.cfg.lowWater {
			continue
		}
		b.mu.Lock()
		since := time.Since(b.lastRebootstrap)
		b.mu.Unlock()
		if since < b.cfg.rebootstrapInterval {
			continue // the ticker brings us back
		}
		b.log.Info("connected peers below low water, re-bootstrapping", "connected", n, "low_water", b.cfg.lowWater)
		b.rebootstrap(ctx)
	}
}

// refreshLoop refreshes the DHT routing table when asked, at most once per
// rebootstrap interval; requests arriving meanwhile are merged.
func (b *Bootstrapper) refreshLoop(ctx context.Context) {
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.refreshCh:
		}
		if wait := b.cfg.rebootstrapInterval - time.Since(last); !last.IsZero() && wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		last = time.Now()
		b.refreshDHT(ctx)
	}
}

// refreshDHT runs the DHT's Bootstrap (which offers the connected peers to the
// routing table) and, once the table holds a peer, a routing-table refresh.
// While the table is smaller than a bucket and the refresh grew it, it asks
// for another refresh (after the rebootstrap interval).
func (b *Bootstrapper) refreshDHT(ctx context.Context) {
	if err := b.rt.Bootstrap(ctx); err != nil {
		b.log.Warn("dht bootstrap", "err", err)
	}
	// A connected peer enters the routing table only after identify and a
	// lookup check, which a busy peer may answer late or not at all; a
	// refresh before that has nobody to ask. Offer the connected peers
	// again every second until one is in.
	deadline := time.Now().Add(max(4*b.cfg.dialTimeout, time.Minute))
	reoffer := time.Now().Add(time.Second)
	for b.rt.Size() == 0 {
		now := time.Now()
		if now.After(deadline) || len(b.h.Network().Peers()) == 0 {
			b.log.Debug("routing table still empty, skipping refresh")
			return
		}
		if now.After(reoffer) {
			_ = b.rt.Bootstrap(ctx)
			reoffer = now.Add(time.Second)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
	before := b.rt.Size()
	if err := b.rt.Refresh(ctx); err != nil {
		if ctx.Err() != nil {
			return
		}
		b.log.Debug("routing table refresh", "err", err)
	}
	after := b.rt.Size()
	b.log.Debug("routing table refreshed", "size_before", before, "size", after)
	if after > before && after < refreshAgainBelow {
		b.requestRefresh()
	}
}

// refreshAgainBelow is the routing-table size (a Kademlia bucket) under
// which a refresh that found new peers is followed by another.
const refreshAgainBelow = 20
