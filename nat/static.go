package nat

import (
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Static relays are dialled at start and kept connected (issue 19, case 1):
// go-libp2p's AutoRelay looks for relays only once AutoNAT has found the
// node private, and AutoNAT asks connected peers only, so a node with
// static relays and no bootstrap peer would otherwise stay "unknown" with no
// connection at all. Connected, the static relays serve as its AutoNAT
// peers (relays run the AutoNAT service by default).

// Backoff between two dials of a static relay that cannot be reached.
const (
	staticDialFirstBackoff = 2 * time.Second
	staticDialMaxBackoff   = 2 * time.Minute
	staticDialTimeout      = 15 * time.Second
	staticCheckInterval    = time.Second
)

// staticRelayTag protects connections to static relays from the connection
// manager's trimming.
const staticRelayTag = "plexus-static-relay"

// keepStaticRelays dials every static relay and re-dials it when its
// connection ends, with exponential backoff while it cannot be reached.
// It runs until the service closes; it does nothing on a node forced
// public (which needs no relay).
func (s *Service) keepStaticRelays(h host.Host) {
	defer s.wg.Done()
	type state struct {
		next    time.Time
		backoff time.Duration
	}
	relays := s.cfg.StaticRelays
	st := make([]state, len(relays))
	for i, ai := range relays {
		h.Peerstore().AddAddrs(ai.ID, ai.Addrs, time.Hour)
		h.ConnManager().Protect(ai.ID, staticRelayTag)
		st[i].backoff = staticDialFirstBackoff
	}
	t := time.NewTicker(staticCheckInterval)
	defer t.Stop()
	for {
		now := time.Now()
		for i, ai := range relays {
			if h.Network().Connectedness(ai.ID) == network.Connected {
				st[i].backoff = staticDialFirstBackoff
				continue
			}
			if now.Before(st[i].next) {
				continue
			}
			ctx, cancel := contextWithStop(s.stop, staticDialTimeout)
			err := h.Connect(ctx, peer.AddrInfo{ID: ai.ID, Addrs: ai.Addrs})
			cancel()
			if err != nil {
				s.log.Warn("cannot reach static relay; retrying", "relay", ai.ID, "in", st[i].backoff, "err", err)
				st[i].next = time.Now().Add(st[i].backoff)
				st[i].backoff = min(2*st[i].backoff, staticDialMaxBackoff)
				continue
			}
			s.log.Info("connected to static relay", "relay", ai.ID)
			st[i].backoff = staticDialFirstBackoff
		}
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}
