package discovery_test

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/routing"
)

// BenchmarkFindPeer200 measures DHT FindPeer over 200 mocknet nodes that
// joined through one bootstrap node: success rate, latency percentiles and
// the number of distinct peers each lookup queried (log2(N) given for
// reference), plus the time, after all nodes started (join-ms), until every
// routing table holds 20 peers.
//
//	go test ./discovery -run '^$' -bench FindPeer200 -benchtime 400x
func BenchmarkFindPeer200(b *testing.B) {
	const n = 200
	start := time.Now()
	_, nodes := mockNetwork(b, n, netConfig{})
	joined := time.Now()
	waitRoutingTables(b, nodes, 5*time.Minute)
	converged := time.Since(joined)
	var rtTotal int
	for _, nd := range nodes {
		rtTotal += nd.dht.RoutingTable().Size()
	}

	var (
		latencies []time.Duration
		queried   []int
		failures  int
	)
	for b.Loop() {
		i, j := rand.IntN(n), rand.IntN(n-1)
		if j >= i {
			j++
		}
		from, to := nodes[i], nodes[j]
		// Drop any direct connection so that the lookup walks the DHT.
		_ = from.h.Network().ClosePeer(to.h.ID())

		ctx, cancel := context.WithTimeout(b.Context(), 10*time.Second)
		qctx, events := routing.RegisterForQueryEvents(ctx)
		seen := map[peer.ID]struct{}{}
		var wg sync.WaitGroup
		wg.Go(func() {
			for ev := range events {
				if ev.Type == routing.SendingQuery {
					seen[ev.ID] = struct{}{}
				}
			}
		})
		t0 := time.Now()
		ai, err := from.dht.FindPeer(qctx, to.h.ID())
		elapsed := time.Since(t0)
		cancel()
		wg.Wait()
		if err != nil || ai.ID != to.h.ID() || len(ai.Addrs) == 0 {
			failures++
			continue
		}
		latencies = append(latencies, elapsed)
		queried = append(queried, len(seen))
	}
	b.StopTimer()

	ops := len(latencies) + failures
	b.ReportMetric(100*float64(len(latencies))/float64(max(ops, 1)), "success-%")
	if len(latencies) > 0 {
		slices.Sort(latencies)
		slices.Sort(queried)
		pct := func(p float64) int { return min(len(latencies)-1, int(math.Ceil(p*float64(len(latencies))))-1) }
		b.ReportMetric(float64(latencies[pct(0.50)].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(latencies[pct(0.99)].Microseconds())/1000, "p99-ms")
		var sum int
		for _, q := range queried {
			sum += q
		}
		b.ReportMetric(float64(sum)/float64(len(queried)), "peers-queried/op")
		b.ReportMetric(float64(queried[pct(0.50)]), "peers-queried-p50")
	}
	b.ReportMetric(math.Log2(n), "log2(N)")
	b.ReportMetric(float64(converged.Milliseconds()), "rt-converge-ms")
	b.ReportMetric(float64(rtTotal)/n, "rt-size-mean")
	b.ReportMetric(float64(joined.Sub(start).Milliseconds()), "join-ms")
}
