package main

import (
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"github.com/plexus-p2p/plexus/sim"
)

func ms(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d)/float64(time.Millisecond)) }

func mib(b int64) string { return fmt.Sprintf("%.0f", float64(b)/(1<<20)) }

func pct(x float64) string {
	if x < 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", 100*x)
}

// report renders bench/scale.md from the runs so far.
func report(f flags, lat sim.Latency, rs []childResult, wall time.Duration) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Plexus at scale: simulation\n\n")
	w("Written by `make scale` (`go run ./sim/cmd/scale %s`) on %s in %s, on the shared 2-core machine.\n",
		strings.Join(os.Args[1:], " "), time.Now().UTC().Format("2006-01-02 15:04 UTC"), wall.Round(time.Second))
	w("Links: one-way latency %s drawn once per link, loss %.1f%% per write (a lost write is retransmitted after max(200ms, 2×latency)), "+
		"a new connection costs 2 round trips, a dial to a departed node fails after 3s (the DHT's query dial timeout). "+
		"Figures are ratios, counts and simulated latencies; wall times and memory are this machine's, shared with other work.\n\n", lat, 100*f.loss)
	w("How it works: package `sim` runs go-libp2p's mocknet hosts (no sockets) with links created when a dial happens, " +
		"and on each host the real Plexus services built with the node's options from `config.Default()`: " +
		"`routing.New` (kad-dht v0.42.2, server mode, the plexus/pk/ipns validators, record quotas, 3s query dial timeout) and `records.New`; " +
		"`pubsub.New` (gossipsub, StrictSign, peer scoring, flood publish, the per-peer rate limit). Not a whole `node.Node` per peer " +
		"(no connection manager, resource manager, identify push, metrics registry): those cost memory and nothing the figures measure. " +
		"DHT routing tables start converged (`sim.FillTables`: up to 20 random peers per common-prefix length), instead of " +
		"each node's bootstrap and refresh lookups; nodes that join during churn join for real (connect to one node, look themselves up).\n\n")

	var dhts, gossips []childResult
	for _, r := range rs {
		switch {
		case r.DHT != nil:
			dhts = append(dhts, r)
		case r.Gossip != nil:
			gossips = append(gossips, r)
		}
	}
	if len(dhts) > 0 {
		w("## Kademlia\n\n")
		w("Per phase, %d lookups of random keys (`routing.Service.Closest`; success: the truly closest live node is in the answer; "+
			"overlap: share of the true 20 closest live nodes in the answer) and %d of random peers the asking node does not know yet "+
			"(`routing.Service.FindPeer`). Hops: sequential queries until the peer sought was first named (from kad-dht's query events). "+
			"Queried: peers sent a request; failed: requests that failed, mostly dials to departed nodes. "+
			"Records: %d records put by nodes that stay, each fetched (`records.Service.Get`) from a random live node, before and after their owners republish.\n\n",
			f.lookups, f.lookups, f.records)
		w("| nodes | log2 N | phase | live | keys ok | top-20 overlap | hops mean/max | queried p50/max | failed/lookup | latency p50/p99 ms | peers ok | peer hops | peer queried p50 | peer latency p50/p99 ms | records before/after republish |\n")
		w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, r := range dhts {
			d := r.DHT
			for _, ph := range d.Phases {
				k, p := ph.Keys, ph.Peers
				peer := "– | – | – | –"
				if p.Count > 0 {
					peer = fmt.Sprintf("%s | %.2f | %d | %s/%s", pct(p.SuccessRate()), p.HopsMean, p.QueriedP50, ms(p.LatP50), ms(p.LatP99))
				}
				w("| %d | %.1f | %s | %d | %s (%d) | %s | %.2f/%d | %d/%d | %.1f | %s/%s | %s | %s/%s |\n",
					d.Nodes, math.Log2(float64(d.Nodes)), ph.Name, ph.Live, pct(k.SuccessRate()), k.Count, pct(k.Overlap),
					k.HopsMean, k.HopsMax, k.QueriedP50, k.QueriedMax, k.FailedMean, ms(k.LatP50), ms(k.LatP99), peer,
					pct(ph.RecordsBefore), pct(ph.RecordsAfter))
			}
		}
		w("\n")
		for _, r := range dhts {
			if r.DHT.Joins > 0 {
				w("Churn at %d nodes: %d nodes left in all, %d of %d joins completed.\n", r.DHT.Nodes, r.DHT.Left, r.DHT.Joined, r.DHT.Joins)
			}
		}
		w("\n")
		if len(dhts) >= 2 {
			a, z := dhts[0], dhts[len(dhts)-1]
			if len(a.DHT.Phases) > 0 && len(z.DHT.Phases) > 0 {
				pa, pz := a.DHT.Phases[0], z.DHT.Phases[0]
				w("Growth from %d to %d nodes (stable phase): log2 N ×%.2f; key lookup hops ×%.2f, peers queried (p50) ×%.2f, latency p50 ×%.2f; "+
					"peak RSS ×%.1f for ×%.0f nodes.\n\n",
					a.DHT.Nodes, z.DHT.Nodes, math.Log2(float64(z.DHT.Nodes))/math.Log2(float64(a.DHT.Nodes)),
					ratio(pz.Keys.HopsMean, pa.Keys.HopsMean), ratio(float64(pz.Keys.QueriedP50), float64(pa.Keys.QueriedP50)),
					ratio(float64(pz.Keys.LatP50), float64(pa.Keys.LatP50)), ratio(float64(z.PeakRSS), float64(a.PeakRSS)),
					float64(z.DHT.Nodes)/float64(a.DHT.Nodes))
			}
		}
	}
	if len(gossips) > 0 {
		w("## Gossipsub\n\n")
		w("One topic, every node subscribed, each node dials 8 random others; after a 10s warm-up, %d messages of 256 B published by random honest nodes 200ms apart. "+
			"Delivery: share of (message, honest node) pairs delivered to the node's subscription; time to all: publish to the last honest node, per message. "+
			"Duplicates: gossipsub's DuplicateMessage per DeliverMessage on honest nodes. Bandwidth: pubsub stream bytes sent per honest node over the measured window. "+
			"Misbehaving nodes: *drop* join the meshes but deliver and forward nothing (a validator ignoring every message); "+
			"*spam* publish 5 unsigned messages a second each (LaxNoSign), which StrictSign rejects as invalid.\n\n", f.messages)
		w("| nodes | misbehaving | delivery | all reached | time to all p50/p99 ms | delivery p50/p99 ms | dups/delivery | rejected/node | B/s per node | B per message per node |\n")
		w("|---|---|---|---|---|---|---|---|---|---|\n")
		for _, r := range gossips {
			g := r.Gossip
			bad := "none"
			if g.Bad > 0 {
				bad = fmt.Sprintf("%d %s", g.Bad, g.BadKind)
			}
			w("| %d | %s | %s | %s | %s/%s | %s/%s | %.2f | %.0f | %.0f | %.0f |\n", g.Nodes, bad, pct(g.Delivery), pct(g.AllReached),
				ms(g.ToAllP50), ms(g.ToAllP99), ms(g.LatP50), ms(g.LatP99), g.DupPerDelivery, g.Rejected, g.BytesPerSec, g.BytesPerMsg)
		}
		w("\n")
	}
	b.WriteString(notes)
	w("## Memory and time of the simulation\n\n")
	w("Each run is its own process. Peak RSS from getrusage; peak heap in use sampled every second.\n\n")
	w("| run | peak RSS MiB | peak heap MiB | peak goroutines | links created | build s | wall s | error |\n")
	w("|---|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		var links int64
		var build time.Duration
		switch {
		case r.DHT != nil:
			links, build = r.DHT.Links, r.DHT.Build
		case r.Gossip != nil:
			links, build = r.Gossip.Links, r.Gossip.Build
		}
		w("| %s | %s | %s | %d | %d | %.0f | %.0f | %s |\n", r.Run, mib(r.PeakRSS), mib(int64(r.PeakHeap)), r.PeakGorou, links,
			build.Seconds(), r.Wall.Seconds(), r.Err)
	}
	w("\n")
	return b.String()
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

