package node_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/acl"
	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/node"
)

func connectTo(t *testing.T, from, to *node.Node) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := from.Connect(ctx, peer.AddrInfo{ID: to.ID(), Addrs: to.Host().Addrs()})
	return err
}

// waitApart waits until neither node sees a connection to the other.
func waitApart(t *testing.T, a, b *node.Node) {
	t.Helper()
	testnet.Eventually(t, 10*time.Second, func() bool {
		return a.Host().Network().Connectedness(b.ID()) != network.Connected &&
			b.Host().Network().Connectedness(a.ID()) != network.Connected
	}, "%s and %s are still connected", a.ID(), b.ID())
}

// The denylist through the node: a connected peer is disconnected at once,
// then refused in both directions, with a clear error on the denying side
// and a hint on the other; the rest of the network is unaffected.
func TestNodeDeny(t *testing.T) {
	nodes := testnet.Start(t, 3, testnet.Options{})
	a, b := nodes[1], nodes[2]
	if err := connectTo(t, a, b); err != nil {
		t.Fatal(err)
	}
	ch, err := a.ACL().Deny(t.Context(), b.ID())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ch.Disconnected, []peer.ID{b.ID()}) || len(a.Host().Network().ConnsToPeer(b.ID())) != 0 {
		t.Fatalf("deny: disconnected %v, %d connection(s) left", ch.Disconnected, len(a.Host().Network().ConnsToPeer(b.ID())))
	}
	waitApart(t, a, b)

	err = connectTo(t, a, b)
	if !errors.Is(err, acl.ErrDenied) || !strings.Contains(err.Error(), b.ID().String()+" is on this node's denylist") {
		t.Fatalf("a connects to denied b: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := a.Ping(ctx, peer.AddrInfo{ID: b.ID()}, 1); !errors.Is(err, acl.ErrDenied) {
		t.Fatalf("a pings denied b: %v", err)
	}
	// b's TLS handshake completes before a's, so b connects, then a closes
	// the connection; b says what that likely means.
	err = connectTo(t, b, a)
	if !errors.Is(err, node.ErrUnreachable) || !strings.Contains(err.Error(), "it refuses this node (its allowlist or denylist)") {
		t.Fatalf("denied b connects to a: %v", err)
	}
	waitApart(t, a, b)
	// The gater counts what it refuses: a fresh inbound connection from b,
	// and a dial of b that does not go through the node's own check (the
	// DHT's, say).
	dctx, dcancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer dcancel()
	b.Host().Network().DialPeer(network.WithForceDirectDial(dctx, "test"), a.ID())
	testnet.Eventually(t, 10*time.Second, func() bool { return a.ACL().Snapshot().RefusedInbound > 0 }, "a counted no inbound refusal")
	if err := a.Host().Connect(dctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Host().Addrs()}); err == nil || a.ACL().Snapshot().RefusedOutbound == 0 {
		t.Fatalf("a's host dialled denied b (%v) or did not count it", err)
	}
	waitApart(t, a, b)
	// Both still reach the bootstrap node.
	for _, n := range []*node.Node{a, b} {
		if n.Host().Network().Connectedness(nodes[0].ID()) != network.Connected {
			t.Fatalf("%s lost the bootstrap node", n.ID())
		}
	}
	// The doctor counts it.
	if p := a.NAT().Status().Private; p.Denied != 1 || p.RefusedInbound == 0 || p.Enabled {
		t.Fatalf("doctor: %+v", p)
	}
}

// An allowlist admits its members and the bootstrap peers, and no one else.
func TestNodeAllowlist(t *testing.T) {
	nodes := testnet.Start(t, 4, testnet.Options{})
	boot, a, friend, stranger := nodes[0], nodes[1], nodes[2], nodes[3]
	for _, n := range []*node.Node{friend, stranger} {
		if err := connectTo(t, a, n); err != nil {
			t.Fatal(err)
		}
	}
	ch, err := a.ACL().Allow(t.Context(), friend.ID())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ch.Disconnected, []peer.ID{stranger.ID()}) {
		t.Fatalf("allow disconnected %v, want only the stranger %s", ch.Disconnected, stranger.ID())
	}
	for _, n := range []*node.Node{boot, friend} {
		if a.Host().Network().Connectedness(n.ID()) != network.Connected {
			t.Fatalf("allowlist cut %s", n.ID())
		}
	}
	waitApart(t, a, stranger)
	if err := connectTo(t, a, stranger); !errors.Is(err, acl.ErrNotAllowed) {
		t.Fatalf("a connects to the stranger: %v", err)
	}
	if err := connectTo(t, stranger, a); !errors.Is(err, node.ErrUnreachable) {
		t.Fatalf("the stranger connects to a: %v", err)
	}
	waitApart(t, a, stranger)
	// Emptying the allowlist admits everyone again.
	if _, err := a.ACL().Remove(t.Context(), friend.ID()); err != nil {
		t.Fatal(err)
	}
	if err := connectTo(t, stranger, a); err != nil {
		t.Fatalf("after emptying the allowlist: %v", err)
	}
}

// The lists survive a restart, and the restarted node enforces them.
func TestNodeACLPersists(t *testing.T) {
	other := testnet.Start(t, 1, testnet.Options{})[0]
	cfg := node.Config{Config: testnet.LocalConfig(), Identity: testnet.NewKey(t), Logger: testnet.Quiet,
		DatastorePath: filepath.Join(t.TempDir(), "datastore")}
	first := testnet.StartNode(t, cfg)
	if _, err := first.ACL().Deny(t.Context(), other.ID()); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	second := testnet.StartNode(t, cfg)
	s := second.ACL().Snapshot()
	if len(s.Denied) != 1 || s.Denied[0].Peer != other.ID() {
		t.Fatalf("after restart: %+v", s)
	}
	if err := connectTo(t, other, second); !errors.Is(err, node.ErrUnreachable) {
		t.Fatalf("denied peer connects to the restarted node: %v", err)
	}
	waitApart(t, other, second)
}
