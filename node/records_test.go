package node_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/boxo/ipns"
	"github.com/ipfs/boxo/path"
	"github.com/libp2p/go-libp2p/core/crypto"
	corerouting "github.com/libp2p/go-libp2p/core/routing"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/node"
	"github.com/plexus-p2p/plexus/records"
)

// Every node validates and serves /pk/ and /ipns/ records on the DHT; the
// records service's Get answers them too (it used to refuse them as an
// unknown namespace), with their raw values.
func TestGetOtherNamespaces(t *testing.T) {
	key := testnet.NewKey(t)
	nodes := testnet.Start(t, 3, testnet.Options{Mutate: func(i int, c *node.Config) {
		if i == 2 {
			c.Identity = key
		}
	}})
	owner, reader := nodes[2], nodes[1]
	id := owner.ID()
	testnet.Eventually(t, 20*time.Second, func() bool { return owner.Routing().Size() > 0 },
		"the owner's routing table stays empty")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	// The owner stores its public key and an IPNS record, as an IPFS
	// node would.
	pk, err := crypto.MarshalPublicKey(key.GetPublic())
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.Routing().PutValue(ctx, corerouting.KeyForPublicKey(id), pk); err != nil {
		t.Fatalf("put /pk/: %v", err)
	}
	target, err := path.NewPath("/ipfs/bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy")
	if err != nil {
		t.Fatal(err)
	}
	irec, err := ipns.NewRecord(key, target, 7, time.Now().Add(time.Hour), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ivalue, err := ipns.MarshalRecord(irec)
	if err != nil {
		t.Fatal(err)
	}
	name := ipns.NameFromPeer(id)
	if err := owner.Routing().PutValue(ctx, string(name.RoutingKey()), ivalue); err != nil {
		t.Fatalf("put /ipns/: %v", err)
	}

	for _, tc := range []struct {
		key, want string
		value     []byte
	}{
		{"/pk/" + id.String(), "/pk/" + id.String(), pk},
		{"/ipns/" + id.String(), "/ipns/" + name.String(), ivalue}, // a peer ID names it too
		{"/ipns/" + name.String(), "/ipns/" + name.String(), ivalue},
	} {
		rec, err := reader.Records().Get(ctx, tc.key)
		if err != nil {
			t.Fatalf("get %s: %v", tc.key, err)
		}
		if rec.Key != tc.want || rec.Namespace() != strings.Split(tc.want, "/")[1] || rec.Owner != id ||
			string(rec.Value) != string(tc.value) || rec.Seq != 0 || rec.Name != "" {
			t.Fatalf("get %s: key %q, namespace %q, owner %s, %d bytes", tc.key, rec.Key, rec.Namespace(), rec.Owner, len(rec.Value))
		}
	}

	// A peer whose key nobody stored is not found; a namespace no node
	// validates, or a key that names no peer, is refused before any lookup.
	if _, err := reader.Records().Get(ctx, "/pk/"+nodes[0].ID().String()); !errors.Is(err, records.ErrNotFound) {
		t.Errorf("get the key nobody stored: %v, want ErrNotFound", err)
	}
	_, err = reader.Records().Get(ctx, "/nope/"+id.String())
	if !errors.Is(err, records.ErrUnknownNamespace) || !strings.Contains(err.Error(), "/pk/<peer ID>") ||
		!strings.Contains(err.Error(), "/ipns/<name>") {
		t.Errorf("get an unknown namespace: %v, want ErrUnknownNamespace listing the known ones", err)
	}
	if _, err := reader.Records().Get(ctx, "/pk/not-a-peer"); !errors.Is(err, records.ErrInvalidKey) {
		t.Errorf("get /pk/not-a-peer: %v, want ErrInvalidKey", err)
	}
}
