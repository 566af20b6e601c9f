package records_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	kb "github.com/libp2p/go-libp2p-kbucket"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/routing"
)

// queryStats describes the DHT lookups one operation made.
type queryStats struct {
	// queried is the number of distinct peers that answered a query.
	queried int
	// hops is the longest referral chain among them: a peer the lookup started
	// from (from the local routing table) is hop 1, a peer first named by a
	// hop-n peer is hop n+1.
	hops int
	// storedAt is the number of peers a PutValue sent the record to.
	storedAt int
}

// traceQueries returns a context that records the DHT query events of the
// operations run with it; done stops recording and returns the stats.
func traceQueries(ctx context.Context, seeds []peer.ID) (qctx context.Context, done func() queryStats) {
	ctx, cancel := context.WithCancel(ctx)
	qctx, events := routing.RegisterForQueryEvents(ctx)
	depth := make(map[peer.ID]int)
	for _, p := range seeds {
		depth[p] = 1
	}
	var (
		st      queryStats
		wg      sync.WaitGroup
		replied = make(map[peer.ID]bool)
	)
	wg.Go(func() {
		for ev := range events {
			switch ev.Type {
			case routing.PeerResponse:
				d, ok := depth[ev.ID]
				if !ok {
					d = 1
					depth[ev.ID] = d
				}
				if !replied[ev.ID] {
					replied[ev.ID] = true
					st.queried++
					st.hops = max(st.hops, d)
				}
				for _, r := range ev.Responses {
					if _, ok := depth[r.ID]; !ok {
						depth[r.ID] = d + 1
					}
				}
			case routing.Value:
				st.storedAt++
			}
		}
	})
	return qctx, func() queryStats {
		cancel()
		wg.Wait()
		return st
	}
}

type opSample struct {
	ok      bool
	latency time.Duration
	stats   queryStats
}

// percentile is the nearest-rank percentile: the smallest sample with at
// least p of the samples at or below it (the 99th of 100 for p99, not the
// largest).
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(max(int(math.Ceil(p*float64(len(s))))-1, 0), len(s)-1)]
}

func report(b *testing.B, prefix string, samples []opSample) {
	var lat []time.Duration
	ok, queried, hops, stored := 0, 0, 0, 0
	for _, s := range samples {
		if s.ok {
			ok++
			lat = append(lat, s.latency)
		}
		queried += s.stats.queried
		hops += s.stats.hops
		stored += s.stats.storedAt
	}
	n := float64(max(len(samples), 1))
	b.ReportMetric(float64(ok)/n*100, prefix+"_success_%")
	b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, prefix+"_p50_ms")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, prefix+"_p99_ms")
	b.ReportMetric(float64(queried)/n, prefix+"_peers_queried")
	b.ReportMetric(float64(hops)/n, prefix+"_hops")
	if prefix == "put" {
		b.ReportMetric(float64(stored)/n, "put_stored_at")
	}
}

// BenchmarkPutGet puts a record on a random node of an in-process network and
// gets it from another random node, once per iteration (bound it with
// -benchtime=Nx). The network has PLEXUS_BENCH_NODES nodes (default 200) on a
// mocknet, connected sparsely and bootstrapped before timing starts. A Put is
// the first of its name, so it includes the DHT lookup for an existing seq.
//
//	go test ./records -run '^$' -bench PutGet -benchtime 100x -timeout 10m
func BenchmarkPutGet(b *testing.B) {
	n := 200
	if s := os.Getenv("PLEXUS_BENCH_NODES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 2 {
			b.Fatalf("PLEXUS_BENCH_NODES=%q: want an integer >= 2", s)
		}
		n = v
	}
	setup := time.Now()
	net := newNetwork(b, n, netConfig{degree: 3})
	rt := 0
	for _, nd := range net.nodes {
		rt += nd.dht.RoutingTable().Size()
	}
	setupTime, rtMean := time.Since(setup), float64(rt)/float64(n)
	b.Logf("%d nodes bootstrapped in %s, mean routing table size %.1f", n, setupTime.Round(time.Millisecond), rtMean)

	ctx := b.Context()
	rng := rand.New(rand.NewPCG(1, 2))
	var puts, gets []opSample
	i := 0
	for b.Loop() {
		owner := net.nodes[rng.IntN(n)]
		getter := net.nodes[rng.IntN(n)]
		for getter == owner {
			getter = net.nodes[rng.IntN(n)]
		}
		name := fmt.Sprintf("bench-%d", i)
		value := fmt.Appendf(nil, "value %d", i)
		key, _ := owner.svc.KeyFor(name)
		i++

		pctx, pdone := traceQueries(ctx, owner.dht.RoutingTable().NearestPeers(kb.ConvertKey(key), 20))
		start := time.Now()
		_, err := owner.svc.Put(pctx, name, value, 0)
		puts = append(puts, opSample{ok: err == nil, latency: time.Since(start), stats: pdone()})
		if err != nil {
			b.Logf("put %s: %v", key, err)
		}

		gctx, gdone := traceQueries(ctx, getter.dht.RoutingTable().NearestPeers(kb.ConvertKey(key), 20))
		start = time.Now()
		rec, err := getter.svc.Get(gctx, key)
		ok := err == nil && string(rec.Value) == string(value)
		gets = append(gets, opSample{ok: ok, latency: time.Since(start), stats: gdone()})
		if !ok {
			b.Logf("get %s: %q, %v", key, rec.Value, err)
		}
	}
	report(b, "put", puts)
	report(b, "get", gets)
	b.ReportMetric(setupTime.Seconds(), "setup_s")
	b.ReportMetric(rtMean, "rt_size")
}
