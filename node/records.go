package node

import (
	"context"
	"time"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/records"
)

func (n *Node) startRecords() error {
	c := n.cfg.Records
	svc, err := records.New(n.routing, n.cfg.Identity, n.ds,
		records.WithLogger(n.cfg.Logger),
		records.WithPublisher(n.bus),
		records.WithTTL(time.Duration(c.TTL)),
		records.WithMaxValueSize(c.MaxValueSize),
		records.WithRepublishInterval(time.Duration(c.RepublishInterval)),
		records.WithReprovideInterval(time.Duration(c.ReprovideInterval)),
	)
	if err != nil {
		return err
	}
	n.records = svc
	n.addCloser(svc.Close)
	return svc.Start()
}

// Records returns the DHT record and provider service.
func (n *Node) Records() *records.Service { return n.records }

// FindProviders finds up to count providers of key (an arbitrary string or
// a CID), as full multiaddr lists.
func (n *Node) FindProviders(ctx context.Context, key string, count int) ([]wire.Provider, error) {
	ais, err := n.records.FindProviders(ctx, key, count)
	if err != nil {
		return nil, err
	}
	out := make([]wire.Provider, len(ais))
	for i, ai := range ais {
		out[i] = wire.Provider{PeerID: ai.ID.String(), Addrs: strs(ai.Addrs)}
	}
	return out, nil
}
