package routing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	corerouting "github.com/libp2p/go-libp2p/core/routing"
	ma "github.com/multiformats/go-multiaddr"
)

// Via says where FindPeer found a peer's addresses.
type Via string

// Where FindPeer looks, in this order.
const (
	// ViaConnected: the node has an open connection to the peer.
	ViaConnected Via = "connected"
	// ViaPeerstore: the peerstore knows addresses of the peer (from an
	// earlier connection, identify, the DHT or discovery).
	ViaPeerstore Via = "peerstore"
	// ViaDHT: a DHT lookup found the peer.
	ViaDHT Via = "dht"
)

// Found is the answer of FindPeer.
type Found struct {
	ID    peer.ID
	Addrs []ma.Multiaddr
	Via   Via
	// Duration is how long FindPeer took.
	Duration time.Duration
}

// AddrInfo returns the peer and its addresses.
func (f Found) AddrInfo() peer.AddrInfo { return peer.AddrInfo{ID: f.ID, Addrs: f.Addrs} }

// FindPeer finds the addresses of p: those of the peerstore when the node
// is connected to p or knows addresses of it, otherwise through a DHT
// lookup. A lookup that finds nothing answers an error wrapping ErrNotFound
// (and kad-dht's error); one cut short by ctx wraps ctx's error, so that
// errors.Is(err, context.DeadlineExceeded) holds after a timeout.
func (s *Service) FindPeer(ctx context.Context, p peer.ID) (Found, error) {
	return findPeer(ctx, s.h, p, []*Service{s})
}

// findPeer is FindPeer through the DHTs ds (of host h), looked up in
// parallel when the peerstore does not know p: the first to find it wins.
func findPeer(ctx context.Context, h host.Host, p peer.ID, ds []*Service) (Found, error) {
	start := time.Now()
	res := Found{ID: p}
	done := func(via Via, addrs []ma.Multiaddr) (Found, error) {
		res.Via, res.Addrs, res.Duration = via, addrs, time.Since(start)
		return res, nil
	}
	if err := p.Validate(); err != nil {
		return res, fmt.Errorf("find peer: %w", err)
	}
	addrs := h.Peerstore().Addrs(p)
	switch {
	case h.Network().Connectedness(p) == network.Connected:
		if len(addrs) == 0 { // an inbound connection not yet identified
			for _, c := range h.Network().ConnsToPeer(p) {
				addrs = append(addrs, c.RemoteMultiaddr())
			}
		}
		return done(ViaConnected, addrs)
	case len(addrs) > 0:
		return done(ViaPeerstore, addrs)
	}
	ai, err := lookupPeer(ctx, p, ds)
	if err != nil && ctx.Err() == nil {
		// kad-dht's FindPeer gives up on a peer of the routing table it
		// cannot dial (stale addresses) even when the peers it asked know
		// the new ones: ask them directly.
		if f, lerr := ds[0].LookupPeer(ctx, p, nil); lerr == nil {
			return done(ViaDHT, f.Addrs)
		}
	}
	if err != nil {
		// kad-dht ends a lookup cut short by ctx with routing.ErrNotFound.
		if cerr := ctx.Err(); cerr != nil {
			if !errors.Is(err, cerr) {
				err = fmt.Errorf("%w (%w)", cerr, err)
			}
			return res, fmt.Errorf("find peer %s: %w", p, err)
		}
		return res, fmt.Errorf("find peer %s: %w: %w", p, ErrNotFound, err)
	}
	return done(ViaDHT, ai.Addrs)
}

// LookupPeer asks the network for p's addresses as the peers closest to p
// know them now, bypassing this node's peerstore: the way to find a peer
// that restarted on new addresses when the ones known here fail. stale are
// addresses known not to work (those a dial just failed on); the lookup
// ends as soon as an answer names another one, or p itself answers. It
// returns the addresses the answers named (stale ones included: the peer
// may listen on some of them still), or an error wrapping ErrNotFound when
// none named a new one.
func (s *Service) LookupPeer(ctx context.Context, p peer.ID, stale []ma.Multiaddr) (Found, error) {
	start := time.Now()
	if err := p.Validate(); err != nil {
		return Found{ID: p}, fmt.Errorf("look up peer: %w", err)
	}
	old := make(map[string]bool, len(stale))
	for _, a := range stale {
		old[string(a.Bytes())] = true
	}
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	qctx, events := corerouting.RegisterForQueryEvents(qctx)
	lookup := make(chan error, 1)
	go func() {
		_, err := s.d.GetClosestPeers(qctx, string(p))
		cancel() // closes events
		lookup <- err
	}()
	var addrs []ma.Multiaddr
	seen := map[string]bool{}
	fresh := false
	for ev := range events {
		if ev.Type != corerouting.PeerResponse {
			continue
		}
		if ev.ID == p { // p answered: the lookup is connected to it
			fresh = true
		}
		for _, ai := range ev.Responses {
			if ai.ID != p {
				continue
			}
			for _, a := range ai.Addrs {
				k := string(a.Bytes())
				if !seen[k] {
					seen[k] = true
					addrs = append(addrs, a)
				}
				fresh = fresh || !old[k]
			}
		}
		if fresh {
			cancel()
		}
	}
	err := <-lookup
	if s.h.Network().Connectedness(p) == network.Connected {
		fresh = true
		for _, c := range s.h.Network().ConnsToPeer(p) {
			if k := string(c.RemoteMultiaddr().Bytes()); !seen[k] {
				seen[k] = true
				addrs = append(addrs, c.RemoteMultiaddr())
			}
		}
	}
	if fresh {
		return Found{ID: p, Addrs: addrs, Via: ViaDHT, Duration: time.Since(start)}, nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return Found{ID: p}, fmt.Errorf("look up peer %s: %w", p, cerr)
	}
	if err != nil {
		return Found{ID: p}, fmt.Errorf("look up peer %s: %w: %w", p, ErrNotFound, err)
	}
	return Found{ID: p}, fmt.Errorf("look up peer %s: %w: the peers closest to it know no other address (%d known)", p, ErrNotFound, len(addrs))
}

// lookupPeer runs a peer lookup in every DHT of ds at once and answers the
// first that finds p (cancelling the others), or every DHT's error.
func lookupPeer(ctx context.Context, p peer.ID, ds []*Service) (peer.AddrInfo, error) {
	if len(ds) == 1 {
		return ds[0].d.FindPeer(ctx, p)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		ai  peer.AddrInfo
		err error
	}
	answers := make(chan answer, len(ds)) // buffered: no sender outlives a return
	for _, d := range ds {
		go func() {
			ai, err := d.d.FindPeer(ctx, p)
			if err != nil {
				err = fmt.Errorf("%s: %w", d.proto, err)
			}
			answers <- answer{ai, err}
		}()
	}
	var errs []error
	for range ds {
		a := <-answers
		if a.err == nil {
			return a.ai, nil
		}
		errs = append(errs, a.err)
	}
	return peer.AddrInfo{}, errors.Join(errs...)
}
