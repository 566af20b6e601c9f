package node

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/plexus-p2p/plexus/records"
	"github.com/plexus-p2p/plexus/routing"
)

// newRouting builds the node's Kademlia DHT right after the host, before
// the host has connections: routing hooks the routing table as it starts.
// Its records are validated by the "plexus" record validator with the
// configured value limit, plus "pk" and "ipns".
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
	return nil
}

// Routing returns the Kademlia DHT: routing table, peer lookups, the
// crawler, and the value and provider store the records service uses.
func (n *Node) Routing() *routing.Service { return n.routing }
