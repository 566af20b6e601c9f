package config_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/plexus-p2p/plexus/config"
)

// The default profile documents the Amino switch, off, with Kubo's
// bootstrap peers ready for when a user turns it on; the local profile
// forces it off and never names a public bootstrap peer, even over a
// config that had it on.
func TestAminoProfiles(t *testing.T) {
	c := config.Default()
	if c.DHT.Amino || c.DHT.AminoMode != "client" || !slices.Equal(c.DHT.AminoBootstrap, config.AminoBootstrapPeers) {
		t.Fatalf("default: amino %t, mode %q, bootstrap %v", c.DHT.Amino, c.DHT.AminoMode, c.DHT.AminoBootstrap)
	}
	b, err := config.Render(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\namino = false\n", "/ipfs/kad/1.0.0", "Cost", "\namino_mode = \"client\"\n", "bootstrap.libp2p.io"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("rendered default config lacks %q", want)
		}
	}

	if err := config.Set(&c, "dht.amino", "true"); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyProfile("local"); err != nil {
		t.Fatal(err)
	}
	if c.DHT.Amino || len(c.DHT.AminoBootstrap) != 0 || c.DHT.AminoMode != "server" {
		t.Fatalf("local: amino %t, mode %q, bootstrap %v", c.DHT.Amino, c.DHT.AminoMode, c.DHT.AminoBootstrap)
	}
	b, err = config.Render(c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "bootstrap.libp2p.io") || strings.Contains(string(b), "104.131.131.82") {
		t.Fatal("the local profile's config names a public bootstrap peer")
	}
	if p := config.ProfileOf(c); p != "local" {
		t.Fatalf("ProfileOf(local) = %q", p)
	}
}

func TestAminoValidate(t *testing.T) {
	for name, tc := range map[string]struct{ doc, want string }{
		"mode":      {"[dht]\namino_mode = \"sideways\"", `dht.amino_mode: "sideways" is not one of`},
		"bootstrap": {"[dht]\namino_bootstrap = [\"/ip4/1.2.3.4/tcp/4001\"]", "dht.amino_bootstrap: multiaddr \"/ip4/1.2.3.4/tcp/4001\" has no /p2p/"},
		"prefix":    {"[dht]\nprotocol_prefix = \"/ipfs\"", "set dht.amino = true"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := config.Parse([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	c, err := config.Parse([]byte("[dht]\namino = true\namino_mode = \"auto\"\namino_bootstrap = []"))
	if err != nil || !c.DHT.Amino || c.DHT.AminoMode != "auto" || len(c.DHT.AminoBootstrap) != 0 {
		t.Fatalf("parse: %+v, %v", c.DHT, err)
	}
}
