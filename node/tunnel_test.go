package node_test

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/internal/testnet"
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
			c.Write([]byte("hello from the server's machine"))
			c.Close()
		}
	}()
	if _, err := server.Tunnels().Expose("/x/hello", l.Addr().String(), []peer.ID{client.ID()}); err != nil {
		t.Fatal(err)
	}

	client.Host().Network().ClosePeer(server.ID())
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
