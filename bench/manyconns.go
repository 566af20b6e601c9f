package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"

	"github.com/plexus-p2p/plexus/perf"
)

const (
	manyDialTimeout   = 15 * time.Second
	manyDialWorkers   = 16
	manyGracePeriod   = 2 * time.Second
	manySilencePeriod = time.Second
	manyTrimWait      = 20 * time.Second
)

// ManyConns is one host holding connections from many in-process client
// hosts (one connection each), once per phase.
type ManyConns struct {
	Stack   Stack            `json:"stack"`
	Clients int              `json:"clients"`
	Phases  []ManyConnsPhase `json:"phases"`
	// ClientHostsRSSMB is the process RSS after the (light, dial-only)
	// client hosts were started, before any dial.
	ClientHostsRSSMB float64 `json:"client_hosts_rss_mb"`
}

// ManyConnsPhase is one target configuration dialled by every client.
type ManyConnsPhase struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	HighWater   int    `json:"high_water"`
	LowWater    int    `json:"low_water"`
	Attempted   int    `json:"attempted"`
	Succeeded   int    `json:"succeeded"`
	Failed      int    `json:"failed"`
	// FailureSample is one dial error, to show why dials were refused.
	FailureSample string  `json:"failure_sample,omitempty"`
	DialSeconds   float64 `json:"dial_seconds"`
	// PeakConns is the most connections the target held at once (sampled).
	PeakConns int `json:"peak_conns"`
	// ConnsAfterTrim is what the target held once the connection manager
	// had trimmed (or after the wait, if it never got below high water).
	ConnsAfterTrim int     `json:"conns_after_trim"`
	TrimSeconds    float64 `json:"trim_seconds"`
	// Process-wide figures at the peak sample.
	PeakRSSMB      float64 `json:"peak_rss_mb"`
	PeakGoroutines int     `json:"peak_goroutines"`
	// RSSPerConnKB is (RSS after dialing - RSS before) / succeeded: both
	// ends of each connection.
	RSSPerConnKB float64 `json:"rss_per_conn_kb"`
	// StillServes reports whether a newcomer could connect to the target
	// afterwards and run a perf exchange; ProbeError says why not.
	StillServes bool   `json:"still_serves"`
	ProbeError  string `json:"probe_error,omitempty"`
	Error       string `json:"error,omitempty"`
}

// MeasureManyConns starts clients light dial-only hosts and, for each
// phase, a target host that every client dials once:
//
//   - default-limits: go-libp2p's default autoscaled resource manager and a
//     connection manager with the given high water (low = 80%);
//   - default-limits-libp2p-connmgr: the same resource manager with
//     go-libp2p's default connection manager watermarks (160/192);
//   - raised-limits: the resource manager's connection limits raised above
//     the client count, so the connection manager is what bounds the host.
//
// The connection manager's grace period is 2s and silence period 1s (the
// defaults, 1 minute and 10s, would make the run wait that long).
func MeasureManyConns(ctx context.Context, stack Stack, clients, highWater int) (ManyConns, error) {
	mc := ManyConns{Stack: stack, Clients: clients}
	hosts, err := startHosts(ctx, clients, HostConfig{Stack: stack, NoListen: true, Light: true})
	if err != nil {
		return mc, err
	}
	defer closeHosts(hosts)
	if s, err := SampleMemory(); err == nil {
		mc.ClientHostsRSSMB = float64(s.RSSBytes) / (1 << 20)
	}

	for _, name := range []string{"default-limits", "default-limits-libp2p-connmgr", "raised-limits"} {
		ph, err := manyConnsPhase(ctx, name, stack, hosts, highWater)
		if err != nil {
			ph.Error = err.Error()
		}
		mc.Phases = append(mc.Phases, ph)
		if ctx.Err() != nil {
			return mc, ctx.Err()
		}
		// Drop every client's connection before the next phase.
		var wg sync.WaitGroup
		for _, h := range hosts {
			wg.Go(func() {
				for _, c := range h.Network().Conns() {
					_ = c.Close()
				}
			})
		}
		wg.Wait()
	}
	return mc, nil
}

