//go:build interop

// Package interop checks that Plexus talks to js-libp2p on the wire: every
// check is a subtest of TestInterop that drives a js-libp2p node (interop/js,
// versions pinned in package-lock.json) against in-process Plexus nodes on
// loopback. Run it with `make interop` (go test -tags interop ./interop);
// `-update-matrix` rewrites docs/interop.md from the results.
package interop

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/node"
)

func TestMain(m *testing.M) { testnet.VerifyNoLeaks(m) }

// jsAgent is the agent version peer.mjs announces.
const jsAgent = "plexus-interop-js/1.0.0 js-libp2p"

// startPlexus starts an in-process Plexus node with the local profile and
// WebSocket on (testnet.LocalConfig turns it off to keep nodes light).
func startPlexus(t testing.TB, mutate func(*node.Config)) *node.Node {
	t.Helper()
	cfg := node.Config{Config: testnet.LocalConfig(), Identity: testnet.NewKey(t), Logger: testnet.Quiet}
	cfg.Transports.WebSocket = true
	if mutate != nil {
		mutate(&cfg)
	}
	return testnet.StartNode(t, cfg)
}

// plexusAddr returns n's address of one transport with /p2p/<id>.
func plexusAddr(t testing.TB, n *node.Node, transport string) string {
	t.Helper()
	for _, a := range n.Host().Addrs() {
		if transportOf(a) == transport {
			return a.Encapsulate(ma.StringCast("/p2p/" + n.ID().String())).String()
		}
	}
	t.Fatalf("plexus node has no %s address among %v", transport, n.Host().Addrs())
	return ""
}

func addrInfo(n *node.Node) peer.AddrInfo {
	return peer.AddrInfo{ID: n.ID(), Addrs: n.Host().Addrs()}
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// jsConn is a connection as the js peer reports it.
type jsConn struct {
	Peer       string `json:"peer"`
	RemoteAddr string `json:"remoteAddr"`
	Encryption string `json:"encryption"`
	Muxer      string `json:"muxer"`
	Direction  string `json:"direction"`
}

type jsPeerInfo struct {
	Agent     string   `json:"agent"`
	Protocols []string `json:"protocols"`
}

// wantPlexusConn checks Plexus's side of its connection to p: Noise, Yamux,
// over transport.
func wantPlexusConn(t testing.TB, n *node.Node, p peer.ID, transport string) {
	t.Helper()
	var conns []network.Conn
	testnet.Eventually(t, 10*time.Second, func() bool {
		conns = n.Host().Network().ConnsToPeer(p)
		return len(conns) > 0
	}, "plexus has no connection to js peer %s", p)
	st := conns[0].ConnState()
	if transport == "quic" {
		// QUIC brings its own security (TLS 1.3) and streams.
		if st.Transport != "quic-v1" {
			t.Fatalf("plexus's connection to js: transport %q, want quic-v1", st.Transport)
		}
		return
	}
	if st.Security != "/noise" || st.StreamMultiplexer != "/yamux/1.0.0" {
		t.Fatalf("plexus's connection to js: security %q muxer %q, want /noise and /yamux/1.0.0", st.Security, st.StreamMultiplexer)
	}
	if got := transportOf(conns[0].RemoteMultiaddr()); got != transport {
		t.Fatalf("plexus's connection to js runs over %s (%s), want %s", got, conns[0].RemoteMultiaddr(), transport)
	}
}

func wantJSConn(t testing.TB, c jsConn, p peer.ID, transport string) {
	t.Helper()
	if c.Peer != p.String() {
		t.Fatalf("js connected to %s, want %s", c.Peer, p)
	}
	if transport != "quic" && (c.Encryption != "/noise" || c.Muxer != "/yamux/1.0.0") {
		t.Fatalf("js's connection: encryption %q muxer %q, want /noise and /yamux/1.0.0", c.Encryption, c.Muxer)
	}
	a, err := ma.NewMultiaddr(c.RemoteAddr)
	if err != nil {
		t.Fatalf("js's connection remote address %q: %v", c.RemoteAddr, err)
	}
	if got := transportOf(a); got != transport {
		t.Fatalf("js's connection runs over %s (%s), want %s", got, c.RemoteAddr, transport)
	}
}

func hasAll(have []string, want ...string) []string {
	var missing []string
	for _, w := range want {
		if !slices.Contains(have, w) {
			missing = append(missing, w)
		}
	}
	return missing
}

// TestInterop runs every check against js-libp2p. Each leaf subtest is one
// row of the matrix in docs/interop.md.
func TestInterop(t *testing.T) {
	requireJS(t)
	ensureBuilt(t)
	m := newMatrix()
	t.Cleanup(func() { m.finish(t) })
	// The groups share nothing (each starts its own Plexus nodes and js
	// peers), so they run side by side: most of their time is spent waiting
	// for processes to start and for gossipsub heartbeats.
	for _, g := range interopGroups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.run(t, m)
		})
	}
}

// interopGroups are TestInterop's groups, in the order of the matrix.
var interopGroups = []struct {
	name string
	run  func(*testing.T, *matrix)
}{
	{"Connect", testConnect},
	{"PubSub", testPubSub},
	{"DHT", testDHT},
	{"Amino", testAmino},
	{"Perf", testPerf},
	{"RequestResponse", testRequestResponse},
	{"Browser", testBrowser},
}

