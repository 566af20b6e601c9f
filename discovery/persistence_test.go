package discovery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	dssync "github.com/ipfs/go-datastore/sync"
	leveldb "github.com/ipfs/go-ds-leveldb"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/discovery"
	"github.com/plexus-p2p/plexus/internal/testnet"
)

// loopbackHost returns a TCP host on 127.0.0.1 with key sk (a fresh one if nil).
func loopbackHost(t testing.TB, sk crypto.PrivKey) host.Host {
	t.Helper()
	opts := []libp2p.Option{libp2p.DisableRelay(), libp2p.UserAgent("plexus-test")}
	if sk != nil {
		opts = append(opts, libp2p.Identity(sk))
	}
	return testnet.Host(t, opts...)
}

func openLevelDB(t testing.TB, dir string) *leveldb.Datastore {
	t.Helper()
	store, err := leveldb.NewDatastore(dir, nil)
	if err != nil {
		t.Fatalf("open leveldb %s: %v", dir, err)
	}
	return store
}

func TestRestartedNodeRejoinsFromPersistedPeers(t *testing.T) {
	const n = 8
	hosts := make([]host.Host, n)
	for i := range hosts {
		hosts[i] = loopbackHost(t, nil)
	}
	boot := p2pAddr(t, hosts[0])
	nodes := make([]*testNode, n)
	dir := t.TempDir()
	for i, h := range hosts[:n-1] {
		var opts []discovery.Option
		if i > 0 {
			opts = append(opts, discovery.WithBootstrapPeers(boot))
		}
		nodes[i] = startNode(t, h, testDHT(t, h), dssync.MutexWrap(datastore.NewMapDatastore()), opts...)
	}
	// The node that restarts keeps its known peers in LevelDB.
	sk := hosts[n-1].Peerstore().PrivKey(hosts[n-1].ID())
	store := openLevelDB(t, dir)
	r := startNode(t, hosts[n-1], testDHT(t, hosts[n-1]), store, discovery.WithBootstrapPeers(boot))
	nodes[n-1] = r
	waitRoutingTables(t, nodes, 30*time.Second)

	before := map[peer.ID]discovery.KnownPeer{}
	testnet.Eventually(t, 10*time.Second, func() bool {
		clear(before)
		for _, kp := range r.svc.KnownPeers() {
			before[kp.ID] = kp
		}
		return len(before) == n-1
	}, "%s", testnet.Lazy(func() string { return fmt.Sprintf("node knows %d peers before restart, want %d", len(before), n-1) }))

	// Stop: Close persists the table; then the store is closed and reopened.
	r.stop(t)
	if err := store.Close(); err != nil {
		t.Fatalf("close leveldb: %v", err)
	}
	store = openLevelDB(t, dir)
	t.Cleanup(func() { _ = store.Close() })

	h := loopbackHost(t, sk) // same key, new port
	if h.ID() != r.h.ID() {
		t.Fatalf("restarted host has ID %s, want %s", h.ID(), r.h.ID())
	}
	r2 := startNode(t, h, testDHT(t, h), store) // no bootstrap peers

	// The persisted table is back, first_seen and sources included.
	after := map[peer.ID]discovery.KnownPeer{}
	for _, kp := range r2.svc.KnownPeers() {
		after[kp.ID] = kp
	}
	for id, kp := range before {
		got, ok := after[id]
		if !ok {
			t.Errorf("peer %s not reloaded", id)
			continue
		}
		if !got.FirstSeen.Equal(kp.FirstSeen) || !slices.Equal(got.Sources, kp.Sources) || len(got.Addrs) == 0 {
			t.Errorf("reloaded %s = first_seen %v sources %v addrs %v, want first_seen %v sources %v and addresses",
				id, got.FirstSeen, got.Sources, got.Addrs, kp.FirstSeen, kp.Sources)
		}
	}
	if kp := after[hosts[0].ID()]; !slices.Contains(kp.Sources, discovery.SourceBootstrap) {
		t.Errorf("bootstrap node reloaded with sources %v, want bootstrap among them", kp.Sources)
	}
	if len(r2.svc.BootstrapStatus()) != 0 {
		t.Errorf("bootstrap status = %v, want none configured", r2.svc.BootstrapStatus())
	}

	// It reconnects to the network and its routing table fills again.
	others := nodes[:n-1]
	testnet.Eventually(t, 30*time.Second, func() bool {
		return len(h.Network().Peers()) == n-1 && r2.dht.RoutingTable().Size() == n-1
	}, "%s", testnet.Lazy(func() string {
		return fmt.Sprintf("restarted node has %d connections, routing table %d; want %d",
			len(h.Network().Peers()), r2.dht.RoutingTable().Size(), n-1)
	}))
	// The others reach it at its new address.
	// (kad-dht servers only return the addresses of peers they are connected
	// to, so a lookup racing the other nodes' reconnections may miss once:
	// retry within a bound.)
	for i, o := range others {
		_ = o.h.Network().ClosePeer(h.ID())
		var err error
		deadline := time.Now().Add(15 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			var ai peer.AddrInfo
			if ai, err = o.dht.FindPeer(ctx, h.ID()); err == nil {
				err = o.h.Connect(ctx, ai)
			}
			cancel()
			if err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			t.Errorf("node %d cannot find and reach the restarted node: %v", i, err)
		}
	}
}

