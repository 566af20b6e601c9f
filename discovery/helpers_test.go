package discovery_test

import (
	"fmt"
	"github.com/plexus-p2p/plexus/events"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/discovery"
	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/routing"
)

// testNode is one node of a test network.
type testNode struct {
	h     host.Host
	rt    *routing.Service
	dht   *dht.IpfsDHT // rt.DHT()
	svc   *discovery.Service
	pub   *events.Recorder
	store datastore.Batching
	mn    *testnet.Net // set for mocknet nodes
	once  sync.Once
}

// stop closes the node's discovery, routing and host, in that order, once.
func (n *testNode) stop(t testing.TB) {
	t.Helper()
	n.once.Do(func() {
		if err := n.svc.Close(); err != nil {
			t.Errorf("close discovery of %s: %v", n.h.ID(), err)
		}
		_ = n.rt.Close()
		_ = n.h.Close()
		if n.mn != nil {
			// A closed mocknet host still accepts connections over its
			// links: cut them so that the node is really gone.
			for _, p := range n.mn.Peers() {
				if p != n.h.ID() {
					_ = n.mn.UnlinkPeers(n.h.ID(), p)
				}
			}
		}
	})
}

func quietLogger() *slog.Logger {
	if testing.Verbose() && os.Getenv("PLEXUS_TEST_LOG") != "" {
		return slog.Default()
	}
	return slog.New(slog.DiscardHandler)
}

// testDHT builds the routing of h: a server-mode DHT with the /plexus prefix.
func testDHT(t testing.TB, h host.Host, extra ...dht.Option) *routing.Service {
	t.Helper()
	rt, err := routing.New(h,
		routing.WithLogger(quietLogger()),
		routing.WithMode(routing.ModeServer),
		routing.WithDatastore(dssync.MutexWrap(datastore.NewMapDatastore())),
		routing.WithDHTOptions(extra...))
	if err != nil {
		t.Fatalf("new routing on %s: %v", h.ID(), err)
	}
	return rt
}

// fastOptions are the discovery timings for tests.
func fastOptions() []discovery.Option {
	return []discovery.Option{
		discovery.WithLogger(quietLogger()),
		discovery.WithBackoff(50*time.Millisecond, time.Second),
		discovery.WithDialTimeout(5 * time.Second),
		discovery.WithRebootstrapInterval(200 * time.Millisecond),
		discovery.WithWatchInterval(100 * time.Millisecond),
		discovery.WithRendezvousInterval(200 * time.Millisecond),
	}
}

// p2pAddr returns h's first address with /p2p/<id>.
func p2pAddr(t testing.TB, h host.Host) string {
	t.Helper()
	addrs, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()})
	if err != nil || len(addrs) == 0 {
		t.Fatalf("p2p address of %s: %v", h.ID(), err)
	}
	return addrs[0].String()
}

// startNode builds and starts the discovery service of h; it is closed in
// t.Cleanup with the routing and host.
func startNode(t testing.TB, h host.Host, rt *routing.Service, store datastore.Batching, opts ...discovery.Option) *testNode {
	t.Helper()
	pub := &events.Recorder{}
	all := append(append(fastOptions(), discovery.WithPublisher(pub)), opts...)
	svc, err := discovery.New(h, rt, store, all...)
	if err != nil {
		t.Fatalf("discovery.New on %s: %v", h.ID(), err)
	}
	n := &testNode{h: h, rt: rt, dht: rt.DHT(), svc: svc, pub: pub, store: store}
	t.Cleanup(func() { n.stop(t) })
	if err := svc.Start(t.Context()); err != nil {
		t.Fatalf("start discovery on %s: %v", h.ID(), err)
	}
	return n
}

// netConfig adjusts a test network.
type netConfig struct {
	opts    func(i int) []discovery.Option // extra options of node i
	dhtOpts []dht.Option                   // extra options of every DHT
}

// mockNetwork starts n nodes on a mocknet where every node may dial every
// other; node 0 is the bootstrap node of all the others, which know nothing
// else.
func mockNetwork(t testing.TB, n int, cfg netConfig) (*testnet.Net, []*testNode) {
	t.Helper()
	mn := testnet.NewNet(t)
	hosts := mn.AddHosts(n)
	if err := mn.LinkAll(); err != nil {
		t.Fatalf("mocknet link: %v", err)
	}
	boot := p2pAddr(t, hosts[0])
	nodes := make([]*testNode, n)
	for i, h := range hosts {
		var opts []discovery.Option
		if i > 0 {
			opts = append(opts, discovery.WithBootstrapPeers(boot))
		}
		if cfg.opts != nil {
			opts = append(opts, cfg.opts(i)...)
		}
		store := dssync.MutexWrap(datastore.NewMapDatastore())
		nodes[i] = startNode(t, h, testDHT(t, h, cfg.dhtOpts...), store, opts...)
		nodes[i].mn = mn
	}
	return mn, nodes
}

// waitRoutingTables waits until every node's routing table holds at least
// min(20, len(nodes)-1) peers.
func waitRoutingTables(t testing.TB, nodes []*testNode, timeout time.Duration) {
	t.Helper()
	want := min(20, len(nodes)-1)
	var low []string
	testnet.Eventually(t, timeout, func() bool {
		low = low[:0]
		for i, n := range nodes {
			if s := n.dht.RoutingTable().Size(); s < want {
				low = append(low, fmt.Sprintf("node %d: %d", i, s))
			}
		}
		return len(low) == 0
	}, "%s", testnet.Lazy(func() string { return fmt.Sprintf("routing tables below %d peers: %v", want, low) }))
}

// samplePeers returns k distinct indexes in [0,n) other than self.
func samplePeers(n, self, k int) []int {
	var out []int
	for _, i := range rand.Perm(n) {
		if len(out) == k {
			break
		}
		if i != self {
			out = append(out, i)
		}
	}
	return out
}
