package routing_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"

	"github.com/plexus-p2p/plexus/events"
	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/routing"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newRouting builds a server-mode routing service on h, closed in t.Cleanup.
func newRouting(t testing.TB, h host.Host, opts ...routing.Option) *routing.Service {
	t.Helper()
	all := append([]routing.Option{routing.WithLogger(quiet), routing.WithMode(routing.ModeServer)}, opts...)
	rt, err := routing.New(h, all...)
	if err != nil {
		t.Fatalf("routing.New on %s: %v", h.ID(), err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	return rt
}

// network starts n routing services on a mocknet where every host may dial
// every other, connects each to node 0 and waits until every routing table
// holds the n-1 others. opts(i) gives node i extra options.
func network(t *testing.T, n int, opts func(i int) []routing.Option) (*testnet.Net, []*routing.Service) {
	t.Helper()
	mn := testnet.NewNet(t)
	rts := make([]*routing.Service, n)
	for i := range rts {
		h := mn.AddHost(nil)
		var extra []routing.Option
		if opts != nil {
			extra = opts(i)
		}
		rts[i] = newRouting(t, h, extra...)
	}
	if err := mn.LinkAll(); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < n; i++ {
		if _, err := mn.ConnectPeers(peerOf(rts[i]), peerOf(rts[0])); err != nil {
			t.Fatal(err)
		}
	}
	for i, rt := range rts {
		testnet.Eventually(t, 30*time.Second, func() bool {
			if rt.Size() < n-1 {
				_ = rt.Bootstrap(t.Context())
				ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
				_ = rt.Refresh(ctx)
				cancel()
			}
			return rt.Size() == n-1
		}, "node %d routing table has %d peers, want %d", i, rt.Size(), n-1)
	}
	return mn, rts
}

// peerOf returns the peer ID of a service's host.
func peerOf(rt *routing.Service) peer.ID { return rt.DHT().Host().ID() }

func TestTableSubscribeAndEvents(t *testing.T) {
	pub := &events.Recorder{}
	const n = 6
	_, rts := network(t, n, func(i int) []routing.Option {
		if i == 1 {
			return []routing.Option{routing.WithPublisher(pub)}
		}
		return nil
	})
	rt := rts[1]

	// Table: every other node, sorted by bucket then time added.
	table := rt.Table()
	if len(table) != n-1 {
		t.Fatalf("table has %d entries, want %d", len(table), n-1)
	}
	for i, e := range table {
		if i > 0 && (e.Bucket < table[i-1].Bucket || e.Bucket == table[i-1].Bucket && e.AddedAt.Before(table[i-1].AddedAt)) {
			t.Errorf("entry %d (bucket %d) out of order", i, e.Bucket)
		}
		if e.Addr == nil || e.AddedAt.IsZero() || e.Peer == peerOf(rt) {
			t.Errorf("entry %d: %+v", i, e)
		}
	}

	// Events: one peer_added per peer, the last with the table's size.
	testnet.Eventually(t, 5*time.Second, func() bool { return len(pub.Of(routing.EventPeerAdded)) >= n-1 },
		"%d peer_added events, want %d", len(pub.Of(routing.EventPeerAdded)), n-1)
	added := pub.Of(routing.EventPeerAdded)
	if c := added[len(added)-1].Data.(routing.Change); !c.Added || c.Size != len(added)-len(pub.Of(routing.EventPeerRemoved)) {
		t.Errorf("last peer_added %+v after %d added, %d removed", c, len(added), len(pub.Of(routing.EventPeerRemoved)))
	}

	// Subscribe replays the table, then reports changes in order.
	var mu sync.Mutex
	var got []routing.Change
	cancel := rt.Subscribe(func(c routing.Change) {
		mu.Lock()
		got = append(got, c)
		mu.Unlock()
	})
	mu.Lock()
	replayed := len(got)
	for _, c := range got {
		if !c.Added || c.Size != n-1 {
			t.Errorf("replayed change %+v, want added with size %d", c, n-1)
		}
	}
	mu.Unlock()
	if replayed != n-1 {
		t.Fatalf("replayed %d changes, want %d", replayed, n-1)
	}
	gone := peerOf(rts[n-1])
	rt.DHT().RoutingTable().RemovePeer(gone)
	testnet.Eventually(t, 5*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.ContainsFunc(got[replayed:], func(c routing.Change) bool { return !c.Added && c.Peer == gone })
	}, "subscriber did not hear of the removal of %s", gone)
	cancel()
	mu.Lock()
	for _, c := range got[replayed:] {
		if !c.Added && c.Peer == gone && c.Size != n-2 {
			t.Errorf("removal %+v, want size %d", c, n-2)
		}
	}
	mu.Unlock()
	ev := pub.Of(routing.EventPeerRemoved)
	if len(ev) == 0 || ev[len(ev)-1].Data.(routing.Change).Peer != gone {
		t.Errorf("peer_removed events %v, want the closed peer last", ev)
	}
}

func TestFindPeerClosestAndExplore(t *testing.T) {
	const n = 6
	mn, rts := network(t, n, nil)

	// A newcomer connected only to node 0, with no refresh of its own,
	// knows the addresses of node 0 alone. It is a DHT client, so that no
	// node learns of it from node 0 and dials it before its lookup.
	h := mn.AddHost(nil)
	late := newRouting(t, h, routing.WithMode(routing.ModeClient), routing.WithDHTOptions(dht.DisableAutoRefresh()))
	if err := mn.LinkAll(); err != nil {
		t.Fatal(err)
	}
	if _, err := mn.ConnectPeers(h.ID(), peerOf(rts[0])); err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 10*time.Second, func() bool { return late.Size() > 0 },
		"the newcomer's routing table stayed empty")
	// A node it has heard nothing of (kad-dht may have looked up a few).
	var target peer.ID
	for _, rt := range rts[1:] {
		if p := peerOf(rt); len(h.Peerstore().Addrs(p)) == 0 {
			target = p
		}
	}
	if target == "" {
		t.Fatal("the newcomer already knows every node")
	}

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	tests := []struct {
		target peer.ID
		via    routing.Via
	}{
		{peerOf(rts[0]), routing.ViaConnected},
		{target, routing.ViaDHT},
		{target, routing.ViaPeerstore}, // the lookup left its addresses behind
	}
	for _, tt := range tests {
		f, err := late.FindPeer(ctx, tt.target)
		if err != nil {
			t.Fatalf("find %s: %v", tt.target, err)
		}
		if f.ID != tt.target || f.Via != tt.via || len(f.Addrs) == 0 || f.Duration <= 0 {
			t.Errorf("find %s = %+v, want via %s with addresses", tt.target, f, tt.via)
		}
		if tt.via == routing.ViaDHT {
			_ = h.Network().ClosePeer(tt.target) // the next lookup must come from the peerstore
		}
	}

	// A peer nobody knows: not found, or the caller's deadline.
	nobody := peer.ID("\x00\x04nope")
	if _, err := late.FindPeer(ctx, nobody); err == nil {
		t.Error("find of an invalid peer ID succeeded")
	}
	nobody = mustPeer(t)
	if _, err := rts[2].FindPeer(ctx, nobody); !errors.Is(err, routing.ErrNotFound) {
		t.Errorf("find unknown peer: %v, want ErrNotFound", err)
	}
	expired, cancel2 := context.WithTimeout(ctx, time.Nanosecond)
	defer cancel2()
	<-expired.Done()
	if _, err := late.FindPeer(expired, nobody); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("find with an expired context: %v, want DeadlineExceeded", err)
	}

	// Closest: the peers of the network, or an invalid key.
	closest, err := rts[2].Closest(ctx, "some-key")
	if err != nil || len(closest) < n-2 {
		t.Errorf("closest = %v, %v; want at least %d peers", closest, err, n-2)
	}
	if _, err := rts[2].Closest(ctx, ""); !errors.Is(err, routing.ErrInvalidKey) {
		t.Errorf("closest to an empty key: %v, want ErrInvalidKey", err)
	}

	// Explore reaches every DHT server (not the newcomer, a client), this one first.
	var progress []routing.ExploreProgress
	rep, err := rts[1].Explore(ctx, routing.ExploreOptions{Timeout: 20 * time.Second,
		Progress: func(p routing.ExploreProgress) { progress = append(progress, p) }})
	if err != nil {
		t.Fatal(err)
	}
	// Progress: crawl reports with growing counts, the crawl's last one
	// complete, then the identify phase's.
	if len(progress) < 2 {
		t.Fatalf("progress reports %+v, want the crawl's and the identify phase's", progress)
	}
	crawled, identified := progress[len(progress)-2], progress[len(progress)-1]
	for i, p := range progress[:len(progress)-1] {
		if p.Phase != routing.PhaseCrawl || (i > 0 && p.Found < progress[i-1].Found) {
			t.Fatalf("progress report %d: %+v after %+v", i, p, progress[max(i-1, 0)])
		}
	}
	if crawled.Found != n || crawled.Dialable != n-1 || crawled.Failed != 0 ||
		identified.Phase != routing.PhaseIdentify || identified.Found != n || identified.Elapsed < crawled.Elapsed {
		t.Fatalf("last progress reports %+v then %+v; want %d found, %d dialable, then identify", crawled, identified, n, n-1)
	}
	if !rep.Complete || rep.Total != n || rep.Dialable != n || rep.Duration <= 0 {
		t.Fatalf("explore: complete %v total %d dialable %d duration %v, want %d", rep.Complete, rep.Total, rep.Dialable, rep.Duration, n)
	}
	if self := rep.Nodes[0]; !self.Self || self.ID != peerOf(rts[1]) || rep.Self != self.ID {
		t.Errorf("first node %+v, want the explorer", self)
	}
	for _, nd := range rep.Nodes {
		if !slices.Contains(nd.Protocols, routing.DefaultProtocol) || len(nd.Neighbours) == 0 {
			t.Errorf("node %s: protocols %v neighbours %v", nd.ID, nd.Protocols, nd.Neighbours)
		}
	}
}

