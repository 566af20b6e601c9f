package discovery

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	ma "github.com/multiformats/go-multiaddr"
)

// Source says how the node learned of a peer.
type Source string

// The sources of known peers.
const (
	SourceBootstrap  Source = "bootstrap"
	SourceIdentify   Source = "identify"
	SourceDHT        Source = "dht"
	SourceMDNS       Source = "mdns"
	SourceRendezvous Source = "rendezvous"
)

// sources lists every Source; its index is the bit in a sourceSet.
var sources = []Source{SourceBootstrap, SourceIdentify, SourceDHT, SourceMDNS, SourceRendezvous}

type sourceSet uint8

func sourceBit(s Source) sourceSet {
	return sourceSet(1) << slices.Index(sources, s)
}

func (set sourceSet) list() []Source {
	var out []Source
	for i, s := range sources {
		if set&(1<<i) != 0 {
			out = append(out, s)
		}
	}
	return out
}

// KnownPeer is one entry of the known-peers table.
type KnownPeer struct {
	ID        peer.ID
	Addrs     []ma.Multiaddr
	Sources   []Source
	FirstSeen time.Time
	LastSeen  time.Time
	// Connected reports whether the node is connected to the peer now.
	Connected bool
}

// PeersNamespace is the datastore key prefix under which known peers are
// persisted, one JSON record per key PeersNamespace/<peer ID>.
const PeersNamespace = "/plexus/peers"

// maxAddrsPerPeer bounds the addresses kept for one peer: a remote peer
// chooses what it announces, and must not grow the table without bound.
const maxAddrsPerPeer = 16

