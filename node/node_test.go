package node_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/node"
)

// Four nodes: node 0 is the bootstrap node, 1-3 know only node 0. Every node
// must end up with the three others in its routing table, learnt through
// identify and the DHT, and ping each of them.
func TestFourNodeNetwork(t *testing.T) {
	nodes := testnet.Start(t, 4, testnet.Options{})
	for i, n := range nodes {
		testnet.Eventually(t, 20*time.Second, func() bool {
			return n.Routing().Size() == 3
		}, "node %d routing table has %d peers, want 3", i, n.Routing().Size())
	}
	// Nodes 1..3 were given only node 0: the others they know came from the DHT.
	for i, n := range nodes[1:] {
		for j, o := range nodes {
			if o == n {
				continue
			}
			if n.Routing().DHT().RoutingTable().Find(o.ID()) == "" {
				t.Fatalf("node %d does not have node %d in its routing table", i+1, j)
			}
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for i, n := range nodes {
		for j, o := range nodes {
			if i == j {
				continue
			}
			rtts, err := n.Ping(ctx, peer.AddrInfo{ID: o.ID()}, 2)
			if err != nil {
				t.Fatalf("node %d ping node %d: %v", i, j, err)
			}
			if len(rtts) != 2 || rtts[0] <= 0 {
				t.Fatalf("node %d ping node %d: %v", i, j, rtts)
			}
		}
	}
	id := nodes[0].Info()
	if len(id.Bootstrap) != 0 || id.DHTMode != "server" || !strings.HasPrefix(id.AgentVersion, "plexus/") {
		t.Fatalf("unexpected id: %+v", id)
	}
	if !strings.HasSuffix(id.Addrs[0].String(), "/p2p/"+id.ID.String()) {
		t.Fatalf("address %q does not end in /p2p/<id>", id.Addrs[0])
	}
	hasKad := false
	for _, p := range id.Protocols {
		hasKad = hasKad || p == "/plexus/kad/1.0.0"
	}
	if !hasKad {
		t.Fatalf("protocols %v lack /plexus/kad/1.0.0", id.Protocols)
	}
	peers := nodes[1].Peers()
	if len(peers) < 3 || peers[0].Security == "" || peers[0].Muxer == "" || peers[0].Transport == "" {
		t.Fatalf("peers of node 1: %+v", peers)
	}
}

// A node restarted from the same repo keeps its peer ID and addresses.
func TestRestartKeepsIdentityAndAddrs(t *testing.T) {
	key := testnet.NewKey(t)
	dir := t.TempDir()
	cfg := node.Config{Config: testnet.LocalConfig(), Identity: key, Logger: testnet.Quiet,
		DatastorePath: filepath.Join(dir, "datastore")}
	ctx := t.Context()
	first, err := node.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	id1 := first.Info()
	// Pin the ports the first run picked, as the default config's fixed ports would.
	cfg.Network.Listen = nil
	for _, a := range id1.ListenAddrs {
		cfg.Network.Listen = append(cfg.Network.Listen, a.String())
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	second, err := node.New(ctx, cfg)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer second.Close()
	id2 := second.Info()
	if id1.ID != id2.ID {
		t.Fatalf("peer ID changed: %s -> %s", id1.ID, id2.ID)
	}
	if fmt.Sprint(id1.ListenAddrs) != fmt.Sprint(id2.ListenAddrs) {
		t.Fatalf("addresses changed: %v -> %v", id1.ListenAddrs, id2.ListenAddrs)
	}
}

func TestBadInput(t *testing.T) {
	n := testnet.Start(t, 1, testnet.Options{})[0]
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	otherID, _ := peer.IDFromPrivateKey(testnet.NewKey(t))
	unknownID, _ := peer.IDFromPrivateKey(testnet.NewKey(t))
	cases := []struct {
		name string
		run  func() error
		want error
	}{
		// Malformed multiaddrs and peer IDs are strings: the API parses them (api tests).
		{"self", func() error {
			_, err := n.Connect(ctx, peer.AddrInfo{ID: n.ID(), Addrs: n.Host().Addrs()})
			return err
		}, node.ErrInvalidArgument},
		{"self ping", func() error { _, err := n.Ping(ctx, peer.AddrInfo{ID: n.ID()}, 1); return err }, node.ErrInvalidArgument},
		{"not connected", func() error { return n.Disconnect(otherID) }, node.ErrNotFound},
		{"unreachable", func() error {
			_, err := n.Connect(ctx, peer.AddrInfo{ID: otherID, Addrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/1")}})
			return err
		}, node.ErrUnreachable},
		{"unknown peer ping", func() error { _, err := n.Ping(ctx, peer.AddrInfo{ID: unknownID}, 1); return err }, node.ErrNotFound},
		{"ping count", func() error { _, err := n.Ping(ctx, peer.AddrInfo{ID: otherID}, 1000); return err }, node.ErrInvalidArgument},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.run()
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

// A default node (TLS preferred) and a Noise-only node (like js-libp2p)
// still agree on Noise.
func TestSecurityNegotiationFallsBackToNoise(t *testing.T) {
	nodes := testnet.Start(t, 2, testnet.Options{Mutate: func(i int, c *node.Config) {
		if i == 1 {
			c.Transports.Security = []string{"noise"}
			c.Transports.QUIC = false
		}
	}})
	for _, p := range nodes[1].Peers() {
		if p.Security != "/noise" {
			t.Fatalf("connection secured with %q, want /noise", p.Security)
		}
	}
	if len(nodes[1].Peers()) == 0 {
		t.Fatal("no connection")
	}
}
