package node

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	corerouting "github.com/libp2p/go-libp2p/core/routing"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/plexus-p2p/plexus/records"
	"github.com/plexus-p2p/plexus/routing"
)

// newRouting builds the node's Kademlia DHT right after the host, before
// the host has connections: routing hooks the routing table as it starts.
// Its records are validated by the "plexus" record validator with the
// configured value limit, plus "pk" and "ipns". With dht.amino on it builds
// the Amino DHT next to it (newAmino).
func (n *Node) newRouting() error {
	c := n.cfg
	v := records.Validator(n.host.Peerstore())
	v["plexus"] = records.RecordValidator{MaxValueSize: c.Records.MaxValueSize}
	opts := []routing.Option{
		routing.WithLogger(c.Logger.With("component", "routing")),
		routing.WithPublisher(n.bus),
		routing.WithMode(routing.Mode(c.DHT.Mode)),
		routing.WithProtocolPrefix(protocol.ID(c.DHT.ProtocolPrefix)),
		routing.WithDatastore(n.ds),
		routing.WithValidators(v),
		routing.WithAgentVersion("plexus/" + Version),
		routing.WithQuotas(routing.Quotas{PeerValues: c.DHT.MaxRecordsPerPeer, PeerValueBytes: int64(c.DHT.MaxRecordBytesPerPeer),
			Values: c.DHT.MaxRecords, ValueBytes: int64(c.DHT.MaxRecordBytes),
			PeerProviders: c.DHT.MaxProviderRecordsPerPeer, Providers: c.DHT.MaxProviderRecords}),
		routing.WithRegistry(n.reg),
	}
	if d := time.Duration(c.DHT.QueryDialTimeout); d != 0 { // 0: a Config not from config.Default
		opts = append(opts, routing.WithQueryDialTimeout(d))
	}
	rt, err := routing.New(n.host, opts...)
	if err != nil {
		return fmt.Errorf("routing: %w", err)
	}
	n.routing = rt
	n.addCloser(rt.Close)
	if c.DHT.Amino {
		if err := n.newAmino(); err != nil {
			return err
		}
	}
	n.router = routing.Combine(n.routing, n.amino)
	return nil
}

// newAmino builds the Amino DHT (/ipfs/kad/1.0.0, validators pk and ipns
// only), with the dht.amino_bootstrap peers. It learns Amino peers from
// those and from every connected peer that speaks the protocol (Plexus
// nodes with dht.amino on, IPFS nodes). Its records go in the node's
// datastore under /amino; it publishes no routing events (they describe
// the Plexus DHT).
func (n *Node) newAmino() error {
	c := n.cfg
	boot, err := aminoBootstrapPeers(c.DHT.AminoBootstrap)
	if err != nil {
		return fmt.Errorf("amino routing: %w", err)
	}
	if len(boot) == 0 {
		n.log.Info("the Amino DHT has no bootstrap peers: it learns the network from connected peers that speak it",
			"protocol", routing.AminoProtocol)
	}
	if n.private.Enabled {
		n.log.Warn("the Amino DHT is on in a private network: it reaches only the private network's peers that speak it",
			"protocol", routing.AminoProtocol)
	}
	a, err := routing.NewAmino(n.host,
		routing.WithLogger(c.Logger.With("component", "routing", "dht", "amino")),
		routing.WithMode(routing.Mode(c.DHT.AminoMode)),
		routing.WithDatastore(n.ds),
		routing.WithBootstrapPeers(boot...),
		routing.WithAgentVersion("plexus/"+Version),
	)
	if err != nil {
		return fmt.Errorf("amino routing: %w", err)
	}
	n.amino = a
	n.addCloser(a.Close)
	return nil
}

// aminoBootstrapPeers turns dht.amino_bootstrap into one AddrInfo per
// peer, with every address given for it (Kubo's list names one peer with
// a TCP and a QUIC address).
func aminoBootstrapPeers(addrs []string) ([]peer.AddrInfo, error) {
	mas := make([]ma.Multiaddr, 0, len(addrs))
	for _, s := range addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("dht.amino_bootstrap %q: %w", s, err)
		}
		mas = append(mas, a)
	}
	boot, err := peer.AddrInfosFromP2pAddrs(mas...)
	if err != nil {
		return nil, fmt.Errorf("dht.amino_bootstrap: %w", err)
	}
	return boot, nil
}

// Routing returns the Plexus Kademlia DHT: routing table, peer lookups, the
// crawler, and the value and provider store the records service uses.
func (n *Node) Routing() *routing.Service { return n.routing }

// Amino returns the Amino DHT (/ipfs/kad/1.0.0), or nil when dht.amino is
// off.
func (n *Node) Amino() *routing.Service { return n.amino }

// Router answers routing questions through every DHT of the node: the
// Plexus DHT and, with dht.amino on, the Amino DHT (see routing.Combined):
// providers and /pk/ and /ipns/ records go to both, plexus records to the
// Plexus DHT, peer lookups to both; the routing table and the crawler are
// the Plexus DHT's. With dht.amino off it is the Plexus DHT alone.
func (n *Node) Router() *routing.Combined { return n.router }

// ContentRouting announces and finds providers through every DHT of the
// node: Provide announces on each, FindProvidersAsync asks each at once
// and streams every provider once. Services that move content (files)
// take it.
func (n *Node) ContentRouting() corerouting.ContentRouting { return n.router }