func testConnect(t *testing.T, m *matrix) {
	p := startPlexus(t, nil)
	js := startJS(t, "connect", jsConfig{})
	t.Run("tcp/tls-only-plexus", func(t *testing.T) {
		m.row(t, implNode, "tcp", "connect to a Plexus node whose transports.security is [\"tls\"]: refused, as it must be (Noise is what js speaks)", "both")
		ctx := ctxFor(t, 30*time.Second)
		tlsOnly := startPlexus(t, func(c *node.Config) { c.Transports.Security = []string{"tls"} })
		err := js.call(ctx, "dial", map[string]any{"addr": plexusAddr(t, tlsOnly, "tcp")}, nil)
		if err == nil {
			t.Fatal("js connected to a TLS-only plexus node over TCP")
		}
		if _, err := tlsOnly.Connect(ctx, js.AddrInfo("tcp")); err == nil {
			t.Fatal("a TLS-only plexus node connected to js over TCP")
		}
		if n := len(tlsOnly.Host().Network().ConnsToPeer(js.ID)); n != 0 {
			t.Fatalf("the TLS-only plexus node has %d connections to js", n)
		}
	})
	for _, tr := range []string{"tcp", "ws", "quic"} {
		for _, dir := range []string{"js-dials-plexus", "plexus-dials-js"} {
			t.Run(tr+"/"+dir, func(t *testing.T) {
				ctx := ctxFor(t, 30*time.Second)
				// Each case starts from no connection: the previous one's
				// is closed, and so are the addresses plexus learnt.
				t.Cleanup(func() {
					_ = js.call(context.Background(), "hangUp", map[string]any{"peer": p.ID().String()}, nil)
					_ = p.Host().Network().ClosePeer(js.ID)
					p.Host().Peerstore().ClearAddrs(js.ID)
					testnet.Eventually(t, 10*time.Second, func() bool {
						return len(p.Host().Network().ConnsToPeer(js.ID)) == 0
					}, "plexus still connected to js after both hung up")
				})
				// the subtest names what the connection must negotiate
				name, what := "noise+yamux", "connect: Noise + Yamux (Plexus prefers TLS)"
				if tr == "quic" {
					name, what = "quic-tls", "connect: QUIC v1 (TLS 1.3 inside QUIC)"
				}
				t.Run(name, func(t *testing.T) {
					m.row(t, implNode, tr, what, dir)
					if dir == "js-dials-plexus" {
						var c jsConn
						js.must(ctx, "dial", map[string]any{"addr": plexusAddr(t, p, tr)}, &c)
						wantJSConn(t, c, p.ID(), tr)
					} else {
						if _, err := p.Connect(ctx, js.AddrInfo(tr)); err != nil {
							t.Fatalf("plexus connect to js over %s: %v", tr, err)
						}
						var cs struct{ Connections []jsConn }
						js.must(ctx, "connections", map[string]any{"peer": p.ID().String()}, &cs)
						if len(cs.Connections) == 0 {
							t.Fatal("js sees no connection from plexus")
						}
						wantJSConn(t, cs.Connections[0], p.ID(), tr)
					}
					wantPlexusConn(t, p, js.ID, tr)
				})
				t.Run("ping", func(t *testing.T) {
					m.row(t, implNode, tr, "ping", dir)
					var r struct{ RttMs float64 }
					js.must(ctx, "ping", map[string]any{"peer": p.ID().String()}, &r)
					if r.RttMs < 0 {
						t.Fatalf("js ping rtt %v", r.RttMs)
					}
					rtts, err := p.Ping(ctx, peer.AddrInfo{ID: js.ID}, 2)
					if err != nil || len(rtts) != 2 {
						t.Fatalf("plexus ping js: %v (%d round trips)", err, len(rtts))
					}
				})
				t.Run("identify", func(t *testing.T) {
					m.row(t, implNode, tr, "identify (agent, protocols)", dir)
					// js's view of plexus.
					var info jsPeerInfo
					testnet.Eventually(t, 10*time.Second, func() bool {
						err := js.call(ctx, "peerInfo", map[string]any{"peer": p.ID().String()}, &info)
						return err == nil && info.Agent != ""
					}, "js never learnt plexus's agent (identify)")
					if !strings.HasPrefix(info.Agent, "plexus/") {
						t.Fatalf("js sees plexus's agent %q, want plexus/<version>", info.Agent)
					}
					if miss := hasAll(info.Protocols, "/ipfs/id/1.0.0", "/ipfs/ping/1.0.0", "/meshsub/1.1.0", "/plexus/kad/1.0.0", "/perf/1.0.0"); len(miss) > 0 {
						t.Fatalf("js sees plexus's protocols %v, missing %v", info.Protocols, miss)
					}
					// plexus's view of js.
					testnet.Eventually(t, 10*time.Second, func() bool {
						v, err := p.Host().Peerstore().Get(js.ID, "AgentVersion")
						return err == nil && v == jsAgent
					}, "plexus never learnt js's agent %q (identify)", jsAgent)
					protos, err := p.Host().Peerstore().GetProtocols(js.ID)
					if err != nil {
						t.Fatal(err)
					}
					var ps []string
					for _, pr := range protos {
						ps = append(ps, string(pr))
					}
					if miss := hasAll(ps, "/ipfs/id/1.0.0", "/ipfs/ping/1.0.0", "/meshsub/1.1.0", "/perf/1.0.0"); len(miss) > 0 {
						t.Fatalf("plexus sees js's protocols %v, missing %v", ps, miss)
					}
				})
			})
		}
	}
}