// notes explains what the tables show that is not obvious from them.
const notes = `## Reading the figures

- Key lookups after departures: kad-dht v0.42.2 builds a lookup's answer from the 20 closest peers it
  has heard of, answered or not (query.go, constructLookupResult: states Heard, Waiting and Queried),
  before its follow-up queries them. After a mass departure the answer therefore holds departed peers
  that were named but never reached, so the top-20 overlap with the live nodes drops while the closest
  live node is still found. Records are stored on and fetched from the peers that answered, which is
  why availability stays high.
- "failed" counts kad-dht QueryError events: dials to departed nodes (each costs the 3 s dial timeout)
  and, in a stable network too, the requests still in flight that kad-dht cancels when a lookup ends.
- Latencies are wall-clock times of simulated link delays on a machine shared with other work (load
  average about 14 on 2 cores during the runs), so they include scheduling delay; success, overlap,
  hops, peers queried, delivery and duplicates do not depend on it.
- Gossipsub scores peers that share an IP (an IPv6 /64) as one (P6, IP colocation, threshold 10): with
  every simulated host in one /64 no mesh formed and delivery fell to 3%. The simulation gives each
  host its own /64; nodes behind one NAT or in one /64 meet the same penalty in a real network.
- Each simulated peer runs the routing, records and pubsub services, not a whole node: no connection
  manager, so connections accumulate over a run ("links created").

`
