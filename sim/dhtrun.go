package sim

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// DHTOptions sizes a DHT run.
type DHTOptions struct {
	Nodes       int
	Lookups     int // per phase: this many key lookups and as many peer lookups
	Records     int // records put before the churn phases
	Concurrency int // lookups in flight at once
	Depart      float64
	// ChurnRate is the share of the nodes that leave (and as many that
	// join) each second of the continuous-churn phase, lasting ChurnFor.
	ChurnRate float64
	ChurnFor  time.Duration
	Net       Config
	Seed      uint64
	// Logf reports progress; nil for none.
	Logf func(format string, args ...any)
}

// Stats summarises lookups of one kind.
type Stats struct {
	Count      int
	OK         int
	Overlap    float64 // mean
	HopsMean   float64
	HopsMax    int
	QueriedP50 int
	QueriedMax int
	FailedMean float64
	LatP50     time.Duration
	LatP99     time.Duration
}

// SuccessRate is OK/Count.
func (s Stats) SuccessRate() float64 {
	if s.Count == 0 {
		return 0
	}
	return float64(s.OK) / float64(s.Count)
}

func summarise(ls []Lookup) Stats {
	s := Stats{Count: len(ls)}
	if len(ls) == 0 {
		return s
	}
	var lats []time.Duration
	var q []int
	hops, okn := 0, 0
	failed := 0
	for _, l := range ls {
		s.Overlap += l.Overlap
		lats = append(lats, l.Latency)
		q = append(q, l.Queried)
		failed += l.Failed
		if l.OK {
			s.OK++
			okn++
			hops += l.Hops
			s.HopsMax = max(s.HopsMax, l.Hops)
		}
	}
	s.Overlap /= float64(len(ls))
	if okn > 0 {
		s.HopsMean = float64(hops) / float64(okn)
	}
	s.FailedMean = float64(failed) / float64(len(ls))
	slices.Sort(lats)
	slices.Sort(q)
	s.LatP50, s.LatP99 = quantile(lats, 0.5), quantile(lats, 0.99)
	s.QueriedP50, s.QueriedMax = quantile(q, 0.5), q[len(q)-1]
	return s
}

func quantile[T any](sorted []T, q float64) T {
	var zero T
	if len(sorted) == 0 {
		return zero
	}
	// Nearest rank: the smallest value with at least q of them at or below.
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// Phase is the measurements of one state of the network.
type Phase struct {
	Name  string
	Live  int
	Keys  Stats
	Peers Stats
	// Records found by a Get from a random live node, before and after the
	// owners republish; -1 when not measured.
	RecordsBefore, RecordsAfter float64
	Wall                        time.Duration
}

// DHTResult is a whole run.
type DHTResult struct {
	Nodes  int
	Build  time.Duration // hosts, services and tables
	Phases []Phase
	Links  int64
	Joined int
	Joins  int // joins attempted during churn
	Left   int
	Wall   time.Duration
}

type dhtRun struct {
	o      DHTOptions
	net    *Net
	mu     sync.Mutex
	r      *rand.Rand
	live   []*DHTNode
	owners map[peer.ID]bool
	keys   []string
	res    DHTResult
}

func (d *dhtRun) logf(format string, args ...any) {
	if d.o.Logf != nil {
		d.o.Logf(format, args...)
	}
}

func (d *dhtRun) snapshot() []*DHTNode {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.live)
}

func (d *dhtRun) pick(live []*DHTNode) *DHTNode {
	d.mu.Lock()
	defer d.mu.Unlock()
	return live[d.r.IntN(len(live))]
}

