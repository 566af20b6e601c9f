//go:build interop

package interop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	mh "github.com/multiformats/go-multihash"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/node"
	"github.com/plexus-p2p/plexus/routing"
)

// The Amino checks run js-libp2p's kad-dht on /ipfs/kad/1.0.0 (peer.mjs with
// "amino") against Plexus nodes with dht.amino on in server mode and no
// Amino bootstrap peers: each side learns the other from the connections
// the test opens, on loopback only.

// startAmino starts a Plexus node (local profile) with the Amino DHT on,
// in server mode, with no bootstrap peers of its own.
func startAmino(t testing.TB) *node.Node {
	t.Helper()
	n := startPlexus(t, func(c *node.Config) {
		c.DHT.Amino = true
		c.DHT.AminoMode = "server"
		c.DHT.AminoBootstrap = nil
	})
	if n.Amino() == nil {
		t.Fatal("plexus node with dht.amino on has no Amino DHT")
	}
	if got := n.Amino().Protocol(); got != routing.AminoProtocol {
		t.Fatalf("plexus Amino DHT speaks %s, want %s", got, routing.AminoProtocol)
	}
	return n
}

func startAminoJS(t testing.TB, name string) *jsPeer {
	t.Helper()
	js := startJS(t, name, jsConfig{DHT: true, Amino: true, NoSelfQuery: true})
	if len(hasAll(js.Protocols, string(routing.AminoProtocol))) != 0 {
		t.Fatalf("js peer %s does not speak %s: %v", name, routing.AminoProtocol, js.Protocols)
	}
	return js
}

// waitAminoTable waits until n's Amino routing table has every peer of want.
func waitAminoTable(t testing.TB, n *node.Node, want ...peer.ID) {
	t.Helper()
	testnet.Eventually(t, 20*time.Second, func() bool {
		rt := n.Amino().DHT().RoutingTable()
		for _, p := range want {
			if rt.Find(p) == "" {
				return false
			}
		}
		return true
	}, "plexus %s: Amino routing table never had %v", n.ID(), want)
}

// pkKey is the Amino key of p's public key record: /pk/ and the multihash
// of the peer ID (its bytes).
func pkKey(p peer.ID) string { return "/pk/" + string(p) }

// pkValue is the value of p's public key record: the protobuf public key.
func pkValue(t testing.TB, p peer.ID) []byte {
	t.Helper()
	pub, err := p.ExtractPublicKey()
	if err != nil {
		t.Fatalf("public key of %s: %v", p, err)
	}
	b, err := crypto.MarshalPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// storedAmino reports whether n's Amino DHT datastore holds a value under
// key (kad-dht keeps it under a datastore key ending in base32(key)).
func storedAmino(t testing.TB, n *node.Node, key string) bool {
	t.Helper()
	return storedIn(t, n, routing.AminoDatastoreNamespace, key)
}

func aminoCID(t testing.TB, tag string) cid.Cid {
	t.Helper()
	sum := sha256.Sum256(payload(tag))
	h, err := mh.Encode(sum[:], mh.SHA2_256)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.Raw, h)
}

type jsValues struct {
	Values []struct {
		From  string
		Value []byte
	}
}

