package node_test

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/node"
	"github.com/plexus-p2p/plexus/tunnel"
)

// A node forwards to a peer it is not connected to and has no address for:
// it finds the peer through the DHT. Closing the node closes its tunnels.
func TestTunnelsFindThePeerAndCloseWithTheNode(t *testing.T) {
	nodes := testnet.Start(t, 3, testnet.Options{})
	boot, server, client := nodes[0], nodes[1], nodes[2]
	// The lookup goes through the bootstrap node: wait until it knows the
	// server and the client knows it.
	testnet.Eventually(t, 20*time.Second, func() bool {
		return boot.Routing().DHT().RoutingTable().Find(server.ID()) != "" &&
			client.Routing().DHT().RoutingTable().Find(boot.ID()) != ""
	}, "routing tables not filled")

	target := greeter(t, "hello from the server's machine")
	if _, err := server.Tunnels().Expose("/x/hello", target, []peer.ID{client.ID()}); err != nil {
		t.Fatal(err)
	}

	// The client forgets the server entirely: connection, addresses and
	// routing-table entry, so only a lookup through the bootstrap node finds it.
	client.Host().Network().ClosePeer(server.ID())
	client.Routing().DHT().RoutingTable().RemovePeer(server.ID())
	client.Host().Peerstore().ClearAddrs(server.ID())
	fw, err := client.Tunnels().Forward("127.0.0.1:0", server.ID(), "/x/hello")
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", fw.Listen)
	if err != nil {
		t.Fatalf("%v (tunnel %+v)", err, client.Tunnels().List())
	}
	got, err := io.ReadAll(c)
	c.Close()
	if err != nil || string(got) != "hello from the server's machine" {
		t.Fatalf("through the tunnel: %q %v (tunnel %+v)", got, err, client.Tunnels().List())
	}

	client.Close()
	if c, err := net.Dial("tcp", fw.Listen); err == nil {
		c.Close()
		t.Fatalf("%s still accepts after the node closed", fw.Listen)
	}
	if _, err := client.Tunnels().Forward("127.0.0.1:0", server.ID(), "/x/hello"); !errors.Is(err, tunnel.ErrClosed) {
		t.Fatalf("forward after the node closed: %v, want ErrClosed", err)
	}
}

// In a private network a tunnel exposed without an allow list admits the
// network's members; on an open network the same tunnel admits nobody.
func TestPrivateTunnelAdmitsMembers(t *testing.T) {
	through := func(t *testing.T, server, client *node.Node) string {
		if _, err := server.Tunnels().Expose("/x/members", greeter(t, "member"), nil); err != nil {
			t.Fatal(err)
		}
		fw, err := client.Tunnels().Forward("127.0.0.1:0", server.ID(), "/x/members")
		if err != nil {
			t.Fatal(err)
		}
		c, err := net.Dial("tcp", fw.Listen)
		if err != nil {
			// A refused tunnel connection is reset at once; under load
			// the reset can reach the client before its connect returns.
			t.Logf("dial the forward: %v", err)
			return ""
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, _ := io.ReadAll(c)
		return string(got)
	}
	private := startPrivate(t, 2, newPSK(t))
	if got := through(t, private[0], private[1]); got != "member" {
		t.Fatalf("private network member through a tunnel without --allow: %q, want %q", got, "member")
	}
	open := testnet.Start(t, 2, testnet.Options{})
	if got := through(t, open[0], open[1]); got != "" {
		t.Fatalf("open network, no --allow: got %q, want nothing (refused)", got)
	}
}

// greeter is a local TCP service that writes msg to each connection and
// closes it; it returns its address.
func greeter(t *testing.T, msg string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(msg))
			c.Close()
		}
	}()
	return l.Addr().String()
}
