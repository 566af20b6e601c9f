package records_test

import (
	"context"
	"crypto/rand"
	"github.com/plexus-p2p/plexus/events"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	leveldb "github.com/ipfs/go-ds-leveldb"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/records"
)

// node is one in-process Plexus DHT node on a mocknet.
type node struct {
	key  crypto.PrivKey
	host host.Host
	dht  *dht.IpfsDHT
	svc  *records.Service
	ds   datastore.Batching
	pub  *events.Recorder
}

func (n *node) id() peer.ID { return n.host.ID() }

// close stops the node in dependency order; the datastore is closed too.
func (n *node) close() {
	n.svc.Close()
	n.dht.Close()
	n.host.Close()
	n.ds.Close()
}

// netConfig describes a test network.
type netConfig struct {
	// keys are the node identities; a nil entry gets a fresh key (Ed25519,
	// except every fifth node, which gets ECDSA so its records embed the key).
	keys []crypto.PrivKey
	// datastore opens node i's datastore; nil: an in-memory map.
	datastore func(i int) datastore.Batching
	// validator returns node i's DHT validator; nil: records.Validator.
	validator func(i int, h host.Host) record.Validator
	// degree is how many ring neighbours each node dials; 0: 2.
	degree int
	// noConnect leaves the nodes unconnected.
	noConnect bool
	// svcOpts are extra Service options.
	svcOpts []records.Option
}

type network struct {
	mn    *testnet.Net
	nodes []*node
}

// discardLogger keeps test output quiet.
var discardLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

func genKey(t testing.TB, i int) crypto.PrivKey {
	t.Helper()
	var (
		k   crypto.PrivKey
		err error
	)
	if i%5 == 4 {
		k, _, err = crypto.GenerateECDSAKeyPair(rand.Reader)
	} else {
		k, _, err = crypto.GenerateEd25519Key(rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newNetwork starts n DHT servers under the /plexus prefix on a mocknet, each
// with a records.Service, connects them sparsely (a ring with chords) and
// refreshes every routing table. Everything is closed in t.Cleanup.
func newNetwork(t testing.TB, n int, cfg netConfig) *network {
	t.Helper()
	mn := testnet.NewNet(t)
	net := &network{mn: mn}
	t.Cleanup(func() {
		for _, nd := range net.nodes {
			nd.close()
		}
	})
	for i := range n {
		var k crypto.PrivKey
		if i < len(cfg.keys) {
			k = cfg.keys[i]
		}
		if k == nil {
			k = genKey(t, i)
		}
		h := mn.AddHost(k)
		var ds datastore.Batching
		if cfg.datastore != nil {
			ds = cfg.datastore(i)
		} else {
			ds = dssync.MutexWrap(datastore.NewMapDatastore())
		}
		var v record.Validator = records.Validator(h.Peerstore())
		if cfg.validator != nil {
			v = cfg.validator(i, h)
		}
		d, err := dht.New(h,
			dht.Mode(dht.ModeServer),
			dht.ProtocolPrefix("/plexus"),
			dht.Validator(v),
			dht.Datastore(ds),
			dht.DisableAutoRefresh(),
		)
		if err != nil {
			h.Close()
			ds.Close()
			t.Fatal(err)
		}
		pub := &events.Recorder{}
		opts := append([]records.Option{records.WithLogger(discardLogger), records.WithPublisher(pub)}, cfg.svcOpts...)
		svc, err := records.New(d, k, ds, opts...)
		if err != nil {
			d.Close()
			h.Close()
			ds.Close()
			t.Fatal(err)
		}
		net.nodes = append(net.nodes, &node{key: k, host: h, dht: d, svc: svc, ds: ds, pub: pub})
	}
	if err := mn.LinkAll(); err != nil {
		t.Fatal(err)
	}
	if !cfg.noConnect {
		degree := cfg.degree
		if degree == 0 {
			degree = 2
		}
		net.connect(t, degree)
	}
	return net
}

// connect dials each node's next `degree` ring neighbours and a chord across,
// waits until the routing tables hold the direct neighbours, then refreshes
// every routing table so the DHT learns the rest of the network.
func (net *network) connect(t testing.TB, degree int) {
	t.Helper()
	ctx := context.Background()
	n := len(net.nodes)
	type pair struct{ a, b int }
	var pairs []pair
	for i := range n {
		for d := 1; d <= degree && d < n; d++ {
			pairs = append(pairs, pair{i, (i + d) % n})
		}
		if n > 8 {
			pairs = append(pairs, pair{i, (i + n/3) % n})
		}
	}
	for _, p := range pairs {
		a, b := net.nodes[p.a], net.nodes[p.b]
		if err := a.host.Connect(ctx, peer.AddrInfo{ID: b.id(), Addrs: b.host.Addrs()}); err != nil {
			t.Fatalf("connect %d->%d: %v", p.a, p.b, err)
		}
	}
	for _, p := range pairs {
		a, b := net.nodes[p.a], net.nodes[p.b]
		testnet.Eventually(t, 10*time.Second, func() bool {
			return a.dht.RoutingTable().Find(b.id()) != "" && b.dht.RoutingTable().Find(a.id()) != ""
		}, "routing tables of %d and %d never got each other", p.a, p.b)
	}
	for round := 0; round < 2; round++ {
		for i, nd := range net.nodes {
			if err := <-nd.dht.RefreshRoutingTable(); err != nil {
				t.Fatalf("refresh routing table of node %d: %v", i, err)
			}
		}
	}
}

// openLevelDB opens (or reopens) a LevelDB datastore at dir.
func openLevelDB(t testing.TB, dir string) datastore.Batching {
	t.Helper()
	ds, err := leveldb.NewDatastore(dir, nil)
	if err != nil {
		t.Fatalf("open leveldb %s: %v", dir, err)
	}
	return ds
}