func TestValidatorsAndOptions(t *testing.T) {
	h := testnet.NewNet(t).AddHost(nil)
	for _, tt := range []struct {
		name string
		opt  routing.Option
		want string
	}{
		{"mode", routing.WithMode("sometimes"), "sometimes"},
		{"prefix", routing.WithProtocolPrefix("plexus/"), "prefix"},
		{"validator", routing.WithValidator("", nil), "validator"},
		{"datastore", routing.WithDatastore(nil), "datastore"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rt, err := routing.New(h, tt.opt)
			if err == nil {
				_ = rt.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %s", err, tt.want)
			}
		})
	}

	rt := newRouting(t, h, routing.WithProtocolPrefix("/test"), routing.WithValidator("ok", acceptAll{}))
	if rt.Protocol() != "/test/kad/1.0.0" || rt.Mode() != routing.ModeServer {
		t.Errorf("protocol %s mode %s", rt.Protocol(), rt.Mode())
	}
	// Alone in its network the put is stored locally, validated first.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_ = rt.PutValue(ctx, "/ok/k", []byte("v"))
	if v, err := rt.GetValue(ctx, "/ok/k"); err != nil || string(v) != "v" {
		t.Errorf("get /ok/k = %q, %v", v, err)
	}
	if err := rt.PutValue(ctx, "/other/k", []byte("v")); !errors.Is(err, record.ErrInvalidRecordType) {
		t.Errorf("put in an unknown namespace: %v, want ErrInvalidRecordType", err)
	}
	if err := rt.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if err := rt.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}

