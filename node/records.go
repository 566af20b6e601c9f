package node

import (
	"time"

	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/peerstore"

	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/records"
)

// recordValidator is the DHT's namespaced validator: "plexus" application
// records with the configured value limit, plus "pk" and "ipns".
func recordValidator(kb peerstore.KeyBook, c config.Records) record.NamespacedValidator {
	v := records.Validator(kb)
	v["plexus"] = records.RecordValidator{MaxValueSize: c.MaxValueSize}
	return v
}

func (n *Node) startRecords() error {
	c := n.cfg.Records
	svc, err := records.New(n.dht, n.cfg.Identity, n.ds,
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
