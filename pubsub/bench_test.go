package pubsub_test

import (
	"context"
	"encoding/binary"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ps "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/pubsub"
)

// BenchmarkGossipPropagation publishes messages from random nodes of a
// 100-node mocknet (zero link latency, every node connected to about 8
// others, default gossipsub parameters and scoring) and reports:
//
//	p50-ms, p99-ms    time from Publish until the last of the other 99 nodes has the message
//	delivery-ratio    deliveries seen / deliveries expected (99 per message)
//	dups/delivery     duplicate copies received per first delivery (RawTracer)
//	onehop-p50-ms     time until a direct neighbour of the publisher has it
//	avg-hops, diameter  of the connection graph
//	ref-avg-ms, ref-diam-ms  avg-hops and diameter times onehop-p50-ms
//
// Run: go test -run '^$' -bench GossipPropagation -benchtime 200x ./pubsub/
func BenchmarkGossipPropagation(b *testing.B) {
	const (
		n       = 100
		degree  = 8
		topic   = "bench"
		payload = 256
	)
	rng := rand.New(rand.NewPCG(42, 7))
	adj := randomGraph(rng, n, degree)
	avgHops, diameter := hopStats(adj)

	mn := testnet.NewNet(b)
	hosts := mn.AddHosts(n)
	for i, nb := range adj {
		for _, j := range nb {
			if i < j {
				mn.Connect(hosts[i], hosts[j])
			}
		}
	}

	tracers := make([]*countTracer, n)
	svcs := make([]*pubsub.Service, n)
	for i, h := range hosts {
		tracers[i] = &countTracer{}
		s, err := pubsub.New(context.Background(), h,
			pubsub.WithLogger(slog.New(slog.DiscardHandler)),
			pubsub.WithPubSubOptions(ps.WithRawTracer(tracers[i])))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Close() })
		svcs[i] = s
	}

	var (
		mu      sync.Mutex
		pending = map[uint64]*flight{}
	)
	var wg sync.WaitGroup
	for i, s := range svcs {
		sub, err := s.Subscribe(topic, 1024)
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			for m := range sub.C() {
				now := time.Now()
				idx := binary.BigEndian.Uint64(m.Data)
				mu.Lock()
				f := pending[idx]
				if f != nil && i != f.from {
					f.got++
					if i == f.probe {
						f.probeAt = now
					}
					if f.got == n-1 {
						f.lastAt = now
						close(f.done)
					}
				}
				mu.Unlock()
			}
		})
	}
	b.Cleanup(func() {
		for _, s := range svcs {
			_ = s.Close()
		}
		wg.Wait()
	})

	// Let every mesh fill to at least Dlo, or all neighbours, before measuring.
	testnet.Eventually(b, 30*time.Second, func() bool { return meshesReady(svcs, adj, pubsub.DefaultGossipSubParams().Dlo) }, "meshes did not form")
	for _, tr := range tracers {
		tr.reset()
	}

	var all, onehop []time.Duration
	delivered, expected := 0, 0
	data := make([]byte, payload)
	var idx uint64
	for b.Loop() {
		idx++
		from := rng.IntN(n)
		f := &flight{from: from, probe: adj[from][0], done: make(chan struct{})}
		mu.Lock()
		pending[idx] = f
		mu.Unlock()
		binary.BigEndian.PutUint64(data, idx)

		f.start = time.Now()
		if _, err := svcs[from].Publish(context.Background(), topic, data); err != nil {
			b.Fatal(err)
		}
		select {
		case <-f.done:
		case <-time.After(5 * time.Second):
		}
		mu.Lock()
		delete(pending, idx)
		delivered += f.got
		expected += n - 1
		if !f.lastAt.IsZero() {
			all = append(all, f.lastAt.Sub(f.start))
		}
		if !f.probeAt.IsZero() {
			onehop = append(onehop, f.probeAt.Sub(f.start))
		}
		mu.Unlock()
	}
	b.StopTimer()

	var dups, firsts int64
	for _, tr := range tracers {
		dups += tr.dup.Load()
		firsts += tr.deliver.Load()
	}
	hop50 := ms(percentile(onehop, 0.50))
	b.ReportMetric(ms(percentile(all, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(all, 0.99)), "p99-ms")
	b.ReportMetric(float64(delivered)/float64(max(expected, 1)), "delivery-ratio")
	b.ReportMetric(float64(dups)/float64(max(firsts, 1)), "dups/delivery")
	b.ReportMetric(hop50, "onehop-p50-ms")
	b.ReportMetric(avgHops, "avg-hops")
	b.ReportMetric(float64(diameter), "diameter")
	b.ReportMetric(avgHops*hop50, "ref-avg-ms")
	b.ReportMetric(float64(diameter)*hop50, "ref-diam-ms")
}

