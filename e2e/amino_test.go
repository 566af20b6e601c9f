package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/boxo/ipns"
	"github.com/ipfs/boxo/path"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	corerouting "github.com/libp2p/go-libp2p/core/routing"
	ma "github.com/multiformats/go-multiaddr"
	mh "github.com/multiformats/go-multihash"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/routing"
)

// Three daemons with --amino (local profile: no Amino bootstrap peers,
// they learn Amino peers from their connections) and an in-process node
// that speaks only the Amino DHT, as an IPFS node does, on loopback. The
// IPFS node's /pk/ and /ipns/ records and provider records reach the
// daemons' CLI, and a provider announced with plexus dht provide reaches
// the IPFS node.
func TestAminoThroughCLI(t *testing.T) {
	base := t.TempDir()
	repos := []string{filepath.Join(base, "a"), filepath.Join(base, "b"), filepath.Join(base, "c")}
	startDaemon(t, repos[0], "--amino")
	var idA wire.ID
	okJSON(t, repos[0], &idA, "id")
	for _, r := range repos[1:] {
		startDaemon(t, r, "--amino", "--bootstrap", idA.Addrs[0])
	}
	ids := make([]wire.ID, len(repos))
	for i, r := range repos {
		okJSON(t, r, &ids[i], "id")
	}

	// The IPFS node: a libp2p host on loopback with only an Amino DHT,
	// joining through daemon A.
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	h := testnet.Host(t, libp2p.Identity(key))
	boot, err := peer.AddrInfoFromP2pAddr(ma.StringCast(idA.Addrs[0]))
	if err != nil {
		t.Fatal(err)
	}
	ipfs, err := routing.NewAmino(h, routing.WithMode(routing.ModeServer), routing.WithBootstrapPeers(*boot))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ipfs.Close() })

	for i, r := range repos {
		testnet.Eventually(t, 30*time.Second, func() bool {
			var st wire.DHTStatus
			okJSON(t, r, &st, "dht", "status")
			return st.Amino && len(st.DHTs) == 2 && st.DHTs[1].Name == "amino" && st.DHTs[1].TableSize == 3
		}, "daemon %d: the Amino routing table did not reach the 2 other daemons and the IPFS node", i)
	}
	if out := ok(t, repos[1], "dht", "status"); !strings.Contains(out, "/ipfs/kad/1.0.0") || !strings.Contains(out, "amino") {
		t.Fatalf("dht status:\n%s", out)
	}
	testnet.Eventually(t, 30*time.Second, func() bool {
		if ipfs.Size() < 3 {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			_ = ipfs.Refresh(ctx)
			cancel()
		}
		return ipfs.Size() == 3
	}, "the IPFS node's Amino table has %d peers, want the 3 daemons", ipfs.Size())

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	pk, err := crypto.MarshalPublicKey(key.GetPublic())
	if err != nil {
		t.Fatal(err)
	}
	if err := ipfs.PutValue(ctx, corerouting.KeyForPublicKey(h.ID()), pk); err != nil {
		t.Fatalf("IPFS node: put /pk/: %v", err)
	}
	target, err := path.NewPath("/ipfs/bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy")
	if err != nil {
		t.Fatal(err)
	}
	irec, err := ipns.NewRecord(key, target, 1, time.Now().Add(time.Hour), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ivalue, err := ipns.MarshalRecord(irec)
	if err != nil {
		t.Fatal(err)
	}
	name := ipns.NameFromPeer(h.ID())
	if err := ipfs.PutValue(ctx, string(name.RoutingKey()), ivalue); err != nil {
		t.Fatalf("IPFS node: put /ipns/: %v", err)
	}
	sum := sha256.Sum256([]byte("a block the IPFS node has"))
	digest, err := mh.Encode(sum[:], mh.SHA2_256)
	if err != nil {
		t.Fatal(err)
	}
	block := cid.NewCidV1(cid.Raw, digest)
	if err := ipfs.Provide(ctx, block, true); err != nil {
		t.Fatalf("IPFS node: provide: %v", err)
	}

	// The daemons read them through the CLI.
	for _, tc := range []struct {
		key   string
		value []byte
	}{
		{"/pk/" + h.ID().String(), pk},
		{"/ipns/" + name.String(), ivalue},
	} {
		var rec wire.Record
		okJSON(t, repos[2], &rec, "dht", "get", tc.key)
		if rec.Owner != h.ID().String() || string(rec.Value) != string(tc.value) {
			t.Fatalf("dht get %s: owner %s, value %s", tc.key, rec.Owner, base64.StdEncoding.EncodeToString(rec.Value))
		}
	}
	var provs []wire.Provider
	okJSON(t, repos[1], &provs, "dht", "findprovs", block.String())
	if len(provs) != 1 || provs[0].PeerID != h.ID().String() {
		t.Fatalf("findprovs of the IPFS node's block: %+v", provs)
	}

	// A daemon's provider record reaches the IPFS node.
	var res wire.ProvideResult
	okJSON(t, repos[2], &res, "dht", "provide", "shared-by-plexus")
	c, err := cid.Decode(res.CID)
	if err != nil {
		t.Fatal(err)
	}
	var found []peer.ID
	for ai := range ipfs.FindProvidersAsync(ctx, c, 0) {
		found = append(found, ai.ID)
	}
	if len(found) != 1 || found[0].String() != ids[2].PeerID {
		t.Fatalf("the IPFS node found providers %v, want daemon C %s", found, ids[2].PeerID)
	}
}

// Without --amino the local profile runs the Plexus DHT alone, even over a
// config file that turns the Amino DHT on.
func TestAminoOffInLocalProfile(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "n")
	ok(t, repo, "init")
	// No public bootstrap peer even if the profile failed to turn it off.
	ok(t, repo, "config", "set", "dht.amino_bootstrap", "")
	ok(t, repo, "config", "set", "dht.amino", "true")
	startDaemon(t, repo)
	var st wire.DHTStatus
	okJSON(t, repo, &st, "dht", "status")
	if st.Amino || len(st.DHTs) != 1 || st.DHTs[0].Protocol != "/plexus/kad/1.0.0" {
		t.Fatalf("dht status: %+v", st)
	}
	if out := ok(t, repo, "dht", "status"); !strings.Contains(out, "Amino DHT (IPFS network): off") {
		t.Fatalf("dht status:\n%s", out)
	}
}
