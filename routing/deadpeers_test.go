package routing_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/host"
	corenet "github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/routing"
)

// Issue 20 row 9: peers of the routing table are killed. A lookup does not
// wait the swarm's dial timeout (5s on loopback, 15s elsewhere) on each of
// them, as a QUIC dial to a killed peer never gets an answer: it gives up
// after the query dial timeout, the dead peers leave the routing table, and
// the next lookups do not dial them again when live peers, whose tables
// still hold them, name them.
func TestLookupsDoNotWaitOnKilledPeers(t *testing.T) {
	const n, killed = 7, 3
	// A lookup may dial a dead peer twice (its first dial cancelled when
	// the lookup's first phase ends, again in the follow-up): 2 x 1s stays
	// below the swarm's own 5s on loopback.
	const dialTimeout = time.Second
	rts := make([]*routing.Service, n)
	hosts := make([]host.Host, n)
	for i := range rts {
		hosts[i] = testnet.Host(t, libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"))
		// No refreshes of its own: every lookup is the test's.
		rts[i] = newRouting(t, hosts[i], routing.WithQueryDialTimeout(dialTimeout), routing.WithDHTOptions(dht.DisableAutoRefresh()))
	}
	// Every pair connected: each DHT adds the other once identify shows the
	// protocol, with no lookups whose 1s dial timeout a loaded machine can
	// miss (a CI run's refreshes left a table at 1 peer for 30s).
	for i := range hosts {
		for j := i + 1; j < n; j++ {
			testnet.Connect(t, hosts[i], hosts[j])
		}
	}
	for i, rt := range rts {
		testnet.Eventually(t, 30*time.Second, func() bool { return rt.Size() == n-1 },
			"node %d routing table has %d peers, want %d", i, rt.Size(), n-1)
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

	// Within 4s: less than the swarm's dial timeout on loopback (5s).
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Second)
	defer cancel()
	start := time.Now()
	_, err := asker.Closest(ctx, "some key")
	t.Logf("lookup with %d of %d peers killed: %s", killed, n, time.Since(start))
	if err != nil {
		t.Fatalf("lookup with %d of %d peers killed: %v", killed, n, err)
	}
	testnet.Eventually(t, 10*time.Second, func() bool {
		got := tablePeers(asker)
		return !slices.ContainsFunc(dead, func(p peer.ID) bool { return slices.Contains(got, p) })
	}, "after the lookup the routing table still holds killed peers")

	// The live peers still name the killed ones; a second lookup does not
	// dial them (it would wait the 1s dial timeout): it ends within 0.9s.
	for _, rt := range rts[:n-killed] {
		if rt != asker && !containsAll(tablePeers(rt), dead) {
			t.Fatalf("a live peer's table %v lost a killed peer %v; the test needs them there", tablePeers(rt), dead)
		}
	}
	ctx2, cancel2 := context.WithTimeout(t.Context(), 900*time.Millisecond)
	defer cancel2()
	start = time.Now()
	_, err = asker.Closest(ctx2, "another key")
	t.Logf("second lookup: %s", time.Since(start))
	if err != nil {
		t.Fatalf("second lookup: %v", err)
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
