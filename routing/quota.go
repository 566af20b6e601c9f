package routing

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p-kad-dht/amino"
	pb "github.com/libp2p/go-libp2p-kad-dht/pb"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-base32"
	"github.com/prometheus/client_golang/prometheus"

	plexusconfig "github.com/plexus-p2p/plexus/config"
)

// Quotas bound what other peers may store on this node through the DHT
// (issue 20 row 5: one peer stored 2,000 records of 16 KiB, 1,000 /pk/
// records and 5,000 provider records, all kept for 48h). A zero field takes
// the config default.
//
// A value record (PUT_VALUE) is charged to the peer that put it from the
// time it is stored until it is deleted (expired) or replaced by a put of
// this node or another peer. A peer at its quota is refused: its PUT_VALUE
// fails. When the node's total is reached, the oldest records of the peer
// that stores the most bytes, other than the one putting, are deleted to
// make room: one peer cannot fill the node and keep the others out. This
// node's own records are not charged and never evicted.
//
// A provider record (ADD_PROVIDER) counts against its provider until it
// expires (48h after its last announcement); beyond the provider's quota or
// the node's total, new provider records are refused. kad-dht runs its own
// provider manager, with a cache and a write buffer this package cannot
// reach into, so provider records are refused rather than evicted.
//
// Usage is counted from the start of the node: records stored before a
// restart are charged to no one (they expire within 48h).
type Quotas struct {
	PeerValues     int   // value records per peer; default config.DefaultDHTMaxRecordsPerPeer
	PeerValueBytes int64 // bytes of value records per peer; default config.DefaultDHTMaxRecordBytesPerPeer
	Values         int   // value records of all other peers; default config.DefaultDHTMaxRecords
	ValueBytes     int64 // bytes of value records of all other peers; default config.DefaultDHTMaxRecordBytes
	PeerProviders  int   // provider records per peer; default config.DefaultDHTMaxProviderRecordsPerPeer
	Providers      int   // provider records of all peers; default config.DefaultDHTMaxProviderRecords
}

func (q Quotas) withDefaults() Quotas {
	set := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	set64 := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	set(&q.PeerValues, plexusconfig.DefaultDHTMaxRecordsPerPeer)
	set64(&q.PeerValueBytes, plexusconfig.DefaultDHTMaxRecordBytesPerPeer)
	set(&q.Values, plexusconfig.DefaultDHTMaxRecords)
	set64(&q.ValueBytes, plexusconfig.DefaultDHTMaxRecordBytes)
	set(&q.PeerProviders, plexusconfig.DefaultDHTMaxProviderRecordsPerPeer)
	set(&q.Providers, plexusconfig.DefaultDHTMaxProviderRecords)
	return q
}

// Reasons a record is refused, the "reason" label of
// plexus_dht_records_refused_total.
const (
	refusedPeerCount  = "peer_count"
	refusedPeerBytes  = "peer_bytes"
	refusedTotalCount = "total_count"
)

// maxPending bounds the puts admitted but not yet stored (a put that fails
// validation never is).
const maxPending = 4096

// recordAge is how long kad-dht keeps a value or provider record.
var recordAge = max(amino.DefaultMaxRecordAge, amino.DefaultProvideValidity)

// quota enforces Quotas: kad-dht calls hook before it handles each request
// (dht.OnRequestHook) and stores value records through quotaStore.
type quota struct {
	q       Quotas
	log     *slog.Logger
	refused *prometheus.CounterVec
	evicted prometheus.Counter

	mu            sync.Mutex
	pending       map[datastore.Key]peer.ID // admitted puts, until stored
	values        map[datastore.Key]*valueEntry
	peers         map[peer.ID]*peerUsage
	valueCount    int
	valueBytes    int64
	providers     map[peer.ID]map[string]time.Time
	providerCount int
}

type valueEntry struct {
	peer peer.ID
	size int64
	at   time.Time
}

type peerUsage struct {
	bytes int64
	keys  map[datastore.Key]struct{}
}

func newQuota(q Quotas, log *slog.Logger) *quota {
	return &quota{q: q.withDefaults(), log: log,
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "plexus_dht_records_refused_total",
			Help: "Requests of other peers to store a DHT record that this node refused, by kind (value, provider) and the quota reached (peer_count, peer_bytes, total_count).",
		}, []string{"kind", "reason"}),
		evicted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "plexus_dht_records_evicted_total",
			Help: "Value records of other peers deleted to make room for a new one when the node's total was reached.",
		}),
		pending: map[datastore.Key]peer.ID{}, values: map[datastore.Key]*valueEntry{},
		peers: map[peer.ID]*peerUsage{}, providers: map[peer.ID]map[string]time.Time{}}
}

