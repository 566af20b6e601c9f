package config

import (
	"fmt"
	"slices"
)

// This file holds the settings of the Amino DHT, the public IPFS DHT
// (/ipfs/kad/1.0.0), which a node can run next to its Plexus DHT: the
// dht.amino, dht.amino_mode and dht.amino_bootstrap keys.

// AminoBootstrapPeers are the well-known bootstrap peers of the Amino DHT,
// Kubo's defaults (boxo/autoconf's fallback list, as of Kubo 0.36). They are
// dht.amino_bootstrap's default, used only when dht.amino is on; the local
// profile empties the list.
var AminoBootstrapPeers = []string{
	"/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN",
	"/dnsaddr/bootstrap.libp2p.io/p2p/QmQCU2EcMqAqQPR2i9bChDtGNJchTbq5TbXJJ16u19uLTa",
	"/dnsaddr/bootstrap.libp2p.io/p2p/QmbLHAnMoJPWSCR5Zhtx6BHJX9KiKNN6tpvbUcqanj75Nb",
	"/dnsaddr/bootstrap.libp2p.io/p2p/QmcZf59bWwK5XFi76CZX8cbJ4BhTzzA3gU1ZjYZcYW3dwt",
	"/dnsaddr/va1.bootstrap.libp2p.io/p2p/12D3KooWKnDdG3iXw9eTFijk3EWSunZcFi54Zka4wmtqtt6rPxc8",
	"/ip4/104.131.131.82/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ",
	"/ip4/104.131.131.82/udp/4001/quic-v1/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ",
}

// AminoPrefix is the protocol prefix of the Amino DHT: dht.protocol_prefix
// may not take it (the Plexus DHT validates plexus records, which kad-dht
// refuses under /ipfs); dht.amino joins the Amino DHT instead.
const AminoPrefix = "/ipfs"

// Defaults of the Amino settings.
const (
	// DefaultAminoMode: on the public network the node only asks (it stores
	// no one else's records and answers no one's lookups).
	DefaultAminoMode = "client"
)

// defaultDHT is the DHT section's default: the Plexus DHT in auto mode;
// the Amino DHT off, in client mode, with Kubo's bootstrap peers.
func defaultDHT() DHT {
	return DHT{Mode: "auto", ProtocolPrefix: "/plexus",
		Amino: false, AminoMode: DefaultAminoMode, AminoBootstrap: slices.Clone(AminoBootstrapPeers)}
}

// localAmino is the local profile's part: the Amino DHT off, and never a
// public bootstrap peer; server mode, so that in-process networks that turn
// it on (tests) store each other's records, as the local profile's
// dht.mode does.
func localAmino(d *DHT) {
	d.Amino = false
	d.AminoMode = "server"
	d.AminoBootstrap = []string{}
}

func (c *Config) validateAmino() []error {
	var errs []error
	d := c.DHT
	if d.ProtocolPrefix == AminoPrefix {
		errs = append(errs, fmt.Errorf("dht.protocol_prefix: %q is the public Amino DHT's prefix, which allows no plexus "+
			"records; keep the Plexus DHT's prefix and set dht.amino = true to join the Amino DHT as well", d.ProtocolPrefix))
	}
	switch d.AminoMode {
	case "auto", "server", "client":
	default:
		errs = append(errs, fmt.Errorf("dht.amino_mode: %q is not one of \"auto\", \"server\", \"client\"", d.AminoMode))
	}
	for _, s := range d.AminoBootstrap {
		if _, err := ParsePeerAddr(s); err != nil {
			errs = append(errs, fmt.Errorf("dht.amino_bootstrap: %w", err))
		}
	}
	return errs
}