func TestKnownPeersTableIsBounded(t *testing.T) {
	const n, limit = 12, 5
	_, nodes := mockNetwork(t, n, netConfig{opts: func(i int) []discovery.Option {
		if i == n-1 {
			return []discovery.Option{discovery.WithMaxKnownPeers(limit)}
		}
		return nil
	}})
	waitRoutingTables(t, nodes, 30*time.Second)
	x := nodes[n-1]
	if got := len(x.svc.KnownPeers()); got != limit {
		t.Errorf("known peers = %d, want the limit %d", got, limit)
	}
	if err := x.svc.Flush(t.Context()); err != nil {
		t.Fatalf("flush: %v", err)
	}
	res, err := x.store.Query(t.Context(), query.Query{Prefix: discovery.PeersNamespace})
	if err != nil {
		t.Fatalf("query %s: %v", discovery.PeersNamespace, err)
	}
	entries, err := res.Rest()
	if err != nil {
		t.Fatalf("query %s: %v", discovery.PeersNamespace, err)
	}
	if len(entries) != limit {
		t.Errorf("persisted %d known peers, want %d", len(entries), limit)
	}
	for _, e := range entries {
		var kp struct { // the storage format, which KnownPeer no longer mirrors
			ID peer.ID `json:"peer_id"`
		}
		if err := json.Unmarshal(e.Value, &kp); err != nil || e.Key != discovery.PeersNamespace+"/"+kp.ID.String() {
			t.Errorf("record %s = %s (%v), want JSON of the peer named in the key", e.Key, e.Value, err)
		}
	}
}