func manyConnsPhase(ctx context.Context, name string, stack Stack, clients []host.Host, highWater int) (ManyConnsPhase, error) {
	lowWater := highWater * 4 / 5
	if name == "default-limits-libp2p-connmgr" {
		lowWater, highWater = 160, 192
	}
	ph := ManyConnsPhase{Name: name, HighWater: highWater, LowWater: lowWater, Attempted: len(clients)}
	cm, err := connmgr.NewConnManager(lowWater, highWater,
		connmgr.WithGracePeriod(manyGracePeriod), connmgr.WithSilencePeriod(manySilencePeriod))
	if err != nil {
		return ph, err
	}
	hc := HostConfig{Stack: stack, ConnManager: cm}
	switch name {
	case "default-limits", "default-limits-libp2p-connmgr":
		ph.Description = "go-libp2p default resource manager (autoscaled limits)"
	case "raised-limits":
		limit := rcmgr.LimitVal(len(clients) + 256)
		limits := rcmgr.PartialLimitConfig{
			System:    rcmgr.ResourceLimits{Conns: limit, ConnsInbound: limit, FD: limit * 2},
			Transient: rcmgr.ResourceLimits{Conns: limit, ConnsInbound: limit, FD: limit},
		}.Build(rcmgr.DefaultLimits.AutoScale())
		rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits))
		if err != nil {
			return ph, err
		}
		hc.ResourceManager = rm
		ph.Description = fmt.Sprintf("resource manager connection limits raised to %d", limit)
	}
	target, err := NewHost(hc)
	if err != nil {
		return ph, err
	}
	defer target.Close()
	svc, err := perf.New(target)
	if err != nil {
		return ph, err
	}
	defer svc.Close()

	before, err := SampleMemory()
	if err != nil {
		return ph, err
	}
	// Sample the target's connection count while dialing.
	var peak atomic.Int64
	var peakMem MemSample
	var mu sync.Mutex
	sampleCtx, stopSampling := context.WithCancel(ctx)
	var sampler sync.WaitGroup
	sampler.Go(func() {
		for sampleCtx.Err() == nil {
			n := int64(len(target.Network().Conns()))
			if n > peak.Load() {
				peak.Store(n)
				if s, err := sampleNoGC(); err == nil {
					mu.Lock()
					peakMem = s
					mu.Unlock()
				}
			}
			_ = sleepCtx(sampleCtx, 50*time.Millisecond)
		}
	})

	start := time.Now()
	ok, dialErr := dialAll(ctx, clients, serverAddrInfo(target), manyDialWorkers)
	ph.DialSeconds = time.Since(start).Seconds()
	ph.Succeeded, ph.Failed = ok, len(clients)-ok
	if dialErr != nil {
		ph.FailureSample = truncate(firstError(dialErr).Error(), 300)
	}
	after, err := SampleMemory()
	if err == nil && ok > 0 {
		ph.RSSPerConnKB = (float64(after.RSSBytes) - float64(before.RSSBytes)) / float64(ok) / 1024
	}

	// Wait for the connection manager to trim below high water.
	trimStart := time.Now()
	for len(target.Network().Conns()) > highWater && time.Since(trimStart) < manyTrimWait {
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			break
		}
	}
	// Let a trim in progress finish closing.
	_ = sleepCtx(ctx, 500*time.Millisecond)
	ph.TrimSeconds = time.Since(trimStart).Seconds()
	ph.ConnsAfterTrim = len(target.Network().Conns())
	stopSampling()
	sampler.Wait()
	ph.PeakConns = int(peak.Load())
	mu.Lock()
	ph.PeakRSSMB, ph.PeakGoroutines = float64(peakMem.RSSBytes)/(1<<20), peakMem.Goroutines
	mu.Unlock()

	// The target still serves a newcomer.
	probe, err := NewHost(HostConfig{Stack: stack, NoListen: true, Light: true})
	if err != nil {
		return ph, err
	}
	defer probe.Close()
	probe.Peerstore().AddAddrs(target.ID(), target.Addrs(), time.Hour)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := perf.Run(pctx, probe, target.ID(), 1<<10, 1<<10); err != nil {
		// A finding, not a failure of the benchmark.
		ph.ProbeError = truncate(err.Error(), 300)
		return ph, nil
	}
	ph.StillServes = true
	return ph, nil
}

// sampleNoGC samples memory without forcing a GC (used while busy).
func sampleNoGC() (MemSample, error) {
	rss, err := procStatusKB("VmRSS")
	if err != nil {
		return MemSample{}, err
	}
	return MemSample{RSSBytes: rss * 1024, Goroutines: runtime.NumGoroutine()}, nil
}

// dialAll connects every client to target with the given concurrency and
// reports how many succeeded and the errors of the others.
func dialAll(ctx context.Context, clients []host.Host, target peer.AddrInfo, workers int) (int, error) {
	var ok atomic.Int64
	var mu sync.Mutex
	var errs []error
	next := make(chan host.Host)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for h := range next {
				dctx, cancel := context.WithTimeout(ctx, manyDialTimeout)
				err := h.Connect(dctx, target)
				cancel()
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					continue
				}
				ok.Add(1)
			}
		})
	}
	for _, h := range clients {
		if ctx.Err() != nil {
			break
		}
		next <- h
	}
	close(next)
	wg.Wait()
	return int(ok.Load()), errors.Join(errs...)
}

func firstError(err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		if es := j.Unwrap(); len(es) > 0 {
			return es[0]
		}
	}
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
