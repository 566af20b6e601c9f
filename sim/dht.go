package sim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/bits"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	corerouting "github.com/libp2p/go-libp2p/core/routing"

	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/records"
	"github.com/plexus-p2p/plexus/routing"
)

// quiet discards the services' logs.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// DHTNode is one simulated DHT peer: a Host with the node's Plexus DHT
// (routing.New with the options node.newRouting passes, from
// config.Default()) and its records service.
type DHTNode struct {
	H       *Host
	Routing *routing.Service
	Records *records.Service
	kadID   [32]byte
}

// NewDHTNode adds a host to n and starts on it the DHT and records services
// the way the node builds them (node/routing.go: the plexus record validator
// with the configured value limit plus pk and ipns, the configured quotas
// and query dial timeout), in server mode (the local profile's dht.mode; a
// mocknet host is not publicly reachable, so auto would mean client) and
// without the Prometheus registry. autoRefresh false turns kad-dht's
// routing-table refresh off (dht.DisableAutoRefresh), for networks whose
// tables are filled by FillTables.
func NewDHTNode(n *Net, autoRefresh bool) (*DHTNode, error) {
	h, err := n.AddHost(nil)
	if err != nil {
		return nil, err
	}
	c := config.Default()
	ds := dssync.MutexWrap(datastore.NewMapDatastore())
	v := records.Validator(h.Peerstore())
	v["plexus"] = records.RecordValidator{MaxValueSize: c.Records.MaxValueSize}
	opts := []routing.Option{
		routing.WithLogger(quiet),
		routing.WithMode(routing.ModeServer),
		routing.WithProtocolPrefix(routing.DefaultPrefix),
		routing.WithDatastore(ds),
		routing.WithValidators(v),
		routing.WithAgentVersion("plexus/sim"),
		routing.WithQuotas(routing.Quotas{PeerValues: c.DHT.MaxRecordsPerPeer, PeerValueBytes: int64(c.DHT.MaxRecordBytesPerPeer),
			Values: c.DHT.MaxRecords, ValueBytes: int64(c.DHT.MaxRecordBytes),
			PeerProviders: c.DHT.MaxProviderRecordsPerPeer, Providers: c.DHT.MaxProviderRecords}),
		routing.WithQueryDialTimeout(time.Duration(c.DHT.QueryDialTimeout)),
	}
	if !autoRefresh {
		opts = append(opts, routing.WithDHTOptions(dht.DisableAutoRefresh()))
	}
	rt, err := routing.New(h, opts...)
	if err != nil {
		_ = n.Remove(h)
		return nil, err
	}
	rec, err := records.New(rt, h.Key(), ds, records.WithDHTValidator(rt.Validator()),
		records.WithLogger(quiet), records.WithMaxValueSize(c.Records.MaxValueSize))
	if err != nil {
		_ = rt.Close()
		_ = n.Remove(h)
		return nil, err
	}
	return &DHTNode{H: h, Routing: rt, Records: rec, kadID: sha256.Sum256([]byte(h.ID()))}, nil
}

// Close stops the node's DHT and takes its host off the network.
func (d *DHTNode) Close(n *Net) error {
	return errors.Join(d.Routing.Close(), n.Remove(d.H))
}

// prefixCmp compares the first nbits bits of a and b.
func prefixCmp(a, b *[32]byte, nbits int) int {
	full := nbits / 8
	if c := bytes.Compare(a[:full], b[:full]); c != 0 || nbits%8 == 0 {
		return c
	}
	mask := byte(0xff) << (8 - nbits%8)
	x, y := a[full]&mask, b[full]&mask
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// FillTables fills every node's routing table as a network whose tables
// have converged: for each common-prefix length c, up to bucketSize peers
// drawn at random among those whose Kademlia ID shares exactly c leading
// bits with the node's, with their addresses in its peerstore. It stands
// in for each node's bootstrap and bucket refreshes, which at 10,000 nodes
// would cost millions of RPCs on this machine before the measurement starts.
func FillTables(nodes []*DHTNode, bucketSize int, r *rand.Rand) error {
	idx := make([]int, len(nodes))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return bytes.Compare(nodes[idx[a]].kadID[:], nodes[idx[b]].kadID[:]) < 0 })
	sorted := make([]*DHTNode, len(nodes))
	for i, j := range idx {
		sorted[i] = nodes[j]
	}
	// rangeOf returns the sorted nodes whose first nbits bits are t's.
	rangeOf := func(t *[32]byte, nbits int) (int, int) {
		lo := sort.Search(len(sorted), func(i int) bool { return prefixCmp(&sorted[i].kadID, t, nbits) >= 0 })
		hi := sort.Search(len(sorted), func(i int) bool { return prefixCmp(&sorted[i].kadID, t, nbits) > 0 })
		return lo, hi
	}
	for _, nd := range nodes {
		rt := nd.Routing.DHT().RoutingTable()
		ps := nd.H.Peerstore()
		for c := 0; c < 255; c++ {
			t := nd.kadID
			t[c/8] ^= 0x80 >> (c % 8)
			lo, hi := rangeOf(&t, c+1)
			cand := hi - lo
			pick := min(bucketSize, cand)
			for _, k := range r.Perm(cand)[:pick] {
				p := sorted[lo+k]
				ps.AddAddrs(p.H.ID(), p.H.Addrs(), peerstore.PermanentAddrTTL)
				if _, err := rt.TryAddPeer(p.H.ID(), true, false); err != nil {
					return fmt.Errorf("fill routing table: %w", err)
				}
			}
			if slo, shi := rangeOf(&nd.kadID, c+1); shi-slo <= 1 {
				break // no other node shares c+1 bits: deeper buckets are empty
			}
		}
	}
	return nil
}