// collectors are the quota's metrics, with gauges of what it holds.
func (qt *quota) collectors() []prometheus.Collector {
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
			qt.mu.Lock()
			defer qt.mu.Unlock()
			return f()
		})
	}
	return []prometheus.Collector{qt.refused, qt.evicted,
		gauge("plexus_dht_peer_value_records", "Value records this node stores for other peers.", func() float64 { return float64(qt.valueCount) }),
		gauge("plexus_dht_peer_value_bytes", "Bytes of the value records this node stores for other peers.", func() float64 { return float64(qt.valueBytes) }),
		gauge("plexus_dht_peer_provider_records", "Provider records this node stores for other peers.", func() float64 { return float64(qt.providerCount) }),
	}
}

// hook runs before kad-dht handles a request: a PUT_VALUE or ADD_PROVIDER
// beyond a quota is emptied, so that kad-dht refuses it (the sender's put or
// provide fails).
func (qt *quota) hook(_ context.Context, s network.Stream, req *pb.Message) {
	p := s.Conn().RemotePeer()
	var kind, reason string
	switch req.GetType() {
	case pb.Message_PUT_VALUE:
		rec := req.GetRecord()
		if rec == nil {
			return
		}
		kind = "value"
		// A rough size: the stored record adds a receive time and framing.
		reason = qt.admitValue(p, valueDsKey(string(rec.GetKey())), int64(len(rec.GetKey())+len(rec.GetValue())))
		if reason != "" {
			req.Record = nil // kad-dht answers "nil record"
		}
	case pb.Message_ADD_PROVIDER:
		kind = "provider"
		if reason = qt.admitProvider(p, string(req.GetKey())); reason != "" {
			req.ProviderPeers = nil // kad-dht answers "no valid provider"
		}
	default:
		return
	}
	if reason != "" {
		qt.refused.WithLabelValues(kind, reason).Inc()
		qt.log.Debug("refused a DHT record over quota", "peer", p, "kind", kind, "reason", reason)
	}
}

// admitValue reports why p may not store size more bytes under dsk, or ""
// when it may (the put is then pending until stored).
func (qt *quota) admitValue(p peer.ID, dsk datastore.Key, size int64) string {
	qt.mu.Lock()
	defer qt.mu.Unlock()
	var old int64
	owned := false
	if e := qt.values[dsk]; e != nil && e.peer == p {
		owned, old = true, e.size
	}
	u := qt.peers[p]
	if u != nil && !owned && len(u.keys) >= qt.q.PeerValues {
		return refusedPeerCount
	}
	if u != nil && u.bytes-old+size > qt.q.PeerValueBytes || size > qt.q.PeerValueBytes {
		return refusedPeerBytes
	}
	if len(qt.pending) >= maxPending {
		clear(qt.pending) // puts that never got stored (invalid records)
	}
	qt.pending[dsk] = p
	return ""
}

// stored charges a value record kad-dht just stored under dsk to the peer
// that put it (none for this node's own), and returns the keys of the
// records evicted to stay within the node's totals, already uncharged.
func (qt *quota) stored(dsk datastore.Key, size int64) []datastore.Key {
	qt.mu.Lock()
	defer qt.mu.Unlock()
	p, remote := qt.pending[dsk]
	delete(qt.pending, dsk)
	qt.unchargeLocked(dsk)
	if !remote {
		return nil
	}
	qt.values[dsk] = &valueEntry{peer: p, size: size, at: time.Now()}
	u := qt.peers[p]
	if u == nil {
		u = &peerUsage{keys: map[datastore.Key]struct{}{}}
		qt.peers[p] = u
	}
	u.keys[dsk] = struct{}{}
	u.bytes += size
	qt.valueCount++
	qt.valueBytes += size
	var victims []datastore.Key
	if qt.valueCount > qt.q.Values || qt.valueBytes > qt.q.ValueBytes {
		qt.pruneExpiredLocked()
	}
	for qt.valueCount > qt.q.Values || qt.valueBytes > qt.q.ValueBytes {
		k, ok := qt.victimLocked(p)
		if !ok {
			break
		}
		qt.unchargeLocked(k)
		victims = append(victims, k)
	}
	return victims
}

