package node_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/node"
)

// BenchmarkAminoCost measures what dht.amino costs on loopback: heap and
// goroutines per node of an 8-node network once every table is full,
// connections per node, and one provide and one find-providers through the
// node's content routing (both DHTs with Amino on). The public network's
// costs (its lookups, its bootstrap peers, its requests in server mode)
// cannot be measured here.
//
//	go test -run '^$' -bench AminoCost -benchtime 20x ./node
func BenchmarkAminoCost(b *testing.B) {
	const n = 8
	for _, amino := range []bool{false, true} {
		b.Run(fmt.Sprintf("amino=%t", amino), func(b *testing.B) {
			heap0, gr0 := heapAndGoroutines()
			nodes := testnet.Start(b, n, testnet.Options{Mutate: func(i int, c *node.Config) {
				c.DHT.Amino = amino
				c.DHT.AminoBootstrap = c.Network.Bootstrap
			}})
			for i, nd := range nodes {
				testnet.Eventually(b, 30*time.Second, func() bool {
					full := nd.Routing().Size() == n-1 && (!amino || nd.Amino().Size() == n-1)
					if !full {
						ctx, cancel := context.WithTimeout(b.Context(), 2*time.Second)
						for _, d := range nd.Router().DHTs() {
							_ = d.Refresh(ctx)
						}
						cancel()
					}
					return full
				}, "node %d: tables not full", i)
			}
			heap1, gr1 := heapAndGoroutines()
			conns := 0
			for _, nd := range nodes {
				conns += len(nd.Host().Network().Conns())
			}
			ctx := b.Context()
			var provide, find time.Duration
			b.ResetTimer()
			for i := range b.N {
				c := benchCID(b, fmt.Sprintf("amino=%t %d", amino, i))
				start := time.Now()
				if err := nodes[1].ContentRouting().Provide(ctx, c, true); err != nil {
					b.Fatal(err)
				}
				provide += time.Since(start)
				start = time.Now()
				found := 0
				for range nodes[n-1].ContentRouting().FindProvidersAsync(ctx, c, 1) {
					found++
				}
				find += time.Since(start)
				if found != 1 {
					b.Fatalf("found %d providers", found)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(provide.Microseconds())/1000/float64(b.N), "ms/provide")
			b.ReportMetric(float64(find.Microseconds())/1000/float64(b.N), "ms/findprovs")
			// After ResetTimer, which drops metrics reported before it.
			b.ReportMetric(float64(heap1-heap0)/n/1024, "KiB-heap/node")
			b.ReportMetric(float64(gr1-gr0)/n, "goroutines/node")
			b.ReportMetric(float64(conns)/n, "conns/node")
		})
	}
}

func heapAndGoroutines() (uint64, int) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, runtime.NumGoroutine()
}

func benchCID(b *testing.B, s string) cid.Cid {
	h, err := mh.Sum([]byte(s), mh.SHA2_256, -1)
	if err != nil {
		b.Fatal(err)
	}
	return cid.NewCidV1(cid.Raw, h)
}