// storedPeer is the persisted form of a KnownPeer: the JSON stored under
// PeersNamespace/<peer ID>. Its field names are a storage format: keep them.
type storedPeer struct {
	ID        peer.ID   `json:"peer_id"`
	Addrs     []string  `json:"addrs"`
	Sources   []Source  `json:"sources"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

type bookEntry struct {
	addrs     []ma.Multiaddr
	sources   sourceSet
	firstSeen time.Time
	lastSeen  time.Time
	dirty     bool // changed since the last flush
	// identified: the peer listed its own addresses in this run; they
	// replace the others (issue 20 row 10).
	identified bool
}

// peerBook is the bounded known-peers table and its persistence.
type peerBook struct {
	h     host.Host
	store datastore.Batching // nil: not persisted
	cfg   *config
	log   *slog.Logger

	mu      sync.Mutex
	peers   map[peer.ID]*bookEntry
	evicted bool // some entry was evicted since the last flush
}

func newPeerBook(h host.Host, store datastore.Batching, cfg *config, log *slog.Logger) *peerBook {
	return &peerBook{h: h, store: store, cfg: cfg, log: log, peers: make(map[peer.ID]*bookEntry)}
}

func peerKey(p peer.ID) datastore.Key {
	return datastore.NewKey(PeersNamespace + "/" + p.String())
}

// record notes that p was learned of from src at addrs, and publishes
// EventPeerDiscovered the first time p is seen from src.
func (b *peerBook) record(p peer.ID, src Source, addrs []ma.Multiaddr) {
	if p == "" || p == b.h.ID() {
		return
	}
	now := time.Now()
	b.mu.Lock()
	e, ok := b.peers[p]
	if !ok {
		if len(b.peers) >= b.cfg.maxKnownPeers {
			b.evictOldestLocked()
		}
		e = &bookEntry{firstSeen: now}
		b.peers[p] = e
	}
	bit := sourceBit(src)
	newSource := e.sources&bit == 0
	e.sources |= bit
	switch {
	case src == SourceIdentify:
		// The peer's own list is its current addresses: the others are
		// stale (it restarted on new ports). Kept, they pile up across
		// restarts, and on the next one this node dials them all at once:
		// dials to dead QUIC and WebRTC ports hang, hold the peer's
		// connection slots in both resource managers (8 per peer), and the
		// peer's own connection is refused (issue 20 row 10).
		e.addrs = mergeAddrs(addrs, nil)
		e.identified = true
	case !e.identified:
		e.addrs = mergeAddrs(addrs, e.addrs)
	}
	e.lastSeen = now
	e.dirty = true
	published := slices.Clone(e.addrs)
	b.mu.Unlock()

	if newSource {
		b.log.Debug("peer discovered", "peer", p, "source", src, "addrs", len(published))
		b.cfg.publish(EventPeerDiscovered, PeerDiscovered{Peer: p, Source: src, Addrs: published})
	}
}

// touchConnected marks every connected peer already in the table as seen now,
// so that restarts prefer peers the node was recently connected to.
func (b *peerBook) touchConnected() {
	now := time.Now()
	conns := b.h.Network().Peers()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range conns {
		if e, ok := b.peers[p]; ok {
			e.lastSeen = now
			e.dirty = true
		}
	}
}

// mergeAddrs returns fresh followed by the addresses of old not in fresh,
// at most maxAddrsPerPeer of them.
func mergeAddrs(fresh, old []ma.Multiaddr) []ma.Multiaddr {
	out := make([]ma.Multiaddr, 0, min(len(fresh)+len(old), maxAddrsPerPeer))
	seen := make(map[string]struct{}, cap(out))
	for _, list := range [][]ma.Multiaddr{fresh, old} {
		for _, a := range list {
			if len(out) == maxAddrsPerPeer {
				return out
			}
			if len(a) == 0 {
				continue
			}
			k := string(a.Bytes())
			if _, dup := seen[k]; dup {
				continue
			}
			seen[k] = struct{}{}
			out = append(out, a)
		}
	}
	return out
}

func (b *peerBook) evictOldestLocked() {
	var oldest peer.ID
	var oldestSeen time.Time
	for p, e := range b.peers {
		if oldest == "" || e.lastSeen.Before(oldestSeen) {
			oldest, oldestSeen = p, e.lastSeen
		}
	}
	if oldest != "" {
		delete(b.peers, oldest)
		b.evicted = true
	}
}

// list returns the table, most recently seen first.
func (b *peerBook) list() []KnownPeer {
	b.mu.Lock()
	out := make([]KnownPeer, 0, len(b.peers))
	for p, e := range b.peers {
		out = append(out, KnownPeer{
			ID:        p,
			Addrs:     slices.Clone(e.addrs),
			Sources:   e.sources.list(),
			FirstSeen: e.firstSeen,
			LastSeen:  e.lastSeen,
		})
	}
	b.mu.Unlock()
	for i := range out {
		out[i].Connected = b.h.Network().Connectedness(out[i].ID) == network.Connected
	}
	slices.SortFunc(out, func(x, y KnownPeer) int {
		if c := y.LastSeen.Compare(x.LastSeen); c != 0 {
			return c
		}
		return strings.Compare(string(x.ID), string(y.ID))
	})
	return out
}

// dialCandidates returns up to n known peers with addresses that the node is
// not connected to and that skip does not exclude, most recently seen first.
func (b *peerBook) dialCandidates(n int, skip func(peer.ID) bool) []peer.AddrInfo {
	if n <= 0 {
		return nil
	}
	var out []peer.AddrInfo
	for _, kp := range b.list() {
		if len(out) == n {
			break
		}
		if kp.Connected || len(kp.Addrs) == 0 || (skip != nil && skip(kp.ID)) {
			continue
		}
		out = append(out, peer.AddrInfo{ID: kp.ID, Addrs: kp.Addrs})
	}
	return out
}

// load reads the persisted peers into the table and their addresses into the
// peerstore, keeping the most recently seen ones if there are more than the
// table holds. Undecodable records are deleted.
func (b *peerBook) load(ctx context.Context) (int, error) {
	if b.store == nil {
		return 0, nil
	}
	var loaded []storedPeer
	var bad []datastore.Key
	for r, err := range datastore.QueryIter(ctx, b.store, query.Query{Prefix: PeersNamespace}) {
		if err != nil {
			return 0, fmt.Errorf("load known peers under %s: %w", PeersNamespace, err)
		}
		sp, err := decodeStoredPeer(r.Key, r.Value)
		if err != nil {
			b.log.Warn("dropping unreadable known peer record", "key", r.Key, "err", err)
			bad = append(bad, datastore.NewKey(r.Key))
			continue
		}
		if sp.ID == b.h.ID() {
			continue
		}
		loaded = append(loaded, sp)
	}
	for _, k := range bad {
		if err := b.store.Delete(ctx, k); err != nil {
			return 0, fmt.Errorf("delete unreadable known peer %s: %w", k, err)
		}
	}
	slices.SortFunc(loaded, func(x, y storedPeer) int { return y.LastSeen.Compare(x.LastSeen) })
	if len(loaded) > b.cfg.maxKnownPeers {
		loaded = loaded[:b.cfg.maxKnownPeers]
		b.evicted = true
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	for _, sp := range loaded {
		e := &bookEntry{firstSeen: sp.FirstSeen, lastSeen: sp.LastSeen}
		for _, s := range sp.Sources {
			if slices.Contains(sources, s) {
				e.sources |= sourceBit(s)
			}
		}
		for _, s := range sp.Addrs {
			if a, err := ma.NewMultiaddr(s); err == nil {
				e.addrs = append(e.addrs, a)
			}
		}
		e.addrs = mergeAddrs(e.addrs, nil)
		if old, ok := b.peers[sp.ID]; ok { // already learned of during this run
			old.addrs = mergeAddrs(old.addrs, e.addrs)
			old.sources |= e.sources
			if sp.FirstSeen.Before(old.firstSeen) {
				old.firstSeen = sp.FirstSeen
			}
			continue
		}
		b.peers[sp.ID] = e
		if len(e.addrs) > 0 {
			b.h.Peerstore().AddAddrs(sp.ID, e.addrs, peerstore.AddressTTL)
		}
	}
	return len(loaded), nil
}

func decodeStoredPeer(key string, value []byte) (storedPeer, error) {
	var sp storedPeer
	if err := json.Unmarshal(value, &sp); err != nil {
		return sp, err
	}
	if err := sp.ID.Validate(); err != nil {
		return sp, fmt.Errorf("peer id: %w", err)
	}
	if peerKey(sp.ID).String() != key {
		return sp, fmt.Errorf("record of %s stored under another key", sp.ID)
	}
	return sp, nil
}

// flush writes the entries changed since the last flush and deletes the
// records of evicted peers, then syncs the namespace.
func (b *peerBook) flush(ctx context.Context) error {
	if b.store == nil {
		return nil
	}
	b.mu.Lock()
	var dirty []storedPeer
	for p, e := range b.peers {
		if !e.dirty {
			continue
		}
		e.dirty = false
		sp := storedPeer{ID: p, Sources: e.sources.list(), FirstSeen: e.firstSeen, LastSeen: e.lastSeen}
		for _, a := range e.addrs {
			sp.Addrs = append(sp.Addrs, a.String())
		}
		dirty = append(dirty, sp)
	}
	var keep map[peer.ID]struct{}
	evicted := b.evicted
	if evicted {
		b.evicted = false
		keep = make(map[peer.ID]struct{}, len(b.peers))
		for p := range b.peers {
			keep[p] = struct{}{}
		}
	}
	b.mu.Unlock()

	err := b.write(ctx, dirty, keep)
	if err != nil {
		// Try again at the next flush.
		b.mu.Lock()
		for _, sp := range dirty {
			if e, ok := b.peers[sp.ID]; ok {
				e.dirty = true
			}
		}
		b.evicted = b.evicted || evicted
		b.mu.Unlock()
	}
	return err
}

func (b *peerBook) write(ctx context.Context, dirty []storedPeer, keep map[peer.ID]struct{}) error {
	if len(dirty) == 0 && keep == nil {
		return nil
	}
	batch, err := b.store.Batch(ctx)
	if err != nil {
		return fmt.Errorf("persist known peers: %w", err)
	}
	slices.SortFunc(dirty, func(x, y storedPeer) int { return cmp.Compare(x.ID, y.ID) })
	for _, sp := range dirty {
		v, err := json.Marshal(sp)
		if err != nil {
			return fmt.Errorf("persist known peer %s: %w", sp.ID, err)
		}
		if err := batch.Put(ctx, peerKey(sp.ID), v); err != nil {
			return fmt.Errorf("persist known peer %s: %w", sp.ID, err)
		}
	}
	if keep != nil {
		q := query.Query{Prefix: PeersNamespace, KeysOnly: true}
		for r, err := range datastore.QueryIter(ctx, b.store, q) {
			if err != nil {
				return fmt.Errorf("list known peers under %s: %w", PeersNamespace, err)
			}
			id, err := peer.Decode(datastore.NewKey(r.Key).BaseNamespace())
			if _, ok := keep[id]; ok && err == nil {
				continue
			}
			if err := batch.Delete(ctx, datastore.NewKey(r.Key)); err != nil {
				return fmt.Errorf("delete known peer %s: %w", r.Key, err)
			}
		}
	}
	if err := batch.Commit(ctx); err != nil {
		return fmt.Errorf("persist %d known peers: %w", len(dirty), err)
	}
	if err := b.store.Sync(ctx, datastore.NewKey(PeersNamespace)); err != nil {
		return fmt.Errorf("sync %s: %w", PeersNamespace, err)
	}
	return nil
}
