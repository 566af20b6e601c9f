package node_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ipfs/boxo/ipns"
	"github.com/ipfs/boxo/path"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	corerouting "github.com/libp2p/go-libp2p/core/routing"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/node"
	"github.com/plexus-p2p/plexus/records"
	"github.com/plexus-p2p/plexus/routing"
)

// aminoNetwork starts n in-process nodes on loopback with the Amino DHT
// on, each but node 0 with node 0 as its bootstrap peer on both DHTs (the
// local profile has no Amino bootstrap peers: a test gives its own), and
// waits until every Amino routing table holds the n-1 others. key, when
// set, is the identity of the last node.
func aminoNetwork(t *testing.T, n int, key crypto.PrivKey) []*node.Node {
	t.Helper()
	nodes := testnet.Start(t, n, testnet.Options{Mutate: func(i int, c *node.Config) {
		c.DHT.Amino = true
		c.DHT.AminoBootstrap = c.Network.Bootstrap
		if i == n-1 && key != nil {
			c.Identity = key
		}
	}})
	for i, nd := range nodes {
		testnet.Eventually(t, 30*time.Second, func() bool {
			if nd.Amino().Size() < n-1 {
				ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
				_ = nd.Amino().Refresh(ctx)
				cancel()
			}
			return nd.Amino().Size() == n-1
		}, "node %d: Amino routing table has %d peers, want %d", i, nd.Amino().Size(), n-1)
	}
	return nodes
}

// The Amino DHT is off in the local profile: no second DHT, no
// /ipfs/kad/1.0.0 handler, the node's routing is the Plexus DHT alone.
func TestAminoOffByDefault(t *testing.T) {
	nd := testnet.Start(t, 1, testnet.Options{})[0]
	if nd.Amino() != nil {
		t.Fatal("the Amino DHT runs in the local profile")
	}
	if slices.Contains(nd.Info().Protocols, routing.AminoProtocol) {
		t.Fatalf("the node speaks %s with dht.amino off", routing.AminoProtocol)
	}
	if st := nd.Router().Status(); len(st) != 1 || st[0].Amino || st[0].Protocol != routing.DefaultProtocol {
		t.Fatalf("routing status %+v", st)
	}
}

// With dht.amino on, /pk/ and /ipns/ records and providers work on the
// Amino DHT, read through the node's records service and content routing
// (both DHTs), and the Amino DHT refuses plexus records.
func TestAminoRecordsProvidersAcrossNodes(t *testing.T) {
	key := testnet.NewKey(t)
	nodes := aminoNetwork(t, 4, key)
	owner, reader := nodes[3], nodes[1]
	id := owner.ID()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	if !slices.Contains(owner.Info().Protocols, protocol.ID("/ipfs/kad/1.0.0")) {
		t.Fatalf("protocols %v lack /ipfs/kad/1.0.0", owner.Info().Protocols)
	}
	st := owner.Router().Status()
	if len(st) != 2 || st[0].Amino || !st[1].Amino || st[1].Protocol != routing.AminoProtocol || st[1].Size != 3 {
		t.Fatalf("routing status %+v", st)
	}

	// The Amino DHT validates exactly pk and ipns; a plexus record put on
	// it is refused, and none is served from it.
	nv, ok := owner.Amino().Validator().(record.NamespacedValidator)
	if !ok || len(nv) != 2 || nv["pk"] == nil || nv["ipns"] == nil {
		t.Fatalf("Amino validators %v, want exactly pk and ipns", nv)
	}
	rec, err := owner.Records().Put(ctx, "greeting", []byte("hello"), 0)
	if err != nil {
		t.Fatalf("put a plexus record: %v", err)
	}
	data, err := rec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.Amino().PutValue(ctx, rec.Key, data); err == nil {
		t.Fatal("the Amino DHT accepted a plexus record")
	}
	if _, err := reader.Amino().GetValue(ctx, rec.Key); err == nil {
		t.Fatal("the Amino DHT answered a plexus key")
	}
	if got, err := reader.Records().Get(ctx, rec.Key); err != nil || string(got.Value) != "hello" {
		t.Fatalf("get the plexus record through both DHTs: %v", err)
	}

	// /pk/ and /ipns/ records stored on the Amino DHT only.
	pk, err := crypto.MarshalPublicKey(key.GetPublic())
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.Amino().PutValue(ctx, corerouting.KeyForPublicKey(id), pk); err != nil {
		t.Fatalf("put /pk/ on Amino: %v", err)
	}
	target, err := path.NewPath("/ipfs/bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy")
	if err != nil {
		t.Fatal(err)
	}
	irec, err := ipns.NewRecord(key, target, 3, time.Now().Add(time.Hour), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ivalue, err := ipns.MarshalRecord(irec)
	if err != nil {
		t.Fatal(err)
	}
	name := ipns.NameFromPeer(id)
	if err := owner.Amino().PutValue(ctx, string(name.RoutingKey()), ivalue); err != nil {
		t.Fatalf("put /ipns/ on Amino: %v", err)
	}
	if _, err := reader.Routing().GetValue(ctx, corerouting.KeyForPublicKey(id)); !errors.Is(err, corerouting.ErrNotFound) {
		t.Fatalf("the Plexus DHT has the /pk/ record stored on Amino only: %v", err)
	}
	for _, tc := range []struct {
		key   string
		value []byte
	}{
		{"/pk/" + id.String(), pk},
		{"/ipns/" + name.String(), ivalue},
	} {
		got, err := reader.Records().Get(ctx, tc.key)
		if err != nil {
			t.Fatalf("get %s: %v", tc.key, err)
		}
		if got.Owner != id || string(got.Value) != string(tc.value) {
			t.Fatalf("get %s: owner %s, %d bytes", tc.key, got.Owner, len(got.Value))
		}
	}
	// The value is an IPNS record naming the target.
	got, err := reader.Records().Get(ctx, "/ipns/"+name.String())
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ipns.UnmarshalRecord(got.Value)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := parsed.Value(); err != nil || v.String() != target.String() {
		t.Fatalf("IPNS record value %v, %v", v, err)
	}

	// Providers: the records service announces on both DHTs; each finds
	// the owner alone, the node's content routing once.
	if err := owner.Records().Provide(ctx, "shared-key"); err != nil {
		t.Fatalf("provide: %v", err)
	}
	c, err := records.ProviderCID("shared-key")
	if err != nil {
		t.Fatal(err)
	}
	providers := func(cr corerouting.ContentRouting) []peer.ID {
		var out []peer.ID
		for ai := range cr.FindProvidersAsync(ctx, c, 0) {
			out = append(out, ai.ID)
		}
		return out
	}
	for name, cr := range map[string]corerouting.ContentRouting{
		"Amino DHT": reader.Amino(), "Plexus DHT": reader.Routing(), "content routing": reader.ContentRouting(),
	} {
		if got := providers(cr); !slices.Equal(got, []peer.ID{id}) {
			t.Errorf("providers of the shared key on the reader's %s: %v, want just %s", name, got, id)
		}
	}
	// A provider announced on the Amino DHT alone (as an IPFS node does)
	// is found through the records service.
	onlyAmino, err := records.ProviderCID("amino-only")
	if err != nil {
		t.Fatal(err)
	}
	if err := nodes[2].Amino().Provide(ctx, onlyAmino, true); err != nil {
		t.Fatalf("provide on Amino: %v", err)
	}
	found, err := reader.Records().FindProviders(ctx, "amino-only", 0)
	if err != nil || len(found) != 1 || found[0].ID != nodes[2].ID() {
		t.Fatalf("find the Amino-only provider: %v, %v", found, err)
	}
}
