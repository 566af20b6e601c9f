package discovery_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"

	"github.com/plexus-p2p/plexus/discovery"
)

// A known peer stored by an earlier version (JSON under
// /plexus/peers/<peer ID>) loads unchanged: KnownPeer lost its JSON tags,
// the storage format did not.
func TestLoadsKnownPeerStoredByEarlierVersion(t *testing.T) {
	const id = "12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf"
	const stored = `{"peer_id":"` + id + `","addrs":["/ip4/192.0.2.7/tcp/4001"],` +
		`"sources":["bootstrap","dht"],"first_seen":"2025-01-02T03:04:05Z","last_seen":"2025-02-03T04:05:06Z"}`
	store := dssync.MutexWrap(datastore.NewMapDatastore())
	if err := store.Put(context.Background(), datastore.NewKey(discovery.PeersNamespace+"/"+id), []byte(stored)); err != nil {
		t.Fatal(err)
	}
	h := loopbackHost(t, nil)
	n := startNode(t, h, testDHT(t, h), store)
	kps := n.svc.KnownPeers()
	if len(kps) != 1 {
		t.Fatalf("known peers = %+v, want the stored one", kps)
	}
	kp := kps[0]
	first, _ := time.Parse(time.RFC3339, "2025-01-02T03:04:05Z")
	if kp.ID.String() != id || len(kp.Addrs) != 1 || kp.Addrs[0].String() != "/ip4/192.0.2.7/tcp/4001" ||
		!slices.Equal(kp.Sources, []discovery.Source{discovery.SourceBootstrap, discovery.SourceDHT}) || !kp.FirstSeen.Equal(first) {
		t.Errorf("loaded %+v", kp)
	}
}