// RunDHT builds a network of o.Nodes DHT nodes with filled routing tables
// and measures lookups in three phases: stable, right after o.Depart of the
// nodes left at once, and after continuous churn. Records are put by nodes
// that stay, and looked up after each churn phase before and after their
// owners republish.
func RunDHT(ctx context.Context, o DHTOptions) (DHTResult, error) {
	start := time.Now()
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	net, err := New(o.Net)
	if err != nil {
		return DHTResult{}, err
	}
	d := &dhtRun{o: o, net: net, r: rand.New(rand.NewPCG(o.Seed, 1)), owners: map[peer.ID]bool{}}
	d.res.Nodes = o.Nodes
	defer func() {
		parallel(len(d.live), 4, func(i int) { _ = d.live[i].Close(net) })
		_ = net.Close()
	}()
	for i := range o.Nodes {
		nd, err := NewDHTNode(net, false)
		if err != nil {
			return d.res, err
		}
		d.live = append(d.live, nd)
		if (i+1)%2000 == 0 {
			d.logf("dht: %d nodes started", i+1)
		}
	}
	if err := FillTables(d.live, 20, d.r); err != nil {
		return d.res, err
	}
	d.res.Build = time.Since(start)
	d.logf("dht: %d nodes built and tables filled in %s", o.Nodes, d.res.Build.Round(time.Millisecond))

	// Records, put by nodes that never leave.
	for i := 0; i < o.Records && i < len(d.live); i++ {
		d.owners[d.live[i].H.ID()] = true
	}
	var keys []string
	var kmu sync.Mutex
	parallel(min(o.Records, len(d.live)), o.Concurrency, func(i int) {
		nd := d.live[i]
		pctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		rec, err := nd.Records.Put(pctx, fmt.Sprintf("sim-%d", i), []byte(fmt.Sprintf("value %d", i)), 0)
		if err != nil {
			d.logf("dht: put record %d: %v", i, err)
		}
		kmu.Lock()
		keys = append(keys, rec.Key)
		kmu.Unlock()
	})
	d.keys = keys

	d.phase(ctx, "stable", false)
	if ctx.Err() != nil {
		return d.res, ctx.Err()
	}

	// Depart nodes leave at once.
	d.mu.Lock()
	var leaving, staying []*DHTNode
	for _, i := range d.r.Perm(len(d.live)) {
		nd := d.live[i]
		if !d.owners[nd.H.ID()] && len(leaving) < int(o.Depart*float64(len(d.live))) {
			leaving = append(leaving, nd)
		} else {
			staying = append(staying, nd)
		}
	}
	d.live = staying
	d.mu.Unlock()
	parallel(len(leaving), 8, func(i int) { _ = leaving[i].Close(net) })
	d.res.Left += len(leaving)
	d.logf("dht: %d nodes left at once", len(leaving))
	d.phase(ctx, fmt.Sprintf("%.0f%% left at once", o.Depart*100), true)
	if ctx.Err() != nil {
		return d.res, ctx.Err()
	}

	// Continuous churn: each tick some leave and as many join.
	if o.ChurnFor > 0 && o.ChurnRate > 0 {
		d.churn(ctx)
		d.phase(ctx, fmt.Sprintf("after %s of churn at %.1f%%/s", o.ChurnFor, o.ChurnRate*100), true)
	}
	d.res.Links = net.Links()
	d.res.Wall = time.Since(start)
	return d.res, ctx.Err()
}

// churn replaces ChurnRate of the nodes every second for ChurnFor, while
// lookups run; the lookups made during churn are the phase "during churn".
func (d *dhtRun) churn(ctx context.Context) {
	o := d.o
	per := max(1, int(o.ChurnRate*float64(len(d.live))))
	start := time.Now()
	var during []Lookup
	var dmu sync.Mutex
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// Lookups during churn, at a steady pace.
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				live := d.snapshot()
				var l Lookup
				lctx, cancel := context.WithTimeout(ctx, time.Minute)
				d.mu.Lock()
				r := rand.New(rand.NewPCG(d.r.Uint64(), 2))
				d.mu.Unlock()
				l = LookupKey(lctx, d.pick(live), live, r)
				cancel()
				dmu.Lock()
				during = append(during, l)
				dmu.Unlock()
			}
		}()
	}
	var joinWG sync.WaitGroup
	var joined atomic.Int64
	tick := time.NewTicker(time.Second)
	for time.Since(start) < o.ChurnFor && ctx.Err() == nil {
		<-tick.C
		d.mu.Lock()
		var out []*DHTNode
		for range per {
			i := d.r.IntN(len(d.live))
			if d.owners[d.live[i].H.ID()] {
				continue
			}
			out = append(out, d.live[i])
			d.live[i] = d.live[len(d.live)-1]
			d.live = d.live[:len(d.live)-1]
		}
		d.mu.Unlock()
		for _, nd := range out {
			go func() { _ = nd.Close(d.net) }()
		}
		d.res.Left += len(out)
		d.res.Joins += per
		for range per {
			joinWG.Add(1)
			go func() {
				defer joinWG.Done()
				if d.join(ctx) {
					joined.Add(1)
				}
			}()
		}
	}
	tick.Stop()
	close(stop)
	wg.Wait()
	joinWG.Wait()
	d.res.Joined += int(joined.Load())
	d.res.Phases = append(d.res.Phases, Phase{Name: "during churn", Live: len(d.snapshot()), Keys: summarise(during),
		RecordsBefore: -1, RecordsAfter: -1, Wall: time.Since(start)})
	d.logf("dht: churn done: %d lookups, %d left, %d joined", len(during), d.res.Left, joined.Load())
}