// xorDist returns the XOR distance of a and b as a comparable array.
func xorDist(a, b *[32]byte) (d [32]byte) {
	for i := range d {
		d[i] = a[i] ^ b[i]
	}
	return d
}

// closestLive returns the k live nodes closest to target, closest first.
func closestLive(nodes []*DHTNode, target [32]byte, k int) []peer.ID {
	type cand struct {
		d [32]byte
		p peer.ID
	}
	best := make([]cand, 0, k+1)
	for _, nd := range nodes {
		c := cand{xorDist(&nd.kadID, &target), nd.H.ID()}
		if len(best) == k && bytes.Compare(c.d[:], best[k-1].d[:]) >= 0 {
			continue
		}
		i := sort.Search(len(best), func(i int) bool { return bytes.Compare(best[i].d[:], c.d[:]) > 0 })
		best = append(best, cand{})
		copy(best[i+1:], best[i:])
		best[i] = c
		if len(best) > k {
			best = best[:k]
		}
	}
	out := make([]peer.ID, len(best))
	for i, c := range best {
		out[i] = c.p
	}
	return out
}

// Lookup is the outcome of one lookup.
type Lookup struct {
	OK      bool
	Overlap float64 // keys: share of the true 20 closest live peers found
	Hops    int     // sequential queries until the peer sought was named
	Queried int     // peers sent a request (answered or not)
	Failed  int     // requests that failed (mostly dials to departed peers)
	Latency time.Duration
}

// queryTrace follows a lookup's query events: the depth of each peer is one
// more than that of the peer whose answer named it first (1 for peers the
// node knew), so named[p] is the number of sequential queries the lookup
// needed to learn p.
type queryTrace struct {
	depth   map[peer.ID]int
	named   map[peer.ID]int
	queried int
	failed  int
}

func traceQuery(ch <-chan *corerouting.QueryEvent, done chan<- *queryTrace) {
	t := &queryTrace{depth: map[peer.ID]int{}, named: map[peer.ID]int{}}
	for ev := range ch {
		switch ev.Type {
		case corerouting.PeerResponse:
			t.queried++
			d := t.depth[ev.ID]
			if d == 0 {
				d = 1
				t.depth[ev.ID] = 1
			}
			for _, ai := range ev.Responses {
				if _, ok := t.depth[ai.ID]; !ok {
					t.depth[ai.ID] = d + 1
					t.named[ai.ID] = d
				}
			}
		case corerouting.QueryError:
			t.queried++
			t.failed++
		}
	}
	done <- t
}

// traced runs f with a context that records its query events.
func traced(ctx context.Context, f func(ctx context.Context)) *queryTrace {
	ctx, cancel := context.WithCancel(ctx)
	ectx, ch := corerouting.RegisterForQueryEvents(ctx)
	done := make(chan *queryTrace, 1)
	go traceQuery(ch, done)
	f(ectx)
	cancel()
	return <-done
}

// LookupKey looks up the peers closest to a random key from nd and checks
// the answer against the live nodes.
func LookupKey(ctx context.Context, nd *DHTNode, live []*DHTNode, r *rand.Rand) Lookup {
	var kb [32]byte
	for i := range kb {
		kb[i] = byte(r.Uint32())
	}
	key := string(kb[:])
	truth := closestLive(live, sha256.Sum256([]byte(key)), 20)
	var got []peer.ID
	var err error
	start := time.Now()
	tr := traced(ctx, func(ctx context.Context) { got, err = nd.Routing.Closest(ctx, key) })
	l := Lookup{Latency: time.Since(start), Queried: tr.queried, Failed: tr.failed}
	if err != nil || len(truth) == 0 {
		return l
	}
	in := map[peer.ID]bool{}
	for _, p := range got {
		in[p] = true
	}
	found := 0
	for _, p := range truth {
		if in[p] {
			found++
		}
	}
	l.Overlap = float64(found) / float64(len(truth))
	l.OK = in[truth[0]]
	l.Hops = tr.named[truth[0]]
	return l
}

// LookupPeer finds target from nd with the routing service's FindPeer.
func LookupPeer(ctx context.Context, nd *DHTNode, target peer.ID) Lookup {
	var f routing.Found
	var err error
	start := time.Now()
	tr := traced(ctx, func(ctx context.Context) { f, err = nd.Routing.FindPeer(ctx, target) })
	l := Lookup{Latency: time.Since(start), Queried: tr.queried, Failed: tr.failed}
	l.OK = err == nil && len(f.Addrs) > 0
	if l.OK {
		l.Overlap = 1
	}
	l.Hops = tr.named[target]
	return l
}

// parallel runs f(i) for i in [0, n) on at most workers goroutines.
func parallel(n, workers int, f func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// log2 returns log2(n) rounded down.
func log2(n int) int { return bits.Len(uint(n)) - 1 }
