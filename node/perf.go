package node

import (
	"context"
	"fmt"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/perf"
)

func (n *Node) startPerf() error {
	c := n.cfg.Perf
	if !c.Enabled {
		return nil
	}
	opts := []perf.Option{perf.WithLogger(n.cfg.Logger), perf.WithPublisher(n.bus), perf.WithMaxBytes(uint64(c.MaxBytes))}
	if len(c.AllowPeers) > 0 {
		allowed := make(map[peer.ID]bool, len(c.AllowPeers))
		for _, s := range c.AllowPeers {
			p, err := peer.Decode(s) // checked by config.Validate
			if err != nil {
				return fmt.Errorf("perf.allow_peers: %w", err)
			}
			allowed[p] = true
		}
		opts = append(opts, perf.WithAllowPeer(func(p peer.ID) bool { return allowed[p] }))
	}
	svc, err := perf.New(n.host, opts...)
	if err != nil {
		return err
	}
	n.addCloser(svc.Close)
	return nil
}

// perfTransports maps the transport names Perf accepts to the multiaddr
// transport names.
var perfTransports = map[string]string{"tcp": "tcp", "quic": "quic-v1", "ws": "ws"}

// Perf measures throughput to target with the libp2p perf protocol,
// uploading upload bytes and then downloading download bytes (each at most
// config.MaxPerfBytes). It connects through target's addresses when it has
// some, otherwise through known addresses or a DHT lookup. With a transport
// ("tcp", "quic" or "ws"; "" for any) it (re)connects over that transport
// only, closing other connections to the peer first. progress, when not
// nil, is told how far the measurement has got (perf.WithProgress).
func (n *Node) Perf(ctx context.Context, target peer.AddrInfo, upload, download uint64, transport string, progress func(perf.Progress)) (perf.Result, error) {
	if upload > config.MaxPerfBytes || download > config.MaxPerfBytes {
		return perf.Result{}, fmt.Errorf("%w: upload and download are limited to %d bytes each", ErrInvalidArgument, uint64(config.MaxPerfBytes))
	}
	p := target.ID
	switch {
	case p == "":
		return perf.Result{}, fmt.Errorf("%w: perf needs a peer ID", ErrInvalidArgument)
	case p == n.host.ID():
		return perf.Result{}, fmt.Errorf("%w: %s is this node itself", ErrInvalidArgument, p)
	}
	var err error
	if transport != "" {
		err = n.connectOver(ctx, p, target.Addrs, transport)
	} else {
		err = n.connectTarget(ctx, target)
	}
	if err != nil {
		return perf.Result{}, err
	}
	var opts []perf.RunOption
	if progress != nil {
		opts = append(opts, perf.WithProgress(progress))
	}
	res, err := perf.Run(ctx, n.host, p, upload, download, opts...)
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
		return fmt.Errorf("%w: connect %s over %s: %w", ErrUnreachable, p, transport, oneLineError{err})
	}
	return nil
}
