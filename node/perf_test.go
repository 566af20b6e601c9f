package node_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/node"
	"github.com/plexus-p2p/plexus/perf"
)

// Perf takes a typed target and sizes, and refuses bad input with
// ErrInvalidArgument before touching the network.
func TestPerfTyped(t *testing.T) {
	nodes := testnet.Start(t, 2, testnet.Options{})
	a, b := nodes[0], nodes[1]
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	target := peer.AddrInfo{ID: a.ID(), Addrs: a.Host().Addrs()}

	res, err := b.Perf(ctx, target, 1<<10, 64<<10, "tcp", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Upload != 1<<10 || res.Download != 64<<10 || res.Total <= 0 || res.TimeToFirstByte <= 0 {
		t.Fatalf("perf result %+v", res)
	}
	for _, c := range b.Host().Network().ConnsToPeer(a.ID()) {
		if _, err := c.RemoteMultiaddr().ValueForProtocol(ma.P_TCP); err != nil {
			t.Fatalf("after perf over tcp: connection over %s", c.RemoteMultiaddr())
		}
	}

	for name, c := range map[string]struct {
		target           peer.AddrInfo
		upload, download uint64
		transport        string
	}{
		"self":              {peer.AddrInfo{ID: b.ID()}, 1, 1, ""},
		"no peer":           {peer.AddrInfo{}, 1, 1, ""},
		"upload too large":  {target, config.MaxPerfBytes + 1, 1, ""},
		"unknown transport": {target, 1, 1, "carrier-pigeon"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := b.Perf(ctx, c.target, c.upload, c.download, c.transport, nil); !errors.Is(err, node.ErrInvalidArgument) {
				t.Fatalf("got %v, want ErrInvalidArgument", err)
			}
		})
	}
}

// Issue 20 row 6: the default profile does not serve perf, so a peer's
// request gets nothing but a clear ErrNotServed; a node that serves it
// with perf.allow_peers refuses other peers.
func TestPerfOffByDefault(t *testing.T) {
	if config.Default().Perf.Enabled {
		t.Fatal("perf.enabled is on in the default profile")
	}
	nodes := testnet.Start(t, 3, testnet.Options{Mutate: func(i int, c *node.Config) {
		switch i {
		case 0:
			c.Perf = config.Default().Perf
		case 1:
			c.Perf.AllowPeers = []string{"12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK"}
		}
	}})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	off, limited, client := nodes[0], nodes[1], nodes[2]
	_, err := client.Perf(ctx, peer.AddrInfo{ID: off.ID(), Addrs: off.Host().Addrs()}, 0, 1<<30, "", nil)
	if !errors.Is(err, perf.ErrNotServed) {
		t.Fatalf("perf against a default-profile node: %v, want ErrNotServed", err)
	}
	_, err = client.Perf(ctx, peer.AddrInfo{ID: limited.ID(), Addrs: limited.Host().Addrs()}, 0, 1<<20, "", nil)
	if !errors.Is(err, perf.ErrRefused) {
		t.Fatalf("perf from a peer outside perf.allow_peers: %v, want ErrRefused", err)
	}
}
