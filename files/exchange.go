package files

import (
	"context"
	"time"

	"github.com/ipfs/boxo/bitswap"
	bsmsg "github.com/ipfs/boxo/bitswap/message"
	bsnet "github.com/ipfs/boxo/bitswap/network/bsnet"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// startExchange starts bitswap (client and server, /ipfs/bitswap/*, so
// Kubo and other IPFS nodes can fetch from and serve this node) and the
// block protocol on the host.
func (s *Service) startExchange() {
	net := bsnet.NewFromIpfsHost(s.host)
	opts := append([]bitswap.Option{
		bitswap.WithTracer(bitswapReceived{s}),
	}, s.cfg.bitswapOpts...)
	// bitswap finds providers itself only through the router given here;
	// Fetch looks them up and connects to them, so bitswap asks connected
	// peers.
	s.bitswap = bitswap.New(s.ctx, net, nil, s.bs, opts...)
	s.host.SetStreamHandler(s.blockProtocol(), s.serveBlocks)
}

func (s *Service) stopExchange() {
	if s.host != nil {
		s.host.RemoveStreamHandler(s.blockProtocol())
	}
	if s.bitswap != nil {
		s.bitswap.Close()
	}
}

func (s *Service) blockProtocol() protocol.ID { return s.cfg.prefix + BlockProtocol }

// bitswapReceived traces bitswap's messages: running fetches count the
// peers that sent them blocks.
type bitswapReceived struct{ s *Service }

func (bitswapReceived) MessageSent(peer.ID, bsmsg.BitSwapMessage) {}

func (r bitswapReceived) MessageReceived(p peer.ID, m bsmsg.BitSwapMessage) {
	blks := m.Blocks()
	if len(blks) == 0 {
		return
	}
	r.s.fetchMu.Lock()
	defer r.s.fetchMu.Unlock()
	for f := range r.s.fetches {
		for _, b := range blks {
			if f.wanted(b.Cid()) {
				f.addPeer(p)
				break
			}
		}
	}
}

// Providers finds up to max providers of c on the DHT.
func (s *Service) Providers(ctx context.Context, c cid.Cid, max int) ([]peer.AddrInfo, error) {
	if s.router == nil {
		return nil, nil
	}
	if max <= 0 {
		max = 20
	}
	var out []peer.AddrInfo
	for ai := range s.router.FindProvidersAsync(ctx, c, max) {
		out = append(out, ai)
	}
	if len(out) == 0 && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return out, nil
}

// provideAsync announces c on the DHT in the background and publishes
// EventProvided when it is done.
func (s *Service) provideAsync(c cid.Cid) {
	if s.router == nil || s.isClosed() {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.provide(s.ctx, c)
	}()
}

func (s *Service) provide(ctx context.Context, c cid.Cid) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := s.router.Provide(ctx, c, true); err != nil {
		if ctx.Err() == nil {
			s.log.Info("announcing a root on the DHT failed; retried at the next reprovide", "cid", c, "err", err)
		}
		return
	}
	s.publish(EventProvided, ProvidedEvent{CID: c})
}

// reprovideLoop announces every pinned root again each interval.
func (s *Service) reprovideLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.reprovide)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		pins, err := s.Pins(s.ctx)
		if err != nil {
			s.log.Warn("reprovide: listing pins failed", "err", err)
			continue
		}
		for _, p := range pins {
			if s.ctx.Err() != nil {
				return
			}
			s.provide(s.ctx, p.CID)
		}
	}
}
