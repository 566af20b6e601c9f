package node_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/nat"
	"github.com/plexus-p2p/plexus/node"
	"github.com/plexus-p2p/plexus/swarmkey"
)

func newPSK(t *testing.T) pnet.PSK {
	t.Helper()
	k, err := swarmkey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// startPrivate starts n nodes with the same swarm key (node 0 bootstraps
// the others).
func startPrivate(t *testing.T, n int, k pnet.PSK) []*node.Node {
	t.Helper()
	return testnet.Start(t, n, testnet.Options{Mutate: func(_ int, c *node.Config) { c.PSK = k }})
}

// Nodes with the same key form a network: the DHT finds the peers each
// node was not told about, pub/sub delivers, records resolve; every
// connection is TCP and the node says what the private network turned off.
func TestPrivateNetworkWorks(t *testing.T) {
	k := newPSK(t)
	nodes := startPrivate(t, 3, k)
	for i, n := range nodes {
		p := n.Info().Private
		if !p.Enabled || p.Fingerprint != swarmkey.Fingerprint(k) || !slices.Equal(p.DisabledTransports, []string{"quic-v1"}) {
			t.Fatalf("node %d private network %+v: want enabled, fingerprint %s, quic-v1 turned off", i, p, swarmkey.Fingerprint(k))
		}
		if n.Config().Transports.QUIC {
			t.Fatalf("node %d runs with QUIC on", i)
		}
		for _, a := range n.Info().ListenAddrs {
			if !strings.Contains(a.String(), "/tcp/") || strings.Contains(a.String(), "quic") {
				t.Fatalf("node %d listens on %s: want TCP only", i, a)
			}
		}
		// Discovery: nodes 1 and 2 were given only node 0.
		testnet.Eventually(t, 20*time.Second, func() bool { return n.Routing().Size() == 2 },
			"node %d routing table has %v peers, want 2", i, testnet.Lazy(func() string { return fmt.Sprint(n.Routing().Size()) }))
	}
	for _, p := range nodes[1].Peers() {
		if p.Transport != "tcp" {
			t.Fatalf("connection over %s in a private network", p.Transport)
		}
	}

	// Pub/sub.
	sub, err := nodes[2].PubSub().Subscribe("team", 4)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if res, err := nodes[1].PubSub().Publish(ctx, "team", []byte("members only")); err != nil || res.NoPeers {
		t.Fatalf("publish: %+v, %v", res, err)
	}
	select {
	case m := <-sub.C():
		if string(m.Data) != "members only" || m.From != nodes[1].ID() {
			t.Fatalf("message %q from %s", m.Data, m.From)
		}
	case <-ctx.Done():
		t.Fatal("no pub/sub message in the private network")
	}

	// Records.
	rec, err := nodes[1].Records().Put(ctx, "motd", []byte("hello team"), 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := nodes[2].Records().Get(ctx, rec.Key)
	if err != nil || string(got.Value) != "hello team" {
		t.Fatalf("get %s: %q, %v", rec.Key, got.Value, err)
	}

	// The doctor reports it.
	st := nodes[0].NAT().Status()
	if !st.Private.Enabled || st.Private.Fingerprint != swarmkey.Fingerprint(k) || !slices.Equal(st.Private.DisabledTransports, []string{"quic-v1"}) {
		t.Fatalf("doctor: %+v", st.Private)
	}
	if !slices.ContainsFunc(st.Advice, func(a nat.Advice) bool {
		return a.Topic == nat.TopicPrivate && strings.Contains(a.Message, swarmkey.Fingerprint(k)) && strings.Contains(a.Message, "quic-v1")
	}) {
		t.Fatalf("no private network advice in %+v", st.Advice)
	}
}

// A node without the key, or with another one, cannot connect in either
// direction; the private side says the peer does not share its key.
func TestPrivateNetworkRefusesOutsiders(t *testing.T) {
	member := startPrivate(t, 1, newPSK(t))[0]
	other := startPrivate(t, 1, newPSK(t))[0]
	public := testnet.Start(t, 1, testnet.Options{})[0]
	fp := member.Info().Private.Fingerprint

	connect := func(from, to *node.Node) error {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		_, err := from.Connect(ctx, peer.AddrInfo{ID: to.ID(), Addrs: to.Host().Addrs()})
		return err
	}
	notShared := func(t *testing.T, err error, fingerprint string) {
		t.Helper()
		t.Log(err)
		if !errors.Is(err, node.ErrPrivateNetwork) {
			t.Fatalf("error %v, want ErrPrivateNetwork", err)
		}
		if msg := err.Error(); !strings.Contains(msg, "does not share this node's swarm key (fingerprint "+fingerprint+")") ||
			!strings.Contains(msg, "another swarm.key or none") || strings.Contains(msg, "\n") {
			t.Fatalf("error %q does not say why on one line", msg)
		}
	}
	t.Run("member to another key", func(t *testing.T) { notShared(t, connect(member, other), fp) })
	t.Run("another key to member", func(t *testing.T) { notShared(t, connect(other, member), other.Info().Private.Fingerprint) })
	t.Run("member to public", func(t *testing.T) { notShared(t, connect(member, public), fp) })
	t.Run("public to member", func(t *testing.T) {
		err := connect(public, member)
		t.Log(err)
		if !errors.Is(err, node.ErrUnreachable) || errors.Is(err, node.ErrPrivateNetwork) {
			t.Fatalf("error %v, want ErrUnreachable", err)
		}
		// The public node cannot know; it says what may be the cause.
		if !strings.Contains(err.Error(), "if the peer is in a private network (it has a swarm.key), this node needs the same key") {
			t.Fatalf("error %q gives no hint", err)
		}
	})
	for _, n := range []*node.Node{other, public} {
		if member.Host().Network().Connectedness(n.ID()) == network.Connected {
			t.Fatalf("member is connected to outsider %s", n.ID())
		}
	}
}

func TestPrivateNetworkConfigErrors(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(c *node.Config)
		msg    string
	}{
		{"short key", func(c *node.Config) { c.PSK = make([]byte, 16) }, "Config.PSK is 16 bytes, want 32"},
		{"QUIC only", func(c *node.Config) {
			c.PSK = newPSK(t)
			c.Network.Listen = []string{"/ip4/127.0.0.1/udp/0/quic-v1"}
		}, "none of network.listen [/ip4/127.0.0.1/udp/0/quic-v1] is a TCP or WebSocket address"},
		{"TCP and WebSocket off", func(c *node.Config) {
			c.PSK = newPSK(t)
			c.Transports.TCP, c.Transports.WebSocket = false, false
		}, "transports.tcp and transports.websocket are both off"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := node.Config{Config: testnet.LocalConfig(), Identity: testnet.NewKey(t), Logger: testnet.Quiet}
			c.mutate(&cfg)
			n, err := node.New(t.Context(), cfg)
			if err == nil {
				n.Close()
				t.Fatal("node started")
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %q, want %q", err, c.msg)
			}
		})
	}
}