type acceptAll struct{}

func (acceptAll) Validate(string, []byte) error        { return nil }
func (acceptAll) Select(string, [][]byte) (int, error) { return 0, nil }

func mustPeer(t testing.TB) peer.ID {
	t.Helper()
	id, err := peer.IDFromPrivateKey(testnet.NewKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// kad-dht's own hooks (connection-manager tags) still run next to ours.
func TestKadDHTHooksStillRun(t *testing.T) {
	var hosts []host.Host
	var rts []*routing.Service
	for range 2 {
		cm, err := connmgr.NewConnManager(10, 20)
		if err != nil {
			t.Fatal(err)
		}
		h := testnet.Host(t, libp2p.ConnectionManager(cm), libp2p.DisableRelay())
		hosts = append(hosts, h)
		rts = append(rts, newRouting(t, h))
	}
	var mu sync.Mutex
	var heard []peer.ID
	rts[0].Subscribe(func(c routing.Change) {
		mu.Lock()
		heard = append(heard, c.Peer)
		mu.Unlock()
	})
	testnet.Connect(t, hosts[0], hosts[1])
	p := hosts[1].ID()
	testnet.Eventually(t, 10*time.Second, func() bool {
		_ = rts[0].Bootstrap(t.Context())
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(heard, p)
	}, "subscriber never heard of %s", p)
	cm := hosts[0].ConnManager()
	if ti := cm.GetTagInfo(p); !cm.IsProtected(p, "kbucket") && (ti == nil || ti.Tags["kbucket"] == 0) {
		t.Errorf("peer %s in the routing table is neither protected nor tagged by kad-dht: %+v", p, ti)
	}
}
