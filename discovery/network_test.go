package discovery_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/discovery"
	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/routing"
)

// networkSize is the size of the large test network; smaller under the race
// detector, which slows every goroutine down several times.
func networkSize() int {
	if raceEnabled || testing.Short() {
		return 20
	}
	return 50
}

// findAll makes each listed (from, to) pair run dht.FindPeer, 8 at a time,
// and returns the failures.
func findAll(ctx context.Context, nodes []*testNode, pairs [][2]int) []string {
	var mu sync.Mutex
	var failures []string
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, pr := range pairs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			from, to := nodes[pr[0]], nodes[pr[1]]
			fctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			ai, err := from.dht.FindPeer(fctx, to.h.ID())
			// An inbound connection not yet identified gives no addresses,
			// but the peer is reachable through it.
			reachable := len(ai.Addrs) > 0 || from.h.Network().Connectedness(ai.ID) == network.Connected
			if err == nil && (ai.ID != to.h.ID() || !reachable) {
				err = fmt.Errorf("got %v", ai)
			}
			if err != nil {
				mu.Lock()
				failures = append(failures, fmt.Sprintf("%d→%d: %v", pr[0], pr[1], err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return failures
}

func TestNetworkFillsRoutingTablesAndFindsEveryNode(t *testing.T) {
	n := networkSize()
	_, nodes := mockNetwork(t, n, netConfig{})
	waitRoutingTables(t, nodes, 60*time.Second)

	// Each node finds 10 random others, and every node finds the last one.
	var pairs [][2]int
	for i := range nodes {
		for _, j := range samplePeers(n, i, 10) {
			pairs = append(pairs, [2]int{i, j})
		}
		if i != n-1 {
			pairs = append(pairs, [2]int{i, n - 1})
		}
	}
	if failures := findAll(t.Context(), nodes, pairs); len(failures) > 0 {
		t.Fatalf("%d of %d FindPeer lookups failed: %v", len(failures), len(pairs), failures)
	}

	// Peers learned through bootstrap, identify and the DHT are all known
	// (the DHT's additions are recorded asynchronously).
	last := nodes[n-1]
	var missing []string
	testnet.Eventually(t, 10*time.Second, func() bool {
		missing = missing[:0]
		known := map[peer.ID]discovery.KnownPeer{}
		for _, kp := range last.svc.KnownPeers() {
			known[kp.ID] = kp
		}
		if kp := known[nodes[0].h.ID()]; !slices.Contains(kp.Sources, discovery.SourceBootstrap) || !kp.Connected {
			missing = append(missing, fmt.Sprintf("bootstrap node: %+v", kp))
		}
		for _, p := range last.dht.RoutingTable().ListPeers() {
			if kp, ok := known[p]; !ok || !slices.Contains(kp.Sources, discovery.SourceDHT) || len(kp.Addrs) == 0 {
				missing = append(missing, fmt.Sprintf("routing-table peer %s: %+v", p, kp))
			}
		}
		return len(missing) == 0
	}, "%s", testnet.Lazy(func() string {
		return fmt.Sprintf("known peers of node %d lack sources bootstrap/dht or addresses: %v", n-1, missing)
	}))
	var discovered int
	for _, e := range last.pub.Of(discovery.EventPeerDiscovered) {
		if d := e.Data.(discovery.PeerDiscovered); d.Source == discovery.SourceIdentify && len(d.Addrs) > 0 {
			discovered++
		}
	}
	if discovered < n/2 {
		t.Errorf("node %d published %d peer.discovered events from identify, want at least %d", n-1, discovered, n/2)
	}

	// Explore from a random node reaches every node, self included.
	from := nodes[rand.IntN(n)]
	rep, err := from.rt.Explore(t.Context(), routing.ExploreOptions{Timeout: 30 * time.Second, AgentVersion: "plexus-test"})
	if err != nil {
		t.Fatalf("explore: %v", err)
	}
	if rep.Total != n || rep.Dialable != n || rep.Undialable != 0 || !rep.Complete {
		t.Fatalf("explore report: total %d dialable %d undialable %d complete %v, want %d dialable of %d, complete",
			rep.Total, rep.Dialable, rep.Undialable, rep.Complete, n, n)
	}
	if !rep.Nodes[0].Self || rep.Nodes[0].ID != from.h.ID() || rep.Self != from.h.ID() {
		t.Errorf("first report node = %s (self %v), want the exploring node %s", rep.Nodes[0].ID, rep.Nodes[0].Self, from.h.ID())
	}
	ids := map[peer.ID]bool{}
	for _, nd := range rep.Nodes {
		ids[nd.ID] = true
		if !slices.Contains(nd.Protocols, routing.DefaultProtocol) || nd.AgentVersion == "" || len(nd.Addrs) == 0 {
			t.Errorf("node %s: protocols %v agent %q addrs %v, want the DHT protocol, an agent and addresses",
				nd.ID, nd.Protocols, nd.AgentVersion, nd.Addrs)
		}
		if len(nd.Neighbours) == 0 {
			t.Errorf("node %s reported no routing-table neighbours", nd.ID)
		}
	}
	for i, nd := range nodes {
		if !ids[nd.h.ID()] {
			t.Errorf("node %d (%s) missing from the explore report", i, nd.h.ID())
		}
	}
}

func TestChurnSurvivorsStayConnected(t *testing.T) {
	const n = 30
	_, nodes := mockNetwork(t, n, netConfig{opts: func(int) []discovery.Option {
		return []discovery.Option{discovery.WithLowWater(3)}
	}})
	waitRoutingTables(t, nodes, 60*time.Second)

	// Stop 30% at random, the bootstrap node among them.
	stopped := map[int]bool{0: true}
	for _, i := range rand.Perm(n) {
		if len(stopped) == n*3/10 {
			break
		}
		stopped[i] = true
	}
	var survivors []*testNode
	for i, nd := range nodes {
		if stopped[i] {
			nd.stop(t)
		} else {
			survivors = append(survivors, nd)
		}
	}
	alive := map[peer.ID]bool{}
	for _, nd := range survivors {
		alive[nd.h.ID()] = true
	}

	// Every survivor still has connections to other survivors.
	for i, nd := range survivors {
		var live int
		for _, p := range nd.h.Network().Peers() {
			if alive[p] {
				live++
			}
		}
		if live < 3 {
			t.Errorf("survivor %d connected to %d survivors, want at least 3", i, live)
		}
	}

	// Lookups between survivors succeed through the damaged network: each
	// searcher first drops its direct connection to the target.
	var pairs [][2]int
	for i := range survivors {
		for _, j := range samplePeers(len(survivors), i, 3) {
			pairs = append(pairs, [2]int{i, j})
			_ = survivors[i].h.Network().ClosePeer(survivors[j].h.ID())
		}
	}
	if failures := findAll(t.Context(), survivors, pairs); len(failures) > 0 {
		t.Fatalf("%d of %d lookups between survivors failed: %v", len(failures), len(pairs), failures)
	}
	for _, pr := range pairs {
		from, to := survivors[pr[0]], survivors[pr[1]]
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		err := from.h.Connect(ctx, peer.AddrInfo{ID: to.h.ID()})
		cancel()
		if err != nil {
			t.Errorf("survivor %d cannot connect to survivor %d after finding it: %v", pr[0], pr[1], err)
		}
	}
}

func TestWatcherReconnectsThroughKnownPeersWhenBootstrapIsGone(t *testing.T) {
	const n = 8
	const lowWater = 4
	// The DHTs do not refresh on their own (a small routing table that
	// loses a peer triggers a refresh, which would reconnect the node
	// before the watcher does).
	mn, nodes := mockNetwork(t, n, netConfig{
		opts: func(i int) []discovery.Option {
			if i == n-1 {
				return []discovery.Option{discovery.WithLowWater(lowWater)}
			}
			return []discovery.Option{discovery.WithLowWater(0)}
		},
		dhtOpts: []dht.Option{dht.DisableAutoRefresh()},
	})
	waitRoutingTables(t, nodes, 30*time.Second)
	x := nodes[n-1]

	// The bootstrap node goes away, then x is cut off from every peer.
	nodes[0].stop(t)
	for _, o := range nodes[1 : n-1] {
		_ = mn.UnlinkPeers(x.h.ID(), o.h.ID())
	}
	for _, p := range x.h.Network().Peers() {
		_ = x.h.Network().ClosePeer(p)
	}

	// Below the low-water mark, the watcher re-bootstraps: the bootstrap
	// node is dialled again, fails, and is reported.
	testnet.Eventually(t, 30*time.Second, func() bool {
		st := x.svc.BootstrapStatus()
		return len(st) == 1 && st[0].Attempts >= 1
	}, "%s", testnet.Lazy(func() string {
		return fmt.Sprintf("bootstrap status %+v, want a failed attempt", x.svc.BootstrapStatus())
	}))
	st := x.svc.BootstrapStatus()[0]
	if st.Peer != nodes[0].h.ID() || st.Connected || st.LastError == "" || st.LastConnected.IsZero() {
		t.Errorf("bootstrap status = %+v, want peer %s not connected, with an error and an earlier connection", st, nodes[0].h.ID())
	}
	failed := x.pub.Of(discovery.EventBootstrapFailed)
	if len(failed) == 0 || failed[0].Data.(discovery.BootstrapFailed).Peer != nodes[0].h.ID() {
		t.Errorf("bootstrap.failed events = %+v, want one for %s", failed, nodes[0].h.ID())
	}

	// Once the network is reachable again, the next re-bootstrap reconnects
	// through the known peers (nobody else dials x).
	for _, o := range nodes[1 : n-1] {
		if _, err := mn.LinkPeers(x.h.ID(), o.h.ID()); err != nil {
			t.Fatalf("relink: %v", err)
		}
	}
	testnet.Eventually(t, 30*time.Second, func() bool {
		return len(x.h.Network().Peers()) >= lowWater
	}, "%s", testnet.Lazy(func() string {
		return fmt.Sprintf("node reconnected to %d peers, want %d", len(x.h.Network().Peers()), lowWater)
	}))
}