func TestBootstrapReportsPeerThatNeverAnswers(t *testing.T) {
	live := loopbackHost(t, nil)
	liveNode := startNode(t, live, testDHT(t, live), nil)
	dead := loopbackHost(t, nil)
	deadAddr := p2pAddr(t, dead) // a closed port on 127.0.0.1 once the host is gone
	_ = dead.Close()

	const base, max = 20 * time.Millisecond, 160 * time.Millisecond
	h := loopbackHost(t, nil)
	x := startNode(t, h, testDHT(t, h), nil,
		discovery.WithBootstrapPeers(p2pAddr(t, live), deadAddr),
		discovery.WithBackoff(base, max))

	testnet.Eventually(t, 30*time.Second, func() bool {
		return len(x.pub.Of(discovery.EventBootstrapFailed)) >= 6
	}, "%s", testnet.Lazy(func() string { return fmt.Sprintf("status %+v", x.svc.BootstrapStatus()) }))

	st := x.svc.BootstrapStatus()
	if len(st) != 2 {
		t.Fatalf("bootstrap status has %d peers, want 2", len(st))
	}
	if st[0].Peer != live.ID() || !st[0].Connected || st[0].Attempts != 0 || st[0].LastError != "" || st[0].LastConnected.IsZero() {
		t.Errorf("live bootstrap peer status = %+v, want connected without errors", st[0])
	}
	if st[1].Peer != dead.ID() || st[1].Connected || st[1].Attempts < 6 || st[1].LastError == "" {
		t.Errorf("dead bootstrap peer status = %+v, want at least 6 failed attempts and an error", st[1])
	}
	if !st[1].NextRetry.IsZero() && st[1].NextRetry.Sub(st[1].LastAttempt) > max+5*time.Second {
		t.Errorf("dead peer next retry %v after last attempt, want the capped backoff", st[1].NextRetry.Sub(st[1].LastAttempt))
	}

	// One event per failed dial, counting up, with a retry delay that grows
	// from base and never passes max.
	events := x.pub.Of(discovery.EventBootstrapFailed)
	for i, e := range events {
		f := e.Data.(discovery.BootstrapFailed)
		if f.Peer != dead.ID() || f.Attempts != i+1 || f.Error == "" {
			t.Errorf("event %d = %+v, want attempt %d of %s with an error", i, f, i+1, dead.ID())
		}
		if wait := f.NextRetry.Sub(e.Time); wait > max {
			t.Errorf("event %d: next retry in %v, more than the cap %v", i, wait, max)
		}
		if i > 0 {
			if prev := events[i-1]; e.Time.Before(prev.Data.(discovery.BootstrapFailed).NextRetry) {
				t.Errorf("attempt %d at %v, before its scheduled retry %v", i+1, e.Time, prev.Data.(discovery.BootstrapFailed).NextRetry)
			}
		}
	}

	// The live bootstrap peer is known, and connected.
	if h.Network().Connectedness(live.ID()) != network.Connected {
		t.Errorf("not connected to the live bootstrap peer")
	}
	_ = liveNode
}

func TestNewRejectsBadOptions(t *testing.T) {
	h := loopbackHost(t, nil)
	d := testDHT(t, h)
	t.Cleanup(func() { _ = d.Close() })
	tests := []struct {
		name string
		opt  discovery.Option
		want string
	}{
		{"not a multiaddr", discovery.WithBootstrapPeers("bogus"), `"bogus"`},
		{"no peer id", discovery.WithBootstrapPeers("/ip4/127.0.0.1/tcp/4001"), `"/ip4/127.0.0.1/tcp/4001"`},
		{"zero backoff", discovery.WithBackoff(0, time.Second), "backoff"},
		{"max below base", discovery.WithBackoff(time.Second, time.Millisecond), "backoff"},
		{"negative low water", discovery.WithLowWater(-1), "low water"},
		{"zero max known peers", discovery.WithMaxKnownPeers(0), "max known peers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, err := discovery.New(h, d, nil, tt.opt)
			if err == nil {
				_ = svc.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %s", err, tt.want)
			}
		})
	}
}

// A peer learnt is in the datastore within the flush interval, not at the
// next persist interval or Close: a node killed right after joining still
// knows its peers when it restarts.
func TestNewPeersArePersistedSoon(t *testing.T) {
	boot := loopbackHost(t, nil)
	startNode(t, boot, testDHT(t, boot), dssync.MutexWrap(datastore.NewMapDatastore()))
	h := loopbackHost(t, nil)
	store := dssync.MutexWrap(datastore.NewMapDatastore())
	startNode(t, h, testDHT(t, h), store, discovery.WithBootstrapPeers(p2pAddr(t, boot)),
		discovery.WithPersistInterval(time.Hour))
	key := datastore.NewKey(discovery.PeersNamespace).ChildString(boot.ID().String())
	testnet.Eventually(t, 10*time.Second, func() bool {
		ok, err := store.Has(t.Context(), key)
		return err == nil && ok
	}, "the bootstrap peer was not persisted while the node runs (persist interval 1h)")
}
