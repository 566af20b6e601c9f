package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"

	"github.com/plexus-p2p/plexus/perf"
)

// settleTime lets new hosts and connections finish their start-up work
// (identify, address updates) before memory is sampled.
const settleTime = 2 * time.Second

// IdleMemory is the memory cost of idle hosts or idle connections, as
// deltas of process-wide samples divided by the count.
type IdleMemory struct {
	Name  string `json:"name"`
	Stack Stack  `json:"stack"`
	// Count is hosts, or connection pairs (both ends in this process).
	Count           int       `json:"count"`
	RSSPerKB        float64   `json:"rss_per_kb"`
	HeapPerKB       float64   `json:"heap_inuse_per_kb"`
	StackPerKB      float64   `json:"stack_inuse_per_kb"`
	GoroutinesPer   float64   `json:"goroutines_per"`
	Before          MemSample `json:"before"`
	After           MemSample `json:"after"`
	GoroutinesLeft  int       `json:"goroutines_left_after_close"`
	ServerConns     int       `json:"server_conns,omitempty"`
	ServerPeerstore int       `json:"server_peerstore_peers,omitempty"`
}

func (m *IdleMemory) compute() {
	n := float64(m.Count)
	if n == 0 {
		return
	}
	m.RSSPerKB = (float64(m.After.RSSBytes) - float64(m.Before.RSSBytes)) / n / 1024
	m.HeapPerKB = (float64(m.After.HeapInuseBytes) - float64(m.Before.HeapInuseBytes)) / n / 1024
	m.StackPerKB = (float64(m.After.StackBytes) - float64(m.Before.StackBytes)) / n / 1024
	m.GoroutinesPer = float64(m.After.Goroutines-m.Before.Goroutines) / n
}

// startHosts builds n hosts with at most 8 constructions at once.
func startHosts(ctx context.Context, n int, hc HostConfig) ([]host.Host, error) {
	hosts := make([]host.Host, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range n {
		if ctx.Err() != nil {
			errs[i] = ctx.Err()
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			hosts[i], errs[i] = NewHost(hc)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		closeHosts(hosts)
		return nil, err
	}
	return hosts, nil
}

func closeHosts(hosts []host.Host) {
	var wg sync.WaitGroup
	for _, h := range hosts {
		if h != nil {
			wg.Go(func() { _ = h.Close() })
		}
	}
	wg.Wait()
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WarmUp builds, connects and closes one host pair of each stack, so that
// one-time allocations (package-level caches, the first TLS and QUIC
// handshakes) are not charged to the first measurement.
func WarmUp(ctx context.Context) error {
	for _, st := range []Stack{StackTCPNoise, StackTCPTLS, StackQUIC, StackWSNoise, StackAll} {
		client, server, closeAll, err := hostPair(HostConfig{Stack: st})
		if err != nil {
			return err
		}
		_, err = perf.Run(ctx, client, server.ID(), 1<<10, 1<<10)
		closeAll()
		if err != nil {
			return fmt.Errorf("bench: warm-up %s: %w", st, err)
		}
	}
	return nil
}

// WarmUpMemory runs WarmUp and then an idle-host and an idle-connection
// measurement of n, discarding them. The Go runtime keeps some memory once
// it has grown (goroutine descriptors, span and arena metadata), so without
// this the first measurement in a process reads 10-20% higher than the
// same measurement repeated; after it, every measurement sees the steady
// state of a process that has held n hosts or connections before.
func WarmUpMemory(ctx context.Context, n int) error {
	if err := WarmUp(ctx); err != nil {
		return err
	}
	if _, err := MeasureIdleHosts(ctx, StackAll, n); err != nil {
		return err
	}
	_, err := MeasureIdleConns(ctx, "warm-up", HostConfig{Stack: StackTCPTLS}, n)
	return err
}

// MeasureIdleHosts starts n listening hosts, lets them settle and reports
// the memory each one adds.
func MeasureIdleHosts(ctx context.Context, stack Stack, n int) (IdleMemory, error) {
	m := IdleMemory{Name: "idle-host-" + string(stack), Stack: stack, Count: n}
	var err error
	if m.Before, err = SampleMemory(); err != nil {
		return m, err
	}
	hosts, err := startHosts(ctx, n, HostConfig{Stack: stack})
	if err != nil {
		return m, err
	}
	if err := sleepCtx(ctx, settleTime); err != nil {
		closeHosts(hosts)
		return m, err
	}
	if m.After, err = SampleMemory(); err != nil {
		closeHosts(hosts)
		return m, err
	}
	closeHosts(hosts)
	m.compute()
	m.GoroutinesLeft = goroutinesAfterClose(ctx, m.Before.Goroutines)
	return m, nil
}

// goroutinesAfterClose waits briefly for goroutines to wind down and
// reports how many more there are than before.
func goroutinesAfterClose(ctx context.Context, before int) int {
	var s MemSample
	for range 20 {
		s, _ = SampleMemory()
		if s.Goroutines <= before {
			break
		}
		if sleepCtx(ctx, 100*time.Millisecond) != nil {
			break
		}
	}
	return s.Goroutines - before
}

// MeasureIdleConns starts one server host and n client hosts built from
// hc, samples memory, connects every client to the server, lets the
// connections settle (identify done, no streams) and reports the memory per
// connection pair. The server's connection manager is set above n.
func MeasureIdleConns(ctx context.Context, name string, hc HostConfig, n int) (IdleMemory, error) {
	m := IdleMemory{Name: name, Stack: hc.Stack, Count: n}
	cm, err := connmgr.NewConnManager(n+100, n+200)
	if err != nil {
		return m, err
	}
	shc := hc
	shc.ConnManager = cm
	server, err := NewHost(shc)
	if err != nil {
		return m, err
	}
	defer server.Close()
	clients, err := startHosts(ctx, n, hc)
	if err != nil {
		return m, err
	}
	defer closeHosts(clients)
	if err := sleepCtx(ctx, settleTime); err != nil {
		return m, err
	}
	if m.Before, err = SampleMemory(); err != nil {
		return m, err
	}
	ok, errs := dialAll(ctx, clients, serverAddrInfo(server), 8)
	if ok != n {
		return m, fmt.Errorf("bench: %d of %d idle connections failed: %w", n-ok, n, errs)
	}
	if err := sleepCtx(ctx, settleTime); err != nil {
		return m, err
	}
	if m.After, err = SampleMemory(); err != nil {
		return m, err
	}
	m.ServerConns = len(server.Network().Conns())
	m.ServerPeerstore = len(server.Peerstore().Peers())
	m.compute()
	return m, nil
}
