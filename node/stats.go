package node

import "time"

// Stats are the node's running totals: how long it has run, what it is
// connected to and the bytes its streams carried.
type Stats struct {
	Started     time.Time
	Uptime      time.Duration
	Peers       int // peers with at least one open connection
	Connections int // open connections
	Streams     int // open streams over every connection
	// BytesIn and BytesOut count the bytes of every stream since start
	// (application data and libp2p's own protocols, above the muxer).
	BytesIn, BytesOut int64
	// RateIn and RateOut are bytes per second, smoothed over the last
	// seconds (go-libp2p's bandwidth counter).
	RateIn, RateOut float64
}

// Stats returns the node's running totals.
func (n *Node) Stats() Stats {
	conns := n.host.Network().Conns()
	st := Stats{Started: n.started, Uptime: time.Since(n.started), Peers: len(n.host.Network().Peers()), Connections: len(conns)}
	for _, c := range conns {
		st.Streams += len(c.GetStreams())
	}
	t := n.bw.GetBandwidthTotals()
	st.BytesIn, st.BytesOut, st.RateIn, st.RateOut = t.TotalIn, t.TotalOut, t.RateIn, t.RateOut
	return st
}
