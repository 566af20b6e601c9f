package routing_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	corenet "github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/routing"
)

// Issue 20 row 9: peers of the routing table are killed. A lookup does not
// wait the swarm's dial timeout (5s on loopback, 15s elsewhere) on each of
// them, as a QUIC dial to a killed peer never gets an answer: it gives up
// after the query dial timeout, and the dead peers leave the routing table,
// so the next lookups do not meet them.
func TestLookupsDoNotWaitOnKilledPeers(t *testing.T) {
	const n, killed = 7, 3
	rts := make([]*routing.Service, n)
	hosts := make([]host.Host, n)
	for i := range rts {
		hosts[i] = testnet.Host(t, libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"))
		rts[i] = newRouting(t, hosts[i], routing.WithQueryDialTimeout(300*time.Millisecond))
	}
	for i := 1; i < n; i++ {
		testnet.Connect(t, hosts[i], hosts[0])
	}
	for i, rt := range rts {
		testnet.Eventually(t, 30*time.Second, func() bool {
			if rt.Size() < n-1 {
				ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
				_ = rt.Refresh(ctx)
				cancel()
			}
			return rt.Size() == n-1
		}, "node %d routing table has %d peers, want %d", i, rt.Size(), n-1)
	}

	asker := rts[1]
	h := hosts[1]
	var dead []peer.ID
	for i := n - killed; i < n; i++ {
		dead = append(dead, hosts[i].ID())
		rts[i].Close()
		hosts[i].Close()
	}
	testnet.Eventually(t, 20*time.Second, func() bool {
		return !slices.ContainsFunc(dead, func(p peer.ID) bool { return h.Network().Connectedness(p) == corenet.Connected })
	}, "the asker is still connected to a killed peer")
	if got := tablePeers(asker); !containsAll(got, dead) {
		t.Fatalf("before the lookup the table (%v) should still hold the killed peers %v", got, dead)
	}

	// Within 4s, less than the swarm's 5s dial timeout on loopback.
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Second)
	defer cancel()
	start := time.Now()
	_, err := asker.Closest(ctx, "some key")
	t.Logf("lookup with %d of %d peers killed: %s", killed, n, time.Since(start))
	if err != nil {
		t.Fatalf("lookup with %d of %d peers killed: %v", killed, n, err)
	}
	if got := tablePeers(asker); slices.ContainsFunc(dead, func(p peer.ID) bool { return slices.Contains(got, p) }) {
		t.Fatalf("after the lookup the routing table %v still holds killed peers (%v)", got, dead)
	}
}

func tablePeers(rt *routing.Service) []peer.ID {
	var out []peer.ID
	for _, e := range rt.Table() {
		out = append(out, e.Peer)
	}
	return out
}

func containsAll(set, want []peer.ID) bool {
	for _, p := range want {
		if !slices.Contains(set, p) {
			return false
		}
	}
	return true
}
