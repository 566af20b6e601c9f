package testnet

import (
	"testing"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Host returns a real libp2p host, closed in tb.Cleanup, for tests of the
// paths where real transports matter (stream deadlines, yamux flow control,
// QUIC, relays). It listens on TCP 127.0.0.1 port 0 unless opts set listen
// addresses of their own, and runs without metrics; opts come after these
// defaults.
func Host(tb testing.TB, opts ...libp2p.Option) host.Host {
	tb.Helper()
	var probe libp2p.Config
	if err := probe.Apply(opts...); err != nil {
		tb.Fatalf("libp2p options: %v", err)
	}
	defaults := []libp2p.Option{libp2p.DisableMetrics()}
	if len(probe.ListenAddrs) == 0 {
		defaults = append(defaults, libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	}
	h, err := libp2p.New(append(defaults, opts...)...)
	if err != nil {
		tb.Fatalf("new libp2p host: %v", err)
	}
	tb.Cleanup(func() { _ = h.Close() })
	return h
}

// Connect connects a to b at b's current addresses.
func Connect(tb testing.TB, a, b host.Host) {
	tb.Helper()
	if err := a.Connect(tb.Context(), peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		tb.Fatalf("connect %s to %s: %v", a.ID(), b.ID(), err)
	}
}