// join adds a node the way a new node joins: it connects to a random live
// node, which its DHT adds to its table (waiting at most 10s for that), and
// looks itself up (kad-dht's bootstrap lookup), which fills its table with
// the peers near it and makes it known to them.
func (d *dhtRun) join(ctx context.Context) bool {
	nd, err := NewDHTNode(d.net, false)
	if err != nil {
		return false
	}
	boot := d.pick(d.snapshot())
	jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := nd.H.Connect(jctx, peer.AddrInfo{ID: boot.H.ID(), Addrs: boot.H.Addrs()}); err != nil {
		_ = nd.Close(d.net)
		return false
	}
	// The DHT takes the bootstrap peer into its table once identify has
	// shown it speaks the protocol.
	for i := 0; i < 200 && nd.Routing.Size() == 0 && jctx.Err() == nil; i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := nd.Routing.Closest(jctx, string(nd.H.ID())); err != nil {
		_ = nd.Close(d.net)
		return false
	}
	d.mu.Lock()
	d.live = append(d.live, nd)
	d.mu.Unlock()
	return true
}

// phase measures lookups and, when withRecords, record availability before
// and after republishing.
func (d *dhtRun) phase(ctx context.Context, name string, withRecords bool) {
	start := time.Now()
	live := d.snapshot()
	ph := Phase{Name: name, Live: len(live), RecordsBefore: -1, RecordsAfter: -1}
	keys := make([]Lookup, d.o.Lookups)
	seeds := make([]uint64, d.o.Lookups)
	for i := range seeds {
		seeds[i] = d.r.Uint64()
	}
	parallel(d.o.Lookups, d.o.Concurrency, func(i int) {
		r := rand.New(rand.NewPCG(seeds[i], 3))
		lctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		keys[i] = LookupKey(lctx, live[r.IntN(len(live))], live, r)
	})
	ph.Keys = summarise(keys)
	peers := make([]Lookup, d.o.Lookups)
	parallel(d.o.Lookups, d.o.Concurrency, func(i int) {
		r := rand.New(rand.NewPCG(seeds[i], 4))
		from := live[r.IntN(len(live))]
		var target *DHTNode
		for range 100 { // a peer from does not know already
			t := live[r.IntN(len(live))]
			if t != from && len(from.H.Peerstore().Addrs(t.H.ID())) == 0 {
				target = t
				break
			}
		}
		if target == nil {
			target = live[r.IntN(len(live))]
		}
		lctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		peers[i] = LookupPeer(lctx, from, target.H.ID())
	})
	ph.Peers = summarise(peers)
	if len(d.keys) > 0 {
		ph.RecordsBefore = d.availability(ctx, live)
		if withRecords {
			parallel(len(live), d.o.Concurrency, func(i int) {
				if nd := live[i]; d.owners[nd.H.ID()] {
					rctx, cancel := context.WithTimeout(ctx, time.Minute)
					defer cancel()
					_ = nd.Records.Republish(rctx)
				}
			})
			ph.RecordsAfter = d.availability(ctx, live)
		}
	}
	ph.Wall = time.Since(start)
	d.res.Phases = append(d.res.Phases, ph)
	d.logf("dht: phase %q: keys %d/%d, peers %d/%d, records %.2f/%.2f, %s", name, ph.Keys.OK, ph.Keys.Count,
		ph.Peers.OK, ph.Peers.Count, ph.RecordsBefore, ph.RecordsAfter, ph.Wall.Round(time.Millisecond))
}

// availability returns the share of the records a random live node gets.
func (d *dhtRun) availability(ctx context.Context, live []*DHTNode) float64 {
	var ok atomic.Int64
	from := make([]*DHTNode, len(d.keys))
	for i := range from {
		from[i] = d.pick(live)
	}
	parallel(len(d.keys), d.o.Concurrency, func(i int) {
		gctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if _, err := from[i].Records.Get(gctx, d.keys[i]); err == nil {
			ok.Add(1)
		}
	})
	return float64(ok.Load()) / float64(len(d.keys))
}
