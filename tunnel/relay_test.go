package tunnel_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	relayclient "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/tunnel"
)

// With only a relayed connection between the two peers the tunnel still
// works, when the relay's limits cut a connection the error states them,
// and once a direct connection exists new connections take it.
func TestThroughRelay(t *testing.T) {
	res := relayv2.DefaultResources()
	res.Limit = &relayv2.RelayLimit{Duration: time.Minute, Data: 256 << 10}
	rh := testnet.Host(t)
	relay, err := relayv2.New(rh, relayv2.WithResources(res))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { relay.Close() })

	hs, hc := testnet.Host(t), testnet.Host(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	relayInfo := peer.AddrInfo{ID: rh.ID(), Addrs: rh.Addrs()}
	if _, err := relayclient.Reserve(ctx, hs, relayInfo); err != nil {
		t.Fatalf("reserve a slot on the relay: %v", err)
	}
	circuit := rh.Addrs()[0].Encapsulate(ma.StringCast("/p2p/" + rh.ID().String() + "/p2p-circuit"))
	if err := hc.Connect(ctx, peer.AddrInfo{ID: hs.ID(), Addrs: []ma.Multiaddr{circuit}}); err != nil {
		t.Fatalf("connect through the relay: %v", err)
	}
	if c := hc.Network().Connectedness(hs.ID()); c != network.Limited {
		t.Fatalf("the peers are %s, want only a relayed (limited) connection", c)
	}

	server, client := newSide(t, hs), newSide(t, hc)
	ex := expose(t, server, "/x/echo", tcpServer(t, echo), hc.ID())
	fw := forward(t, client, hs.ID(), "/x/echo")

	// An exchange within the relay's limits.
	c := dial(t, fw.Listen)
	c.Write([]byte("over the relay"))
	c.CloseWrite()
	if got, err := io.ReadAll(c); err != nil || string(got) != "over the relay" {
		t.Fatalf("echo over the relay: %q %v", got, err)
	}
	testnet.Eventually(t, 10*time.Second, func() bool { return len(client.ev.Data(tunnel.EventConnClosed)) == 1 }, "connection closed event")
	if ev := client.ev.Data(tunnel.EventConnClosed)[0].(tunnel.ConnClosed); !ev.Relayed || ev.Error != "" || ev.BytesIn != 14 {
		t.Fatalf("connection over the relay: %+v, want a relayed one without error", ev)
	}
	if n := hc.Network().Connectedness(hs.ID()); n != network.Limited {
		t.Fatalf("after the tunnel the peers are %s: the tunnel dialled directly", n)
	}

	// More than the relay lets through: the relay cuts the connection and
	// both sides say which relay and what its limits are.
	c2, err := net.Dial("tcp", fw.Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	payload := bytes.Repeat([]byte("x"), 1<<20)
	go c2.Write(payload)
	got, _ := io.ReadAll(c2)
	if len(got) >= len(payload) {
		t.Fatalf("%d bytes came back through a relay that allows 256 KiB", len(got))
	}
	for _, s := range []*side{client, server} {
		id := fw.ID
		if s == server {
			id = ex.ID
		}
		waitError(t, s, id, "the connection through relay "+rh.ID().String(), "limits a relayed connection to 1m0s and 256 KiB each way", "peer")
	}

	// Once a direct connection exists (what hole punching produces), new
	// tunnel connections use it and the relay's limits no longer apply.
	testnet.Connect(t, hc, hs)
	c3 := dial(t, fw.Listen)
	go func() {
		c3.Write(payload)
		c3.CloseWrite()
	}()
	if got, err := io.ReadAll(c3); err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("over the direct connection: %d bytes back, %v; want all %d", len(got), err, len(payload))
	}
	testnet.Eventually(t, 10*time.Second, func() bool { return len(client.ev.Data(tunnel.EventConnClosed)) == 3 }, "connection closed event")
	direct := 0
	for _, d := range client.ev.Data(tunnel.EventConnClosed) {
		if ev := d.(tunnel.ConnClosed); ev.BytesIn == uint64(len(payload)) {
			if ev.Relayed || ev.Error != "" {
				t.Fatalf("connection after the direct connection appeared: %+v, want a direct one without error", ev)
			}
			direct++
		}
	}
	if direct != 1 {
		t.Fatalf("%d connections carried the whole payload, want 1: %+v", direct, client.ev.Data(tunnel.EventConnClosed))
	}
}
