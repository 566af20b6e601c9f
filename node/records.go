package node

import (
	"time"

	"github.com/plexus-p2p/plexus/records"
)

func (n *Node) startRecords() error {
	c := n.cfg.Records
	// Values and providers go through every DHT of the node (Router):
	// plexus records to the Plexus DHT, /pk/, /ipns/ and providers to the
	// Amino DHT too when it is on.
	svc, err := records.New(n.router, n.cfg.Identity, n.ds,
		records.WithLogger(n.cfg.Logger),
		records.WithPublisher(n.bus),
		// Get answers every namespace the DHT validates and serves
		// (plexus, pk, ipns), not only the records service's own.
		records.WithDHTValidator(n.routing.Validator()),
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