func testAmino(t *testing.T, m *matrix) {
	t.Run("pk", func(t *testing.T) {
		ctx := ctxFor(t, 90*time.Second)
		p := startAmino(t)
		js := startAminoJS(t, "amino-pk")
		js.must(ctx, "dial", map[string]any{"addr": plexusAddr(t, p, "tcp")}, nil)
		waitAminoTable(t, p, js.ID)
		waitJSTable(t, ctx, js, 1)

		t.Run("plexus-puts-js-gets", func(t *testing.T) {
			m.row(t, implNode, "tcp", "/ipfs/kad/1.0.0: Plexus's /pk/ record put on Amino, read by js (js's pk validator)", "plexus-puts, js-gets")
			key, value := pkKey(p.ID()), pkValue(t, p.ID())
			if err := p.Amino().PutValue(ctx, key, value); err != nil {
				t.Fatalf("plexus put %s on Amino: %v", key, err)
			}
			// Plexus's PUT_VALUE stored it at js (kad-dht answers its own
			// copy first) ...
			var got jsValues
			js.must(ctx, "dhtGetRaw", map[string]any{"key": []byte(key)}, &got)
			if len(got.Values) != 1 || got.Values[0].From != js.ID.String() || !bytes.Equal(got.Values[0].Value, value) {
				t.Fatalf("js holds %+v, want plexus's public key %x stored at js by plexus's PUT_VALUE", got.Values, value)
			}
			// ... and a js peer that joins later reads it from Plexus
			// (GET_VALUE), the only peer it knows.
			j2 := startAminoJS(t, "amino-pk-reader")
			j2.must(ctx, "dial", map[string]any{"addr": plexusAddr(t, p, "tcp")}, nil)
			waitJSTable(t, ctx, j2, 1)
			got = jsValues{}
			j2.must(ctx, "dhtGetRaw", map[string]any{"key": []byte(key)}, &got)
			if len(got.Values) != 1 || got.Values[0].From != p.ID().String() || !bytes.Equal(got.Values[0].Value, value) {
				t.Fatalf("js 2 read %+v, want plexus's public key %x from plexus %s", got.Values, value, p.ID())
			}
		})

		t.Run("js-puts-plexus-gets", func(t *testing.T) {
			m.row(t, implNode, "tcp", "/ipfs/kad/1.0.0: js's /pk/ record put on Amino, stored and read by Plexus (records get)", "js-puts, plexus-gets")
			var pk struct{ Key, Value []byte }
			js.must(ctx, "pkRecord", nil, &pk)
			if string(pk.Key) != pkKey(js.ID) || !bytes.Equal(pk.Value, pkValue(t, js.ID)) {
				t.Fatalf("js's /pk/ record is %q = %x, want %q = %x", pk.Key, pk.Value, pkKey(js.ID), pkValue(t, js.ID))
			}
			var put struct{ Stored, Errors []string }
			js.must(ctx, "dhtPut", map[string]any{"key": pk.Key, "value": pk.Value}, &put)
			if len(put.Stored) != 1 || put.Stored[0] != p.ID().String() {
				t.Fatalf("js's PUT_VALUE stored at %v (errors %v), want plexus %s", put.Stored, put.Errors, p.ID())
			}
			if !storedAmino(t, p, string(pk.Key)) {
				t.Fatalf("plexus accepted js's /pk/ record but its Amino DHT did not store it")
			}
			rec, err := p.Records().Get(ctx, "/pk/"+js.ID.String())
			if err != nil {
				t.Fatalf("plexus records get /pk/%s: %v", js.ID, err)
			}
			if rec.Owner != js.ID || !bytes.Equal(rec.Value, pk.Value) {
				t.Fatalf("plexus read owner %s value %x, want js %s's public key %x", rec.Owner, rec.Value, js.ID, pk.Value)
			}
		})

		t.Run("js-serves-plexus-gets", func(t *testing.T) {
			m.row(t, implNode, "tcp", "/ipfs/kad/1.0.0: /pk/ record stored only at a js peer, found by a Plexus Amino lookup", "js-serves, plexus-gets")
			// js 2 stores its record before anyone knows it: only it can
			// answer the lookup.
			j2 := startAminoJS(t, "amino-pk-serve")
			var pk struct{ Key, Value []byte }
			j2.must(ctx, "pkRecord", nil, &pk)
			var put struct{ Stored, Errors []string }
			j2.must(ctx, "dhtPut", map[string]any{"key": pk.Key, "value": pk.Value}, &put)
			if len(put.Stored) != 0 {
				t.Fatalf("js 2 has no peers but stored its record at %v", put.Stored)
			}
			if _, err := p.Connect(ctx, j2.AddrInfo("tcp")); err != nil {
				t.Fatal(err)
			}
			waitAminoTable(t, p, j2.ID)
			if storedAmino(t, p, string(pk.Key)) {
				t.Fatal("plexus stores js 2's record before looking it up")
			}
			got, err := p.Amino().GetValue(ctx, string(pk.Key))
			if err != nil {
				t.Fatalf("plexus Amino get /pk/%s: %v", j2.ID, err)
			}
			if !bytes.Equal(got, pkValue(t, j2.ID)) {
				t.Fatalf("plexus read %x, want js 2's public key %x", got, pkValue(t, j2.ID))
			}
		})
	})

	// viaPlexus: plexus 1 and 2 know each other; a js peer knows only
	// plexus 1 (nobody looks itself up).
	viaPlexus := func(t *testing.T, ctx context.Context) (p1, p2 *node.Node, js *jsPeer) {
		p1, p2 = startAmino(t), startAmino(t)
		if _, err := p2.Connect(ctx, addrInfo(p1)); err != nil {
			t.Fatal(err)
		}
		waitAminoTable(t, p1, p2.ID())
		waitAminoTable(t, p2, p1.ID())
		js = startAminoJS(t, "amino-find")
		js.must(ctx, "dial", map[string]any{"addr": plexusAddr(t, p1, "tcp")}, nil)
		waitAminoTable(t, p1, js.ID)
		waitJSTable(t, ctx, js, 1)
		if p2.Host().Network().Connectedness(js.ID) == network.Connected || len(p2.Host().Peerstore().Addrs(js.ID)) > 0 {
			t.Fatalf("plexus 2 already knows js (addresses %v)", p2.Host().Peerstore().Addrs(js.ID))
		}
		return p1, p2, js
	}
	t.Run("find-peer/js-asks-plexus", func(t *testing.T) {
		m.row(t, implNode, "tcp", "/ipfs/kad/1.0.0 find-peer: a Plexus peer known only to the middle (Plexus) node", "js asks plexus")
		ctx := ctxFor(t, 60*time.Second)
		p1, p2, js := viaPlexus(t, ctx)
		jsFindsThroughMiddle(t, ctx, js, p1, p2)
	})
	t.Run("find-peer/plexus-asks-plexus", func(t *testing.T) {
		m.row(t, implNode, "tcp", "/ipfs/kad/1.0.0 find-peer: a js peer known only to the middle (Plexus) node", "plexus asks plexus")
		ctx := ctxFor(t, 60*time.Second)
		_, p2, js := viaPlexus(t, ctx)
		f, err := p2.Amino().FindPeer(ctx, js.ID)
		if err != nil {
			t.Fatalf("plexus 2 find js on Amino: %v", err)
		}
		if f.Via != routing.ViaDHT || !sameAddrs(f.Addrs, js.Addrs) {
			t.Fatalf("plexus 2 found js via %s at %v, want an Amino lookup finding %v", f.Via, f.Addrs, js.Addrs)
		}
		if _, err := p2.Connect(ctx, f.AddrInfo()); err != nil {
			t.Fatalf("plexus 2 connect to the js peer it found: %v", err)
		}
	})
	t.Run("find-peer/via-js", func(t *testing.T) {
		m.row(t, implNode, "tcp", "/ipfs/kad/1.0.0 find-peer: a js peer known only to the middle (js) node", "plexus asks js")
		ctx := ctxFor(t, 60*time.Second)
		p := startAmino(t)
		j1 := startAminoJS(t, "amino-middle")
		j2 := startAminoJS(t, "amino-third")
		if _, err := p.Connect(ctx, j1.AddrInfo("tcp")); err != nil {
			t.Fatal(err)
		}
		waitAminoTable(t, p, j1.ID)
		waitJSTable(t, ctx, j1, 1)
		j2.must(ctx, "dial", map[string]any{"addr": j1.Addrs[0].String() + "/p2p/" + j1.ID.String()}, nil)
		waitJSTable(t, ctx, j1, 2)
		if p.Host().Network().Connectedness(j2.ID) == network.Connected || len(p.Host().Peerstore().Addrs(j2.ID)) > 0 {
			t.Fatalf("plexus already knows js 2 (addresses %v)", p.Host().Peerstore().Addrs(j2.ID))
		}
		f, err := p.Amino().FindPeer(ctx, j2.ID)
		if err != nil {
			t.Fatalf("plexus find js 2 through js 1 on Amino: %v", err)
		}
		if f.Via != routing.ViaDHT || !sameAddrs(f.Addrs, j2.Addrs) {
			t.Fatalf("plexus found js 2 via %s at %v, want an Amino lookup finding %v", f.Via, f.Addrs, j2.Addrs)
		}
		if _, err := p.Connect(ctx, f.AddrInfo()); err != nil {
			t.Fatalf("plexus connect to the js peer it found: %v", err)
		}
	})

	t.Run("providers", func(t *testing.T) {
		ctx := ctxFor(t, 60*time.Second)
		p := startAmino(t)
		js := startAminoJS(t, "amino-providers")
		js.must(ctx, "dial", map[string]any{"addr": plexusAddr(t, p, "tcp")}, nil)
		waitAminoTable(t, p, js.ID)
		waitJSTable(t, ctx, js, 1)

		t.Run("plexus-provides-js-finds", func(t *testing.T) {
			m.row(t, implNode, "tcp", "/ipfs/kad/1.0.0: provider record announced by Plexus, found by js", "plexus-provides, js-finds")
			c := aminoCID(t, "plexus-provides")
			if err := p.Amino().Provide(ctx, c, true); err != nil {
				t.Fatalf("plexus provide %s on Amino: %v", c, err)
			}
			var r struct {
				From  string
				Addrs []string
			}
			// Plexus's ADD_PROVIDER stored it at js: js's kad-dht answers
			// from its own provider store (from itself) once it has
			// handled the message (ADD_PROVIDER has no answer, so Provide
			// returns before that) ...
			testnet.Eventually(t, 10*time.Second, func() bool {
				return js.call(ctx, "findProviders", map[string]any{"cid": c.String(), "peer": p.ID().String()}, &r) == nil && r.From == js.ID.String()
			}, "js never stored plexus's ADD_PROVIDER for %s (last found through %q)", c, r.From)
			wantAddrsOf(t, r.Addrs, p)
			// ... and a js peer that joins later learns it from Plexus
			// (GET_PROVIDERS), the only peer it knows.
			j2 := startAminoJS(t, "amino-providers-reader")
			j2.must(ctx, "dial", map[string]any{"addr": plexusAddr(t, p, "tcp")}, nil)
			waitJSTable(t, ctx, j2, 1)
			r.From, r.Addrs = "", nil
			j2.must(ctx, "findProviders", map[string]any{"cid": c.String(), "peer": p.ID().String()}, &r)
			if r.From != p.ID().String() {
				t.Fatalf("js 2 found plexus as provider through %s, want plexus %s", r.From, p.ID())
			}
			wantAddrsOf(t, r.Addrs, p)
		})

		t.Run("js-provides-plexus-finds", func(t *testing.T) {
			m.row(t, implNode, "tcp", "/ipfs/kad/1.0.0: provider record announced by js, stored and found by Plexus (records find-providers)", "js-provides, plexus-finds")
			c := aminoCID(t, "js-provides")
			var r struct{ Sent []string }
			js.must(ctx, "provide", map[string]any{"cid": c.String()}, &r)
			if len(r.Sent) != 1 || r.Sent[0] != p.ID().String() {
				t.Fatalf("js sent ADD_PROVIDER to %v, want plexus %s", r.Sent, p.ID())
			}
			// ADD_PROVIDER has no answer: js's provide returns once it has
			// sent it, maybe before Plexus has stored it.
			var provs []peer.AddrInfo
			testnet.Eventually(t, 10*time.Second, func() bool {
				var err error
				provs, err = p.Amino().DHT().ProviderStore().GetProviders(ctx, c.Hash())
				return err == nil && len(provs) > 0
			}, "plexus's Amino provider store never had js's ADD_PROVIDER for %s", c)
			if len(provs) != 1 || provs[0].ID != js.ID {
				t.Fatalf("plexus's Amino provider store has %v for %s, want js %s", provs, c, js.ID)
			}
			found, err := p.Records().FindProviders(ctx, c.String(), 1)
			if err != nil {
				t.Fatalf("plexus find providers of %s: %v", c, err)
			}
			if len(found) != 1 || found[0].ID != js.ID || !anyAddr(found[0].Addrs, js.Addrs) {
				t.Fatalf("plexus found providers %v, want js %s at one of %v", found, js.ID, js.Addrs)
			}
		})

		t.Run("js-serves-plexus-finds", func(t *testing.T) {
			m.row(t, implNode, "tcp", "/ipfs/kad/1.0.0: provider record held only by a js peer (for another js peer), found by a Plexus Amino lookup", "js-serves, plexus-finds")
			// js 3 provides through js 2, the only peer it knows, before
			// Plexus knows either: only js 2 holds the record. (js 3 itself
			// cannot answer for its own record: js-libp2p's GET_PROVIDERS
			// handler drops providers without addresses, and its peer
			// store holds none for itself.)
			j2 := startAminoJS(t, "amino-providers-holder")
			j3 := startAminoJS(t, "amino-providers-provider")
			j3.must(ctx, "dial", map[string]any{"addr": j2.Addrs[0].String() + "/p2p/" + j2.ID.String()}, nil)
			waitJSTable(t, ctx, j3, 1)
			c := aminoCID(t, "js-serves")
			var r struct{ Sent []string }
			j3.must(ctx, "provide", map[string]any{"cid": c.String()}, &r)
			if len(r.Sent) != 1 || r.Sent[0] != j2.ID.String() {
				t.Fatalf("js 3 sent ADD_PROVIDER to %v, want js 2 %s", r.Sent, j2.ID)
			}
			var held struct{ From string }
			testnet.Eventually(t, 10*time.Second, func() bool {
				return j2.call(ctx, "findProviders", map[string]any{"cid": c.String(), "peer": j3.ID.String()}, &held) == nil && held.From == j2.ID.String()
			}, "js 2 never stored js 3's ADD_PROVIDER for %s", c)
			if _, err := p.Connect(ctx, j2.AddrInfo("tcp")); err != nil {
				t.Fatal(err)
			}
			waitAminoTable(t, p, j2.ID)
			// Plexus may know js 3's addresses already (its Amino DHT's
			// first lookups ask js 2, which names js 3), but not that it
			// provides c: only js 2 can tell it that.
			if provs, err := p.Amino().DHT().ProviderStore().GetProviders(ctx, c.Hash()); err != nil || len(provs) != 0 {
				t.Fatalf("plexus's Amino provider store has %v (err %v) for %s before the lookup", provs, err, c)
			}
			var found peer.AddrInfo
			for ai := range p.Amino().FindProvidersAsync(ctx, c, 1) {
				found = ai
			}
			if found.ID != j3.ID || !anyAddr(found.Addrs, j3.Addrs) {
				t.Fatalf("plexus found provider %v, want js 3 %s at one of %v", found, j3.ID, j3.Addrs)
			}
			if _, err := p.Connect(ctx, found); err != nil {
				t.Fatalf("plexus connect to the provider it found: %v", err)
			}
		})
	})
}

// anyAddr reports whether got includes one of want.
func anyAddr(got, want []ma.Multiaddr) bool {
	for _, w := range want {
		for _, g := range got {
			if g.Equal(w) {
				return true
			}
		}
	}
	return false
}
