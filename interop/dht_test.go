//go:build interop

package interop

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-base32"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/node"
	"github.com/plexus-p2p/plexus/routing"
)

// jsRecord is a Plexus record as the js peer decoded it (plexus-record.mjs).
type jsRecord struct {
	From   string `json:"from"`
	Bytes  []byte `json:"bytes"`
	Record struct {
		Key       string `json:"key"`
		Value     []byte `json:"value"`
		Seq       string `json:"seq"`
		EOLNanos  string `json:"eolNanos"`
		PublicKey []byte `json:"publicKey"`
		Signature []byte `json:"signature"`
	} `json:"record"`
}

// storedUnder reports whether n's DHT datastore holds anything under key:
// kad-dht keeps a value under a datastore key ending in base32(key).
func storedUnder(t testing.TB, n *node.Node, key string) bool {
	t.Helper()
	return storedIn(t, n, routing.DatastoreNamespace, key)
}

// storedIn is storedUnder for the DHT whose datastore namespace is ns.
func storedIn(t testing.TB, n *node.Node, ns, key string) bool {
	t.Helper()
	res, err := n.Datastore().Query(context.Background(), query.Query{Prefix: ns, KeysOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	enc := base32.RawStdEncoding.EncodeToString([]byte(key))
	for e := range res.Next() {
		if e.Error != nil {
			t.Fatal(e.Error)
		}
		if strings.HasSuffix(e.Key, enc) {
			return true
		}
	}
	return false
}

func waitRoutingTable(t testing.TB, n *node.Node, want ...peer.ID) {
	t.Helper()
	testnet.Eventually(t, 20*time.Second, func() bool {
		rt := n.Routing().DHT().RoutingTable()
		for _, p := range want {
			if rt.Find(p) == "" {
				return false
			}
		}
		return true
	}, "plexus %s: routing table never had %v", n.ID(), want)
}

func waitJSTable(t testing.TB, ctx context.Context, js *jsPeer, size int) {
	t.Helper()
	testnet.Eventually(t, 20*time.Second, func() bool {
		var r struct{ Size int }
		return js.call(ctx, "dhtSize", nil, &r) == nil && r.Size >= size
	}, "js peer %s: DHT routing table never had %d peers", js.name, size)
}

func testDHT(t *testing.T, m *matrix) {
	t.Run("records", func(t *testing.T) {
		ctx := ctxFor(t, 60*time.Second)
		p := startPlexus(t, nil)
		js := startJS(t, "dht-records", jsConfig{DHT: true, NoSelfQuery: true})
		js.must(ctx, "dial", map[string]any{"addr": plexusAddr(t, p, "tcp")}, nil)
		waitRoutingTable(t, p, js.ID)
		waitJSTable(t, ctx, js, 1)

		t.Run("plexus-puts-js-gets", func(t *testing.T) {
			m.row(t, implNode, "tcp", "/plexus/kad/1.0.0: Plexus record read by js, wire format + signature checked in js", "plexus-puts, js-gets")
			value := payload("record")
			rec, err := p.Records().Put(ctx, "interop", value, 0)
			if err != nil {
				t.Fatalf("plexus put: %v", err)
			}
			want, err := rec.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			var got jsRecord
			js.must(ctx, "dhtGet", map[string]any{"key": rec.Key}, &got)
			if !bytes.Equal(got.Bytes, want) {
				t.Fatalf("js got %d bytes, want plexus's %d-byte encoding", len(got.Bytes), len(want))
			}
			r := got.Record
			if r.Key != rec.Key || !bytes.Equal(r.Value, value) || r.Seq != strconv.FormatUint(rec.Seq, 10) ||
				r.EOLNanos != strconv.FormatInt(rec.EOL.UnixNano(), 10) || !bytes.Equal(r.Signature, rec.Signature) || len(r.PublicKey) != 0 {
				t.Fatalf("js decoded %+v, want key %s seq %d eol %d and plexus's signature", r, rec.Key, rec.Seq, rec.EOL.UnixNano())
			}
		})

		t.Run("js-puts-valid", func(t *testing.T) {
			m.row(t, implNode, "tcp", "/plexus/kad/1.0.0: record signed in js stored and read by Plexus", "js-puts, plexus-gets")
			var mk struct {
				Key   string
				Bytes []byte
			}
			js.must(ctx, "makeRecord", map[string]any{"kind": "valid", "name": "from-js", "value": []byte("js value")}, &mk)
			var put struct {
				Accepted bool
				Error    string
			}
			js.must(ctx, "rawPut", map[string]any{"peer": p.ID().String(), "key": mk.Key, "bytes": mk.Bytes}, &put)
			if !put.Accepted {
				t.Fatalf("plexus refused js's valid record: %+v", put)
			}
			if !storedUnder(t, p, mk.Key) {
				t.Fatalf("plexus accepted %s but did not store it", mk.Key)
			}
			rec, err := p.Records().Get(ctx, mk.Key)
			if err != nil {
				t.Fatalf("plexus get %s: %v", mk.Key, err)
			}
			if rec.Owner != js.ID || string(rec.Value) != "js value" || rec.Seq != 1 {
				t.Fatalf("plexus read %+v, want js's record", rec)
			}
		})

		for _, kind := range []string{"unsigned", "forged", "tampered"} {
			t.Run("js-puts-"+kind, func(t *testing.T) {
				what := map[string]string{
					"unsigned": "unsigned record",
					"forged":   "record under Plexus's key signed by js",
					"tampered": "record whose value changed after signing",
				}[kind]
				m.row(t, implNode, "tcp", "/plexus/kad/1.0.0: "+what+" rejected, nothing stored", "js-puts")
				var mk struct {
					Key   string
					Bytes []byte
				}
				js.must(ctx, "makeRecord", map[string]any{"kind": kind, "name": "bad-" + kind, "value": []byte("evil"), "owner": p.ID().String()}, &mk)
				var put struct {
					Accepted bool
					Error    string
				}
				js.must(ctx, "rawPut", map[string]any{"peer": p.ID().String(), "key": mk.Key, "bytes": mk.Bytes}, &put)
				if put.Accepted {
					t.Fatalf("plexus accepted js's %s under %s", what, mk.Key)
				}
				if storedUnder(t, p, mk.Key) {
					t.Fatalf("plexus rejected js's %s but stored it under %s", what, mk.Key)
				}
				if _, err := p.Records().Get(ctx, mk.Key); err == nil {
					t.Fatalf("plexus returns js's %s under %s", what, mk.Key)
				}
			})
		}
	})

	// viaPlexus starts plexus 1 and 2, which know each other (2 bootstrapped
	// from 1), then a js peer that knows only plexus 1: neither it nor
	// plexus 2 looks itself up, so only plexus 1 knows both.
	viaPlexus := func(t *testing.T, ctx context.Context) (p1, p2 *node.Node, js *jsPeer) {
		nodes := testnet.Start(t, 2, testnet.Options{})
		p1, p2 = nodes[0], nodes[1]
		waitRoutingTable(t, p1, p2.ID())
		waitRoutingTable(t, p2, p1.ID())
		js = startJS(t, "dht-find", jsConfig{DHT: true, NoSelfQuery: true})
		js.must(ctx, "dial", map[string]any{"addr": plexusAddr(t, p1, "tcp")}, nil)
		waitRoutingTable(t, p1, js.ID)
		waitJSTable(t, ctx, js, 1)
		if p2.Host().Network().Connectedness(js.ID) == network.Connected || len(p2.Host().Peerstore().Addrs(js.ID)) > 0 {
			t.Fatalf("plexus 2 already knows js (addresses %v)", p2.Host().Peerstore().Addrs(js.ID))
		}
		return p1, p2, js
	}
	t.Run("find-peer/js-asks-plexus", func(t *testing.T) {
		m.row(t, implNode, "tcp", "/plexus/kad/1.0.0 find-peer: a Plexus peer known only to the middle (Plexus) node", "js asks plexus")
		ctx := ctxFor(t, 60*time.Second)
		p1, p2, js := viaPlexus(t, ctx)
		jsFindsThroughMiddle(t, ctx, js, p1, p2)
	})
	t.Run("find-peer/plexus-asks-plexus", func(t *testing.T) {
		m.row(t, implNode, "tcp", "/plexus/kad/1.0.0 find-peer: a js peer known only to the middle (Plexus) node", "plexus asks plexus")
		ctx := ctxFor(t, 60*time.Second)
		_, p2, js := viaPlexus(t, ctx)
		f, err := p2.Routing().FindPeer(ctx, js.ID)
		if err != nil {
			t.Fatalf("plexus 2 find js: %v", err)
		}
		if f.Via != routing.ViaDHT {
			t.Fatalf("plexus 2 found js via %s, want a DHT lookup", f.Via)
		}
		if !sameAddrs(f.Addrs, js.Addrs) {
			t.Fatalf("plexus 2 found js at %v, want %v", f.Addrs, js.Addrs)
		}
		if _, err := p2.Connect(ctx, f.AddrInfo()); err != nil {
			t.Fatalf("plexus 2 connect to the js peer it found: %v", err)
		}
	})

	t.Run("find-peer/via-js", func(t *testing.T) {
		m.row(t, implNode, "tcp", "/plexus/kad/1.0.0 find-peer: a js peer known only to the middle (js) node", "plexus asks js")
		ctx := ctxFor(t, 60*time.Second)
		p := startPlexus(t, nil)
		j1 := startJS(t, "dht-middle", jsConfig{DHT: true, NoSelfQuery: true})
		j2 := startJS(t, "dht-third", jsConfig{DHT: true, NoSelfQuery: true})
		// Plexus meets js 1 first: the lookups kad-dht runs at once to fill
		// its low routing table find nobody else. js 2 joins js 1 after
		// that, so only js 1 knows where js 2 is (neither js peer looks
		// itself up: noSelfQuery).
		if _, err := p.Connect(ctx, j1.AddrInfo("tcp")); err != nil {
			t.Fatal(err)
		}
		waitRoutingTable(t, p, j1.ID)
		waitJSTable(t, ctx, j1, 1)
		j2.must(ctx, "dial", map[string]any{"addr": j1.Addrs[0].String() + "/p2p/" + j1.ID.String()}, nil)
		waitJSTable(t, ctx, j1, 2)
		if p.Host().Network().Connectedness(j2.ID) == network.Connected || len(p.Host().Peerstore().Addrs(j2.ID)) > 0 {
			t.Fatalf("plexus already knows js 2 (connected: %v, addresses %v)", p.Host().Network().Connectedness(j2.ID), p.Host().Peerstore().Addrs(j2.ID))
		}
		f, err := p.Routing().FindPeer(ctx, j2.ID)
		if err != nil {
			t.Fatalf("plexus find js 2 through js 1: %v", err)
		}
		if f.Via != routing.ViaDHT || !sameAddrs(f.Addrs, j2.Addrs) {
			t.Fatalf("plexus found js 2 via %s at %v, want a DHT lookup finding %v", f.Via, f.Addrs, j2.Addrs)
		}
		if _, err := p.Connect(ctx, f.AddrInfo()); err != nil {
			t.Fatalf("plexus connect to the js peer it found: %v", err)
		}
	})
}

// wantAddrsOf checks that addrs (strings) include n's TCP address.
func wantAddrsOf(t testing.TB, addrs []string, n *node.Node) {
	t.Helper()
	for _, a := range n.Host().Addrs() {
		for _, s := range addrs {
			if s == a.String() {
				return
			}
		}
	}
	t.Fatalf("found addresses %v, none of %v", addrs, n.Host().Addrs())
}

// sameAddrs reports whether got includes every address of want.
func sameAddrs(got, want []ma.Multiaddr) bool {
	for _, w := range want {
		found := false
		for _, g := range got {
			if g.Equal(w) {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return len(want) > 0
}

// jsFindsThroughMiddle has the js peer look up p2, which only p1 (the
// middle node) knows: the answer must come from p1, carry p2's addresses,
// and one of them must be dialable.
func jsFindsThroughMiddle(t *testing.T, ctx context.Context, js *jsPeer, p1, p2 *node.Node) {
	t.Helper()
	var r struct {
		From    string
		Queried []string
		Addrs   []string
	}
	js.must(ctx, "findPeer", map[string]any{"peer": p2.ID().String()}, &r)
	if r.From != p1.ID().String() {
		t.Fatalf("js learnt plexus 2's addresses from %s, want plexus 1 %s", r.From, p1.ID())
	}
	wantAddrsOf(t, r.Addrs, p2)
	js.must(ctx, "dial", map[string]any{"addr": r.Addrs[0] + "/p2p/" + p2.ID().String()}, nil)
}
