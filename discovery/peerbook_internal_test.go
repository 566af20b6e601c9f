package discovery

import (
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Issue 20 row 10: a peer that restarts on new ports must not leave its old
// addresses in the known-peers table, to be dialled all at once (and hang,
// holding the peer's connection slots) after the next restart.
func TestIdentifiedAddressesReplaceStaleOnes(t *testing.T) {
	h, err := libp2p.New(libp2p.NoListenAddrs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	cfg := defaultConfig()
	b := newPeerBook(h, nil, &cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	p := peer.ID("remote-peer")
	addrs := func(ss ...string) []ma.Multiaddr {
		var out []ma.Multiaddr
		for _, s := range ss {
			out = append(out, ma.StringCast(s))
		}
		return out
	}
	old := addrs("/ip4/127.0.0.1/tcp/4001", "/ip4/127.0.0.1/udp/4001/quic-v1")
	cur := addrs("/ip4/127.0.0.1/tcp/5001", "/ip4/127.0.0.1/udp/5001/quic-v1")
	b.record(p, SourceBootstrap, old) // loaded or learnt before the restart
	b.record(p, SourceIdentify, cur)  // the peer's own list after it restarted
	// The DHT passes the peerstore's addresses, stale ones included.
	b.record(p, SourceDHT, append(slices.Clone(old), cur...))
	var got []ma.Multiaddr
	for _, kp := range b.list() {
		if kp.ID == p {
			got = kp.Addrs
		}
	}
	if !slices.EqualFunc(got, cur, ma.Multiaddr.Equal) {
		t.Fatalf("known addresses of a peer that restarted: %v, want only its current ones %v", got, cur)
	}
}
