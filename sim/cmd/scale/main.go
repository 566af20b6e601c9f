// Command scale runs the simulations of package sim and writes bench/scale.md:
// Kademlia lookups at each size (stable, after a mass departure, during and
// after continuous churn, record availability with republishing) and
// gossipsub delivery on one topic (honest, 10% dropping, 10% spamming).
//
// Each run is a child process of its own (the same binary with -run), so
// that its peak RSS is its own.
//
//	go run ./sim/cmd/scale -sizes 1000,10000 -gossip 1000 -out bench/scale.md
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/plexus-p2p/plexus/sim"
)

type flags struct {
	sizes, gossipSizes string
	out                string
	lookups, records   int
	churnRate          float64
	churnFor           time.Duration
	latency            string
	loss               float64
	messages           int
	timeout            time.Duration
	run                string // child: "dht:N" or "gossip:N:kind"
	seed               uint64
}

// childResult is what a child prints on stdout.
type childResult struct {
	Run       string
	DHT       *sim.DHTResult    `json:",omitempty"`
	Gossip    *sim.GossipResult `json:",omitempty"`
	PeakRSS   int64             // bytes, getrusage
	PeakHeap  uint64            // bytes, HeapInuse sampled every second
	PeakGorou int
	Wall      time.Duration
	Err       string `json:",omitempty"`
}

func main() {
	var f flags
	flag.StringVar(&f.sizes, "sizes", "1000,10000", "DHT network sizes")
	flag.StringVar(&f.gossipSizes, "gossip", "1000", "gossip network sizes")
	flag.StringVar(&f.out, "out", "bench/scale.md", "report to write")
	flag.IntVar(&f.lookups, "lookups", 100, "key lookups and peer lookups per phase")
	flag.IntVar(&f.records, "records", 50, "records put (and looked up after churn)")
	flag.Float64Var(&f.churnRate, "churn-rate", 0.005, "share of nodes replaced per second during churn")
	flag.DurationVar(&f.churnFor, "churn-for", 30*time.Second, "length of the continuous churn")
	flag.StringVar(&f.latency, "latency", "20ms-200ms", "one-way link latency: uniform min-max, drawn per link")
	flag.Float64Var(&f.loss, "loss", 0, "probability that a write is lost once (retransmitted after max(200ms, 2×latency))")
	flag.IntVar(&f.messages, "messages", 50, "gossip messages per run")
	flag.DurationVar(&f.timeout, "timeout", 20*time.Minute, "bound of each run")
	flag.StringVar(&f.run, "run", "", "internal: run one simulation and print its JSON")
	flag.Uint64Var(&f.seed, "seed", 1, "random seed")
	printNotes := flag.Bool("notes", false, "print the report's notes and exit")
	flag.Parse()
	if *printNotes {
		fmt.Print(notes)
		return
	}
	lat, err := sim.ParseLatency(f.latency)
	if err != nil {
		fail(err)
	}
	if f.run != "" {
		child(f, lat)
		return
	}
	var results []childResult
	var runs []string
	// Smallest first, each DHT size with the gossip runs of that size, so
	// that a run cut short still leaves the smaller sizes in the report
	// (it is rewritten after each run).
	dsizes, gsizes := splitInts(f.sizes), splitInts(f.gossipSizes)
	for _, n := range dsizes {
		runs = append(runs, fmt.Sprintf("dht:%d", n))
		for _, g := range gsizes {
			if g <= n && (n == dsizes[0] || g > dsizes[0]) {
				runs = append(runs, gossipRuns(g)...)
			}
		}
	}
	for _, g := range gsizes {
		if len(dsizes) == 0 || g > dsizes[len(dsizes)-1] {
			runs = append(runs, gossipRuns(g)...)
		}
	}
	start := time.Now()
	for _, r := range runs {
		fmt.Fprintf(os.Stderr, "scale: %s ...\n", r)
		res := runChild(f, r)
		if res.Err != "" {
			fmt.Fprintf(os.Stderr, "scale: %s: %s\n", r, res.Err)
		}
		results = append(results, res)
		if err := os.WriteFile(f.out, []byte(report(f, lat, results, time.Since(start))), 0o644); err != nil {
			fail(err)
		}
	}
	fmt.Fprintf(os.Stderr, "scale: wrote %s in %s\n", f.out, time.Since(start).Round(time.Second))
}

func gossipRuns(n int) []string {
	return []string{fmt.Sprintf("gossip:%d:", n), fmt.Sprintf("gossip:%d:%s", n, sim.BadDrop), fmt.Sprintf("gossip:%d:%s", n, sim.BadSpam)}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "scale:", err)
	os.Exit(1)
}

func splitInts(s string) []int {
	var out []int
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 10 {
			fail(fmt.Errorf("size %q: want an integer of at least 10", p))
		}
		out = append(out, n)
	}
	return out
}

// runChild runs one simulation in a child process.
func runChild(f flags, run string) childResult {
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout+time.Minute)
	defer cancel()
	args := append([]string{"-run", run}, os.Args[1:]...)
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	err := cmd.Run()
	var res childResult
	if jerr := json.Unmarshal(out.Bytes(), &res); jerr != nil {
		res = childResult{Run: run, Err: fmt.Sprintf("child: %v (%v)", err, jerr)}
	}
	return res
}

func child(f flags, lat sim.Latency) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	var peakHeap atomic.Uint64
	var peakG atomic.Int64
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peakHeap.Load() {
				peakHeap.Store(ms.HeapInuse)
			}
			if g := int64(runtime.NumGoroutine()); g > peakG.Load() {
				peakG.Store(g)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	netCfg := sim.Config{Latency: lat, Loss: f.loss, Seed: f.seed}
	res := childResult{Run: f.run}
	parts := strings.Split(f.run, ":")
	n, _ := strconv.Atoi(parts[1])
	var err error
	switch parts[0] {
	case "dht":
		var r sim.DHTResult
		r, err = sim.RunDHT(ctx, sim.DHTOptions{Nodes: n, Lookups: f.lookups, Records: f.records, Concurrency: 16,
			Depart: 0.3, ChurnRate: f.churnRate, ChurnFor: f.churnFor, Net: netCfg, Seed: f.seed, Logf: logf})
		res.DHT = &r
	case "gossip":
		o := sim.GossipOptions{Nodes: n, Degree: 8, Messages: f.messages, Interval: 200 * time.Millisecond,
			Warmup: 10 * time.Second, Drain: 20 * time.Second, BadKind: parts[2], SpamRate: 5, Size: 256,
			Net: netCfg, Seed: f.seed, Logf: logf}
		if o.BadKind != "" {
			o.Bad = 0.1
		}
		var r sim.GossipResult
		r, err = sim.RunGossip(ctx, o)
		res.Gossip = &r
	default:
		err = fmt.Errorf("unknown run %q", f.run)
	}
	close(stop)
	if err != nil {
		res.Err = err.Error()
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		res.PeakRSS = ru.Maxrss * 1024
	}
	res.PeakHeap, res.PeakGorou = peakHeap.Load(), int(peakG.Load())
	res.Wall = time.Since(start)
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fail(err)
	}
}
