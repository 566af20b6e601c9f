package testnet

// This file starts in-process Plexus nodes on loopback: the local profile
// (loopback, port 0, no mDNS or port mapping, DHT server), node 0 as the
// bootstrap node, everything closed in t.Cleanup.

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"

	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/node"
)

// LocalConfig returns the local-profile configuration used by tests.
func LocalConfig() config.Config {
	c := config.Default()
	if err := c.ApplyProfile("local"); err != nil {
		panic(err)
	}
	// Fewer transports make in-process nodes lighter; TCP and QUIC cover the
	// paths the tests use.
	c.Transports.WebRTCDirect = false
	c.Transports.WebTransport = false
	c.Transports.WebSocket = false
	return c
}

// NewKey returns a fresh Ed25519 identity.
func NewKey(tb testing.TB) crypto.PrivKey {
	tb.Helper()
	sk, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return sk
}

// Quiet is a logger that discards everything, for tests with many nodes.
var Quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// Options tune Start.
type Options struct {
	// Mutate adjusts each node's config before it starts (index i).
	Mutate func(i int, c *node.Config)
}

// Start starts n nodes: node 0 first as the bootstrap node, the others with
// node 0 as their only bootstrap peer. Every node is closed in t.Cleanup.
func Start(tb testing.TB, n int, opts Options) []*node.Node {
	tb.Helper()
	nodes := make([]*node.Node, 0, n)
	var boot []string
	for i := range n {
		cfg := node.Config{Config: LocalConfig(), Identity: NewKey(tb), Logger: Quiet}
		cfg.Network.Bootstrap = boot
		if opts.Mutate != nil {
			opts.Mutate(i, &cfg)
		}
		nd := StartNode(tb, cfg)
		nodes = append(nodes, nd)
		if i == 0 {
			boot = []string{nd.Info().Addrs[0].String()}
		} else if len(cfg.Network.Bootstrap) > 0 {
			// Bootstrap runs in the background: wait for it, on both
			// sides: each sees the connection when its own handshake ends.
			Eventually(tb, 20*time.Second, func() bool {
				return nd.Host().Network().Connectedness(nodes[0].ID()) == network.Connected &&
					nodes[0].Host().Network().Connectedness(nd.ID()) == network.Connected
			}, "node %d did not connect to the bootstrap node", i)
		}
	}
	return nodes
}

// StartNode creates and starts one node, closing it in t.Cleanup.
func StartNode(tb testing.TB, cfg node.Config) *node.Node {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nd, err := node.New(ctx, cfg)
	if err != nil {
		tb.Fatalf("start node: %v", err)
	}
	tb.Cleanup(func() { nd.Close() })
	if err := nd.Start(ctx); err != nil {
		tb.Fatalf("start node: %v", err)
	}
	return nd
}
