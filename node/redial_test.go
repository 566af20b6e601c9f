package node_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/node"
)

// Issue 20 row 10: a peer restarts on new addresses; a node that still has
// only the old ones (in its peerstore and routing table) sends to it: the
// dial fails, the node asks the DHT for the peer's current addresses and
// the request goes through.
func TestSendReachesAPeerRestartedOnNewAddresses(t *testing.T) {
	// One connection is enough for every node: none dials every peer it
	// knows (as it would below the default low water of 100), which in a
	// network of three would tell the sender the target's new addresses.
	nodes := testnet.Start(t, 2, testnet.Options{Mutate: func(_ int, c *node.Config) { c.ConnManager.LowWater = 1 }})
	boot, a := nodes[0], nodes[1]
	key := testnet.NewKey(t)
	const echo = "/app/echo/1.0.0"
	dir := t.TempDir()
	startTarget := func(name string) *node.Node {
		t.Helper()
		cfg := node.Config{Config: testnet.LocalConfig(), Identity: key, Logger: testnet.Quiet,
			DatastorePath: filepath.Join(dir, name)} // a fresh datastore: nothing remembered of the last run
		cfg.Network.Bootstrap = []string{boot.Info().Addrs[0].String()}
		cfg.ConnManager.LowWater = 1
		n := testnet.StartNode(t, cfg)
		if err := n.Messaging().Handle(echo, func(_ context.Context, _ peer.ID, req []byte) ([]byte, error) { return req, nil }); err != nil {
			t.Fatal(err)
		}
		testnet.Eventually(t, 20*time.Second, func() bool {
			return boot.Host().Network().Connectedness(n.ID()) == network.Connected &&
				len(boot.Host().Peerstore().Addrs(n.ID())) > 0
		}, "the target did not join through the bootstrap node")
		return n
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	first := startTarget("first")
	if _, err := a.Send(ctx, first.ID(), echo, []byte("before")); err != nil {
		t.Fatal(err)
	}
	oldAddrs := first.Host().Addrs()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 20*time.Second, func() bool {
		return a.Host().Network().Connectedness(first.ID()) != network.Connected
	}, "the old connection to the target did not close")

	// The restarted target must not reach the sender by itself (in a
	// network of three its own lookups would; in a larger one most peers
	// hear nothing of it): the sender refuses it while it joins.
	if _, err := a.ACL().Deny(ctx, first.ID()); err != nil {
		t.Fatal(err)
	}
	second := startTarget("second")
	testnet.Eventually(t, 20*time.Second, func() bool { return second.Routing().Size() > 0 },
		"the restarted target's routing table stays empty")
	if err := <-second.Routing().DHT().RefreshRoutingTable(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ACL().Remove(ctx, second.ID()); err != nil {
		t.Fatal(err)
	}
	for _, na := range second.Host().Addrs() {
		for _, oa := range oldAddrs {
			if na.Equal(oa) {
				t.Fatalf("the restarted target listens on an old address %s; the test needs new ones", na)
			}
		}
	}
	known := a.Host().Peerstore().Addrs(second.ID())
	for _, ka := range known {
		for _, na := range second.Host().Addrs() {
			if ka.Equal(na) {
				t.Fatalf("the sender already knows the new address %s; the test needs it to know only the old ones", ka)
			}
		}
	}
	if a.Host().Network().Connectedness(second.ID()) == network.Connected || len(known) == 0 {
		t.Fatalf("the sender is connected to the target or forgot its old addresses (%v); the test needs it to know only those", known)
	}
	res, err := a.Send(ctx, second.ID(), echo, []byte("after"))
	if err != nil || string(res.Data) != "after" {
		t.Fatalf("send to the restarted peer: %q, %v", res.Data, err)
	}
}