// flight tracks one benchmark message; guarded by the benchmark's mutex.
type flight struct {
	from, probe     int
	start           time.Time
	got             int
	probeAt, lastAt time.Time
	done            chan struct{}
}

func meshesReady(svcs []*pubsub.Service, adj [][]int, dlo int) bool {
	for i, s := range svcs {
		ts := s.Topics()
		if len(ts) != 1 || ts[0].MeshPeers < min(dlo, len(adj[i])) {
			return false
		}
	}
	return true
}

// randomGraph returns the adjacency lists of a connected graph: a ring plus
// random edges until every node has about degree neighbours.
func randomGraph(rng *rand.Rand, n, degree int) [][]int {
	adj := make([][]int, n)
	add := func(i, j int) {
		adj[i] = append(adj[i], j)
		adj[j] = append(adj[j], i)
	}
	for i := range n {
		add(i, (i+1)%n)
	}
	for range n * degree * 4 {
		i, j := rng.IntN(n), rng.IntN(n)
		if i == j || len(adj[i]) >= degree || len(adj[j]) >= degree || slices.Contains(adj[i], j) {
			continue
		}
		add(i, j)
	}
	return adj
}

// hopStats returns the average shortest path length and the diameter.
func hopStats(adj [][]int) (float64, int) {
	total, pairs, diameter := 0, 0, 0
	for s := range adj {
		dist := make([]int, len(adj))
		for i := range dist {
			dist[i] = -1
		}
		dist[s] = 0
		queue := []int{s}
		for len(queue) > 0 {
			u := queue[0]
			queue = queue[1:]
			for _, v := range adj[u] {
				if dist[v] < 0 {
					dist[v] = dist[u] + 1
					queue = append(queue, v)
				}
			}
		}
		for t, d := range dist {
			if t != s {
				total += d
				pairs++
				diameter = max(diameter, d)
			}
		}
	}
	return float64(total) / float64(pairs), diameter
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

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// countTracer counts first deliveries and duplicates of remote messages.
type countTracer struct {
	deliver, dup atomic.Int64
}

func (c *countTracer) reset() { c.deliver.Store(0); c.dup.Store(0) }

func (c *countTracer) DeliverMessage(*ps.Message)                       { c.deliver.Add(1) }
func (c *countTracer) DuplicateMessage(*ps.Message)                     { c.dup.Add(1) }
func (c *countTracer) OnNewOutboundStream(peer.ID, protocol.ID)         {}
func (c *countTracer) OnClosedOutboundStream(peer.ID)                   {}
func (c *countTracer) Join(string)                                      {}
func (c *countTracer) Leave(string)                                     {}
func (c *countTracer) Graft(peer.ID, string)                            {}
func (c *countTracer) Prune(peer.ID, string)                            {}
func (c *countTracer) ValidateMessage(*ps.Message)                      {}
func (c *countTracer) RejectMessage(*ps.Message, string)                {}
func (c *countTracer) ThrottlePeer(peer.ID)                             {}
func (c *countTracer) RecvRPC(*ps.RPC)                                  {}
func (c *countTracer) SendRPC(*ps.RPC, peer.ID)                         {}
func (c *countTracer) SendRPCCompleted(*ps.RPC, peer.ID, time.Duration) {}
func (c *countTracer) DropRPC(*ps.RPC, peer.ID)                         {}
func (c *countTracer) UndeliverableMessage(*ps.Message)                 {}
