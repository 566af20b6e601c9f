package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/internal/testnet"
)

// Routing table, findpeer, closest, known peers, explore, rendezvous and a
// restart without bootstrap peers, through the CLI of four daemons.
func TestDiscoveryThroughCLI(t *testing.T) {
	base := t.TempDir()
	repos := []string{filepath.Join(base, "n1"), filepath.Join(base, "n2"), filepath.Join(base, "n3"), filepath.Join(base, "n4")}
	startDaemon(t, repos[0])
	var id1 wire.ID
	okJSON(t, repos[0], &id1, "id")
	daemons := map[int]*daemon{}
	for i := 1; i < 4; i++ {
		daemons[i] = startDaemon(t, repos[i], "--bootstrap", id1.Addrs[0])
	}
	ids := make([]wire.ID, 4)
	for i, r := range repos {
		okJSON(t, r, &ids[i], "id")
	}
	for i, r := range repos {
		testnet.Eventually(t, 20*time.Second, func() bool {
			var rt []wire.RoutingEntry
			okJSON(t, r, &rt, "dht", "table")
			return len(rt) == 3
		}, "node %d routing table did not reach 3 peers", i+1)
	}
	if out := ok(t, repos[1], "dht", "table"); !strings.Contains(out, "BUCKET") || !strings.Contains(out, ids[3].PeerID) {
		t.Fatalf("dht table:\n%s", out)
	}
	var found wire.FoundPeer
	okJSON(t, repos[1], &found, "dht", "findpeer", ids[3].PeerID)
	if found.PeerID != ids[3].PeerID || len(found.Addrs) == 0 {
		t.Fatalf("findpeer: %+v", found)
	}
	var closest wire.ClosestPeers
	okJSON(t, repos[2], &closest, "dht", "closest", "some-key")
	if len(closest.Peers) < 3 {
		t.Fatalf("closest: %+v", closest)
	}
	var known []wire.KnownPeer
	okJSON(t, repos[3], &known, "peers", "--known")
	sources := map[string]string{}
	for _, k := range known {
		sources[k.PeerID] = strings.Join(k.Sources, ",")
	}
	if !strings.Contains(sources[id1.PeerID], "bootstrap") || sources[ids[1].PeerID] == "" {
		t.Fatalf("known peers of node 4: %v", sources)
	}
	var rep wire.ExploreReport
	okJSON(t, repos[0], &rep, "explore")
	if rep.Total != 4 || rep.Dialable < 3 {
		t.Fatalf("explore: total %d dialable %d", rep.Total, rep.Dialable)
	}
	if dot := ok(t, repos[0], "explore", "--dot"); !strings.Contains(dot, "digraph") {
		t.Fatalf("explore --dot:\n%s", dot)
	}

	// Rendezvous: nodes 2 and 3 join app-x; node 2 finds node 3 and nobody else.
	ok(t, repos[1], "discover", "join", "app-x")
	ok(t, repos[2], "discover", "join", "app-x")
	testnet.Eventually(t, 20*time.Second, func() bool {
		var rp wire.RendezvousPeers
		okJSON(t, repos[1], &rp, "discover", "peers", "app-x")
		return len(rp.Peers) == 1 && rp.Peers[0].PeerID == ids[2].PeerID
	}, "node 2 did not find exactly node 3 in app-x")
	fails(t, repos[1], "topic", "discover", "join", "")
	fails(t, repos[1], "256", "discover", "join", strings.Repeat("x", 300))
	fails(t, repos[1], "invalid peer ID", "dht", "findpeer", "nope")

	// Node 4 restarted with no bootstrap peers rejoins from its persisted peers.
	if err := daemons[3].stop(t); err != nil {
		t.Fatal(err)
	}
	startDaemon(t, repos[3])
	testnet.Eventually(t, 30*time.Second, func() bool {
		var peers []wire.Peer
		okJSON(t, repos[3], &peers, "peers")
		return len(peers) >= 2
	}, "restarted node did not reconnect from its persisted peers")
}