// victimLocked picks the oldest record of the peer, other than p, that
// stores the most bytes.
func (qt *quota) victimLocked(p peer.ID) (datastore.Key, bool) {
	var heaviest *peerUsage
	for q, u := range qt.peers {
		if q != p && len(u.keys) > 0 && (heaviest == nil || u.bytes > heaviest.bytes) {
			heaviest = u
		}
	}
	if heaviest == nil {
		return datastore.Key{}, false
	}
	var oldest datastore.Key
	var at time.Time
	for k := range heaviest.keys {
		if e := qt.values[k]; at.IsZero() || e.at.Before(at) {
			oldest, at = k, e.at
		}
	}
	return oldest, true
}

func (qt *quota) unchargeLocked(dsk datastore.Key) {
	e := qt.values[dsk]
	if e == nil {
		return
	}
	delete(qt.values, dsk)
	qt.valueCount--
	qt.valueBytes -= e.size
	if u := qt.peers[e.peer]; u != nil {
		delete(u.keys, dsk)
		u.bytes -= e.size
		if len(u.keys) == 0 {
			delete(qt.peers, e.peer)
		}
	}
}

// pruneExpiredLocked uncharges records kad-dht no longer serves (its GC
// may delete them in a batch this package does not see).
func (qt *quota) pruneExpiredLocked() {
	cutoff := time.Now().Add(-recordAge)
	for k, e := range qt.values {
		if e.at.Before(cutoff) {
			qt.unchargeLocked(k)
		}
	}
}

// admitProvider reports why p may not add a provider record for key, or ""
// when it may (the record is then charged).
func (qt *quota) admitProvider(p peer.ID, key string) string {
	qt.mu.Lock()
	defer qt.mu.Unlock()
	now := time.Now()
	keys := qt.providers[p]
	if _, ok := keys[key]; ok {
		keys[key] = now // re-announced: it lives another 48h
		return ""
	}
	cutoff := now.Add(-recordAge)
	prune := func(p peer.ID, keys map[string]time.Time) {
		for k, at := range keys {
			if at.Before(cutoff) {
				delete(keys, k)
				qt.providerCount--
			}
		}
		if len(keys) == 0 {
			delete(qt.providers, p)
		}
	}
	if len(keys) >= qt.q.PeerProviders {
		prune(p, keys)
		if len(keys) >= qt.q.PeerProviders {
			return refusedPeerCount
		}
	}
	if qt.providerCount >= qt.q.Providers {
		for q, ks := range qt.providers {
			prune(q, ks)
		}
		if qt.providerCount >= qt.q.Providers {
			return refusedTotalCount
		}
	}
	if keys = qt.providers[p]; keys == nil {
		keys = map[string]time.Time{}
		qt.providers[p] = keys
	}
	keys[key] = now
	qt.providerCount++
	return ""
}

// quotaStore is the value datastore kad-dht sees: it charges each record
// stored and uncharges each one deleted.
type quotaStore struct {
	datastore.Batching
	qt *quota
}

func (s quotaStore) Put(ctx context.Context, k datastore.Key, v []byte) error {
	if err := s.Batching.Put(ctx, k, v); err != nil {
		return err
	}
	for _, victim := range s.qt.stored(k, int64(len(v))) {
		if err := s.Batching.Delete(ctx, victim); err != nil {
			s.qt.log.Warn("cannot evict a DHT record", "key", victim, "err", err)
			continue
		}
		s.qt.evicted.Inc()
	}
	return nil
}

func (s quotaStore) Delete(ctx context.Context, k datastore.Key) error {
	err := s.Batching.Delete(ctx, k)
	s.qt.mu.Lock()
	s.qt.unchargeLocked(k)
	s.qt.mu.Unlock()
	return err
}

// valueDsKey is where kad-dht's value store keeps the record of key
// (go-libp2p-kad-dht v0.42.2 records/value_store.go).
func valueDsKey(key string) datastore.Key {
	ns, _, _ := record.SplitKey(key)
	if ns == "providers" {
		ns = base32.RawStdEncoding.EncodeToString([]byte(ns))
	}
	return datastore.NewKey("/" + ns + "/" + base32.RawStdEncoding.EncodeToString([]byte(key)))
}
