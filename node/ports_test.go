package node_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/node"
)

// freePort returns a loopback port that was free a moment ago, for the
// tests that need two nodes to ask for the same one.
func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func listenConfig(t *testing.T, listen ...string) node.Config {
	cfg := node.Config{Config: testnet.LocalConfig(), Identity: testnet.NewKey(t), Logger: testnet.Quiet}
	cfg.Network.Listen = listen
	return cfg
}

// A node asked to listen on a port another node already serves refuses to
// start and names the address. Over TCP it used to share the port
// (go-libp2p listens with SO_REUSEPORT) and say ready, with inbound
// connections spread between the two; over UDP the failed listen was only
// logged while another address worked.
func TestListenPortInUse(t *testing.T) {
	tcp := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", freePort(t, "tcp"))
	quic := fmt.Sprintf("/ip4/127.0.0.1/udp/%d/quic-v1", freePort(t, "udp"))
	testnet.StartNode(t, listenConfig(t, tcp, quic))

	for _, tc := range []struct {
		name, taken string
		listen      []string
	}{
		{"tcp", tcp, []string{tcp}},
		{"quic next to a free tcp port", quic, []string{"/ip4/127.0.0.1/tcp/0", quic}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			n, err := node.New(ctx, listenConfig(t, tc.listen...))
			if err == nil {
				n.Close()
				t.Fatalf("a second node started on %s", tc.taken)
			}
			if !strings.Contains(err.Error(), tc.taken) || !strings.Contains(err.Error(), "already in use") {
				t.Fatalf("error %q does not say that %s is in use", err, tc.taken)
			}
		})
	}
}

// The probe does not cost hole punching its port reuse: outgoing TCP
// connections still leave from the node's own listen port, which is what
// peers observe and what a NAT maps.
func TestDialsFromListenPort(t *testing.T) {
	port := freePort(t, "tcp")
	cfg := listenConfig(t, fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port))
	cfg.Transports.QUIC = false
	a := testnet.StartNode(t, cfg)
	b := testnet.StartNode(t, listenConfig(t, "/ip4/127.0.0.1/tcp/0"))
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if _, err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
	conns := b.Host().Network().ConnsToPeer(a.ID())
	if len(conns) == 0 {
		t.Fatal("b has no connection from a")
	}
	got, err := conns[0].RemoteMultiaddr().ValueForProtocol(ma.P_TCP)
	if err != nil || got != fmt.Sprint(port) {
		t.Fatalf("b sees a's connection from %s, want port %d (a's listen port)", conns[0].RemoteMultiaddr(), port)
	}
}
