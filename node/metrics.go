package node

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// registerMetrics adds the node's own gauges and the Go runtime and process
// collectors next to the metrics libp2p registered.
func registerMetrics(n *Node) {
	n.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "plexus_peers_connected", Help: "Peers with at least one open connection.",
		}, func() float64 { return float64(len(n.host.Network().Peers())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "plexus_connections_open", Help: "Open connections.",
		}, func() float64 { return float64(len(n.host.Network().Conns())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "plexus_dht_routing_table_size", Help: "Peers in the Kademlia routing table.",
		}, func() float64 { return float64(n.routing.Size()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "plexus_amino_routing_table_size", Help: "Peers in the Amino DHT's routing table (0 with dht.amino off).",
		}, func() float64 {
			if n.amino == nil {
				return 0
			}
			return float64(n.amino.Size())
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "plexus_uptime_seconds", Help: "Seconds since the node started.",
		}, func() float64 { return timeSince(n.started) }),
	)
}

func timeSince(t time.Time) float64 { return time.Since(t).Seconds() }
