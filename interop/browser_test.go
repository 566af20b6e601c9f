//go:build interop

package interop

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/node"
)

// webTransportListen is Plexus's WebTransport listener on loopback: the local
// profile (config.LocalListen) has none, so the browser checks add it.
const webTransportListen = "/ip4/127.0.0.1/udp/0/quic-v1/webtransport"

func testBrowser(t *testing.T, m *matrix) {
	ctx := ctxFor(t, 90*time.Second)
	p := startPlexus(t, func(c *node.Config) {
		c.Transports.WebRTCDirect = true
		c.Transports.WebTransport = true
		c.Network.Listen = append(c.Network.Listen, webTransportListen)
	})
	const topic = "interop-browser"
	sub, err := p.PubSub().Subscribe(topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := startBrowser(t, "chromium")
	b.must(ctx, "subscribe", map[string]any{"topic": topic}, nil)

	for _, tr := range []string{"webrtc-direct", "webtransport"} {
		t.Run(tr, func(t *testing.T) {
			t.Run("connect+ping+identify", func(t *testing.T) {
				m.row(t, implBrowser, tr, "connect, ping, identify", "browser-dials-plexus")
				var c jsConn
				b.must(ctx, "dial", map[string]any{"addr": plexusAddr(t, p, tr)}, &c)
				if c.Peer != p.ID().String() || transportOfString(t, c.RemoteAddr) != tr {
					t.Fatalf("the browser connected to %s at %s, want plexus %s over %s", c.Peer, c.RemoteAddr, p.ID(), tr)
				}
				var conns int
				testnet.Eventually(t, 10*time.Second, func() bool {
					conns = 0
					for _, pc := range p.Host().Network().ConnsToPeer(b.ID) {
						// go-libp2p gives an inbound WebRTC-direct connection
						// a bare /ip4/../udp/.. remote address: ask the conn.
						if pc.ConnState().Transport == tr {
							conns++
						}
					}
					return conns > 0
				}, "plexus has no %s connection from the browser (has %v)", tr, remoteAddrs(p, b.ID))
				var r struct{ RttMs float64 }
				b.must(ctx, "ping", map[string]any{"peer": p.ID().String()}, &r)
				rtts, err := p.Ping(ctx, b.AddrInfo(""), 1)
				if err != nil || len(rtts) != 1 {
					t.Fatalf("plexus ping the browser over %s: %v", tr, err)
				}
				var info jsPeerInfo
				b.must(ctx, "peerInfo", map[string]any{"peer": p.ID().String()}, &info)
				if !strings.HasPrefix(info.Agent, "plexus/") || len(hasAll(info.Protocols, "/ipfs/ping/1.0.0", "/meshsub/1.1.0")) > 0 {
					t.Fatalf("the browser sees plexus's agent %q and protocols %v (identify)", info.Agent, info.Protocols)
				}
				testnet.Eventually(t, 10*time.Second, func() bool {
					v, err := p.Host().Peerstore().Get(b.ID, "AgentVersion")
					return err == nil && v == jsAgent+" (browser)"
				}, "plexus never learnt the browser's agent (identify)")
			})
			t.Run("gossipsub", func(t *testing.T) {
				m.row(t, implBrowser, tr, "gossipsub: byte-exact, author, signature", "both")
				waitJSMesh(t, ctx, b, topic, p.ID())
				waitPlexusMesh(t, p, topic, 1, b.ID)
				data := payload("plexus to browser over " + tr)
				if _, err := p.PubSub().Publish(ctx, topic, data); err != nil {
					t.Fatal(err)
				}
				got, err := b.waitMessage(ctx, topic)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Data, data) || got.From != p.ID().String() {
					t.Fatalf("the browser received %q by %s, want %q by plexus", got.Data, got.From, data)
				}
				verifyPubSubSignature(t, got, p.ID())
				data = payload("browser to plexus over " + tr)
				b.must(ctx, "publish", map[string]any{"topic": topic, "data": data}, nil)
				msg := recvPlexus(t, ctx, p, sub)
				if !bytes.Equal(msg.Data, data) || msg.From != b.ID {
					t.Fatalf("plexus received %q by %s, want %q by the browser %s", msg.Data, msg.From, data, b.ID)
				}
			})
			b.must(ctx, "hangUp", map[string]any{"peer": p.ID().String()}, nil)
			testnet.Eventually(t, 10*time.Second, func() bool {
				return len(p.Host().Network().ConnsToPeer(b.ID)) == 0
			}, "plexus still connected to the browser after it hung up")
		})
	}
}

func transportOfString(t testing.TB, s string) string {
	t.Helper()
	a, err := ma.NewMultiaddr(s)
	if err != nil {
		t.Fatalf("address %q: %v", s, err)
	}
	return transportOf(a)
}

func remoteAddrs(n *node.Node, p peer.ID) []string {
	var out []string
	for _, c := range n.Host().Network().ConnsToPeer(p) {
		out = append(out, c.ConnState().Transport+" "+c.RemoteMultiaddr().String())
	}
	return out
}
