package node

import (
	"strings"
	"testing"

	"github.com/plexus-p2p/plexus/config"
)

// Kubo's bootstrap list, the default of dht.amino_bootstrap, becomes one
// bootstrap peer per peer ID, the one with a TCP and a QUIC address
// keeping both. Nothing is dialled.
func TestAminoBootstrapPeers(t *testing.T) {
	boot, err := aminoBootstrapPeers(config.AminoBootstrapPeers)
	if err != nil {
		t.Fatal(err)
	}
	if len(boot) != 6 {
		t.Fatalf("%d peers from %d addresses, want 6", len(boot), len(config.AminoBootstrapPeers))
	}
	for _, ai := range boot {
		want := 1
		if ai.ID.String() == "QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ" {
			want = 2
		}
		if len(ai.Addrs) != want {
			t.Errorf("peer %s: addresses %v, want %d", ai.ID, ai.Addrs, want)
		}
	}
	if _, err := aminoBootstrapPeers([]string{"/ip4/127.0.0.1/tcp/1"}); err == nil || !strings.Contains(err.Error(), "dht.amino_bootstrap") {
		t.Fatalf("an address without /p2p: %v", err)
	}
}
