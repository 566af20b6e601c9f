package node

import (
	"context"
	"fmt"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/perf"
)

// MaxPerfBytes bounds one perf transfer in each direction (16 GiB).
const MaxPerfBytes = 16 << 30

func (n *Node) startPerf() error {
	if !n.cfg.Perf.Enabled {
		return nil
	}
	svc, err := perf.New(n.host, perf.WithLogger(n.cfg.Logger), perf.WithPublisher(n.bus))
	if err != nil {
		return err
	}
	n.addCloser(svc.Close)
	return nil
}

// perfTransports maps --transport names to the multiaddr transport names.
var perfTransports = map[string]string{"tcp": "tcp", "quic": "quic-v1", "ws": "ws"}

// Perf measures throughput to a peer with the libp2p perf protocol. With a
// transport name it (re)connects over that transport only, closing other
// connections to the peer first.
func (n *Node) Perf(ctx context.Context, req wire.PerfRequest) (perf.Result, error) {
	if req.Upload > MaxPerfBytes || req.Download > MaxPerfBytes {
		return perf.Result{}, fmt.Errorf("%w: upload and download are limited to %d bytes each", ErrInvalidArgument, MaxPerfBytes)
	}
	ai, err := n.parseTarget(req.Target)
	if err != nil {
		return perf.Result{}, err
	}
	p := ai.ID
	if req.Transport != "" {
		err = n.connectOver(ctx, p, ai.Addrs, req.Transport)
	} else {
		err = n.connectTarget(ctx, ai)
	}
	if err != nil {
		return perf.Result{}, err
	}
	res, err := perf.Run(ctx, n.host, p, req.Upload, req.Download)
	if err != nil {
		return res, fmt.Errorf("perf %s: %w", p, err)
	}
	return res, nil
}

// connectOver makes the only connection to p one over the named transport.
func (n *Node) connectOver(ctx context.Context, p peer.ID, given []ma.Multiaddr, transport string) error {
	want, ok := perfTransports[transport]
	if !ok {
		return fmt.Errorf("%w: unknown transport %q (want tcp, quic or ws)", ErrInvalidArgument, transport)
	}
	ps := n.host.Peerstore()
	known := ps.Addrs(p)
	var pick []ma.Multiaddr
	for _, a := range append(given, known...) {
		if transportOf(a) == want {
			pick = append(pick, a)
		}
	}
	if len(pick) == 0 {
		return fmt.Errorf("%w: no %s address known for %s", ErrNotFound, transport, p)
	}
	for _, c := range n.host.Network().ConnsToPeer(p) {
		if transportOf(c.RemoteMultiaddr()) == want {
			return nil
		}
	}
	n.host.Network().ClosePeer(p)
	// The swarm dials every address in the peerstore: offer only the chosen
	// transport's for this dial, then restore the others.
	ps.ClearAddrs(p)
	defer ps.AddAddrs(p, known, peerstore.RecentlyConnectedAddrTTL)
	ps.AddAddrs(p, pick, peerstore.TempAddrTTL)
	if err := n.host.Connect(network.WithForceDirectDial(ctx, "perf"), peer.AddrInfo{ID: p}); err != nil {
		return fmt.Errorf("%w: connect %s over %s: %s", ErrUnreachable, p, transport, oneLine(err))
	}
	return nil
}
