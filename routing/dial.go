package routing

import (
	"context"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// dialTimeoutHost is the host kad-dht sees: its dials (a query's dial of
// each peer it asks, a stream to a peer it is not connected to) give up
// after timeout (issue 20 row 9). Without it a query waits for the swarm's
// own dial timeout (5s on a local address, 15s otherwise, per address) on
// every dead peer of the routing table: a QUIC dial to a killed peer gets
// no answer at all. A dial that fails within the query is also what makes
// kad-dht drop the dead peer from the routing table; one still pending
// when the lookup ends is cancelled and the peer stays, to slow the next
// lookup again.
type dialTimeoutHost struct {
	host.Host
	timeout time.Duration
}

func (h dialTimeoutHost) Connect(ctx context.Context, pi peer.AddrInfo) error {
	if h.Network().Connectedness(pi.ID) == network.Connected {
		return h.Host.Connect(ctx, pi)
	}
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	return h.Host.Connect(ctx, pi)
}

func (h dialTimeoutHost) NewStream(ctx context.Context, p peer.ID, pids ...protocol.ID) (network.Stream, error) {
	if h.Network().Connectedness(p) == network.Connected {
		return h.Host.NewStream(ctx, p, pids...)
	}
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	return h.Host.NewStream(ctx, p, pids...)
}
