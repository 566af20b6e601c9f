package node_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"

	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/node"
)

// Issue 20 row 3, sized for 2 cores: 24 hostile peers (plain go-libp2p)
// hold every inbound slot of a target that admits 16 (high water 10, low
// water 5) and re-dial as soon as they are disconnected. Before the fix
// the connection manager never trimmed them (each re-dial starts a new
// 20 s grace period), so new peers were refused: 0 of 9 pings in the
// issue. Now idle newcomers are trimmed once over high water, trimmed peers
// are refused for trim_cooldown, and a peer that did useful work keeps its
// connection: five new peers connect and ping during the flood.
func TestConnectionFloodLeavesRoomForNewPeers(t *testing.T) {
	nodes := testnet.Start(t, 2, testnet.Options{Mutate: func(i int, c *node.Config) {
		if i == 0 {
			c.ConnManager.LowWater, c.ConnManager.HighWater = 5, 10
			c.ConnManager.IdleGrace = config.Duration(time.Second)
			c.ResourceManager.MaxInbound = 16
		}
	}})
	target, useful := nodes[0], nodes[1]
	const echo = "/app/echo/1.0.0"
	if err := target.Messaging().Handle(echo, func(_ context.Context, _ peer.ID, req []byte) ([]byte, error) {
		return req, nil
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if _, err := useful.Send(ctx, target.ID(), echo, []byte("work")); err != nil {
		t.Fatal(err)
	}
	targetInfo := peer.AddrInfo{ID: target.ID(), Addrs: target.Host().Addrs()}

	// The flood: every attacker keeps re-dialling while it is not connected.
	const attackers = 24
	floodCtx, stopFlood := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stopFlood(); wg.Wait() }()
	connects := startRedialFlood(t, floodCtx, &wg, attackers, targetInfo)
	// As many connections as the target has inbound slots (the target
	// trims them soon after high water, and under load a poll of its
	// connections can miss the moment, so count the attackers' side).
	testnet.Eventually(t, 30*time.Second, func() bool { return connects.Load() >= 16 },
		"the flood to reach 16 connections: %s", testnet.Lazy(func() string { return fmt.Sprint(connects.Load()) }))

	// New peers, one after another, each with a few seconds to connect and
	// ping while the attackers keep re-dialling.
	served := 0
	for i := range 5 {
		h := testnet.Host(t)
		if err := connectAndPing(ctx, h, targetInfo, 10*time.Second); err != nil {
			t.Errorf("new peer %d during the flood: %v", i, err)
			continue
		}
		served++
		_ = h.Close()
	}
	if served < 5 {
		t.Errorf("new peers served during the flood: %d of 5", served)
	}
	if target.Host().Network().Connectedness(useful.ID()) != network.Connected {
		t.Error("the peer with useful traffic was trimmed")
	}
	if _, err := useful.Send(ctx, target.ID(), echo, []byte("more work")); err != nil {
		t.Errorf("useful peer after the flood: %v", err)
	}
}

// connectAndPing connects h to target and pings it once, retrying for up to
// wait (a user would retry a refused connection).
func connectAndPing(ctx context.Context, h host.Host, target peer.AddrInfo, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var last error
	for ctx.Err() == nil {
		// Each attempt dials afresh, as a user retrying would.
		if sw, ok := h.Network().(*swarm.Swarm); ok {
			sw.Backoff().Clear(target.ID)
		}
		if err := h.Connect(ctx, target); err != nil {
			last = err
		} else {
			pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
			res := <-ping.Ping(pctx, h, target.ID)
			pcancel()
			if res.Error == nil {
				return nil
			}
			last = res.Error
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("not served within %s: %v", wait, last)
}

// Issue 20 row 3, the first seconds of a flood: attackers that just
// connected are spared for idle_grace, so they held every slot between
// high water and the resource manager's limit that long after each trim,
// and new peers were refused meanwhile. Now idle newcomers above high
// water are trimmed at once: a new peer is served well within idle_grace.
func TestConnectionFloodServesNewPeersWithinIdleGrace(t *testing.T) {
	const idleGrace = 15 * time.Second
	nodes := testnet.Start(t, 1, testnet.Options{Mutate: func(i int, c *node.Config) {
		c.ConnManager.LowWater, c.ConnManager.HighWater = 5, 10
		c.ConnManager.IdleGrace = config.Duration(idleGrace)
		c.ResourceManager.MaxInbound = 16
	}})
	target := nodes[0]
	targetInfo := peer.AddrInfo{ID: target.ID(), Addrs: target.Host().Addrs()}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	floodCtx, stopFlood := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stopFlood(); wg.Wait() }()
	connects := startRedialFlood(t, floodCtx, &wg, 24, targetInfo)
	// As many connections as the target has inbound slots (the target
	// trims them soon after high water, so count the attackers' side).
	testnet.Eventually(t, 30*time.Second, func() bool { return connects.Load() >= 16 },
		"the flood to reach 16 connections: %s", testnet.Lazy(func() string { return fmt.Sprint(connects.Load()) }))
	start := time.Now()
	for i := range 3 {
		h := testnet.Host(t)
		if err := connectAndPing(ctx, h, targetInfo, idleGrace/3); err != nil {
			t.Errorf("new peer %d, %s into the flood (idle_grace %s): %v", i, time.Since(start).Round(time.Millisecond), idleGrace, err)
		}
		_ = h.Close()
	}
}

// startRedialFlood starts n attacker hosts that connect to target and
// re-dial whenever they are not connected (every 50ms, each dial bounded by
// 2s) until ctx ends; wg tracks them. It returns the count of the
// attackers' successful connections.
func startRedialFlood(t *testing.T, ctx context.Context, wg *sync.WaitGroup, n int, target peer.AddrInfo) *atomic.Int64 {
	t.Helper()
	connects := new(atomic.Int64)
	for range n {
		h := testnet.Host(t)
		wg.Go(func() {
			for ctx.Err() == nil {
				if h.Network().Connectedness(target.ID) != network.Connected {
					dctx, dcancel := context.WithTimeout(ctx, 2*time.Second)
					if h.Connect(dctx, target) == nil {
						connects.Add(1)
					}
					dcancel()
				}
				select {
				case <-ctx.Done():
				case <-time.After(50 * time.Millisecond):
				}
			}
		})
	}
	return connects
}
