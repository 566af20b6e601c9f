package nat

import (
	"context"
	"crypto/rand"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	ma "github.com/multiformats/go-multiaddr"
)

// HopProtocol is the circuit relay v2 protocol a relay serves.
const HopProtocol protocol.ID = "/libp2p/circuit/relay/0.2.0/hop"

// dhtRelayQueryTimeout bounds one DHT walk for relay candidates.
const dhtRelayQueryTimeout = 30 * time.Second

// relaySource is AutoRelay's peer source: static relays first, then
// connected peers that offer the relay service, then other known peers that
// do, then peers found through the DHT (AutoRelay checks each candidate's
// protocols itself before reserving).
type relaySource struct {
	static []peer.AddrInfo

	mu      sync.Mutex
	h       host.Host
	closest ClosestPeersFunc
	log     *slog.Logger
}

func newRelaySource(static []peer.AddrInfo) *relaySource {
	return &relaySource{static: slices.Clone(static)}
}

// attach gives the source the host and the DHT once the host exists.
// Until then it offers the static relays only.
func (r *relaySource) attach(h host.Host, closest ClosestPeersFunc, log *slog.Logger) {
	r.mu.Lock()
	r.h, r.closest, r.log = h, closest, log
	r.mu.Unlock()
}

// detach stops the DHT walks when the service closes.
func (r *relaySource) detach() {
	r.mu.Lock()
	r.closest = nil
	r.mu.Unlock()
}

// find implements autorelay.PeerSource. The channel is closed when the
// candidates are exhausted or ctx ends.
func (r *relaySource) find(ctx context.Context, num int) <-chan peer.AddrInfo {
	out := make(chan peer.AddrInfo)
	r.mu.Lock()
	h, closest, log := r.h, r.closest, r.log
	r.mu.Unlock()
	go func() {
		defer close(out)
		seen := map[peer.ID]bool{}
		sent := 0
		send := func(ai peer.AddrInfo) bool {
			if seen[ai.ID] || (h != nil && ai.ID == h.ID()) {
				return true
			}
			seen[ai.ID] = true
			select {
			case out <- ai:
				sent++
				return sent < num
			case <-ctx.Done():
				return false
			}
		}
		for _, ai := range r.static {
			if !send(ai) {
				return
			}
		}
		if h == nil {
			return
		}
		for _, ai := range knownRelays(h) {
			if !send(ai) {
				return
			}
		}
		if closest == nil {
			return
		}
		key := make([]byte, 32)
		rand.Read(key)
		qctx, cancel := context.WithTimeout(ctx, dhtRelayQueryTimeout)
		defer cancel()
		ids, err := closest(qctx, string(key))
		if err != nil && log != nil {
			log.Debug("DHT walk for relay candidates failed", "err", err)
		}
		for _, id := range ids {
			if addrs := h.Peerstore().Addrs(id); len(addrs) > 0 {
				if !send(peer.AddrInfo{ID: id, Addrs: addrs}) {
					return
				}
			}
		}
	}()
	return out
}

// knownRelays lists peers that identify says offer the relay service,
// connected ones first.
func knownRelays(h host.Host) []peer.AddrInfo {
	var connected, other []peer.AddrInfo
	for _, p := range h.Peerstore().PeersWithAddrs() {
		if p == h.ID() {
			continue
		}
		if ok, _ := h.Peerstore().SupportsProtocols(p, HopProtocol); len(ok) == 0 {
			continue
		}
		ai := peer.AddrInfo{ID: p, Addrs: h.Peerstore().Addrs(p)}
		if h.Network().Connectedness(p) == network.Connected {
			connected = append(connected, ai)
		} else {
			other = append(other, ai)
		}
	}
	return append(connected, other...)
}

// relayOf returns the relay peer of a /p2p/<relay>/p2p-circuit address.
func relayOf(a ma.Multiaddr) (peer.ID, bool) {
	var last peer.ID
	for _, c := range a {
		switch c.Code() {
		case ma.P_P2P:
			id, err := peer.IDFromBytes(c.RawValue())
			if err != nil {
				return "", false
			}
			last = id
		case ma.P_CIRCUIT:
			return last, last != ""
		}
	}
	return "", false
}

// relayAddrsChanged tracks the relays AutoRelay holds reservations with,
// from the /p2p-circuit addresses it advertises.
func (s *Service) relayAddrsChanged(addrs []ma.Multiaddr) {
	byRelay := map[peer.ID][]ma.Multiaddr{}
	for _, a := range addrs {
		if id, ok := relayOf(a); ok {
			byRelay[id] = append(byRelay[id], a)
		}
	}
	now := time.Now()
	var added []peer.ID
	s.mu.Lock()
	for id, as := range byRelay {
		slices.SortFunc(as, func(a, b ma.Multiaddr) int { return strings.Compare(a.String(), b.String()) })
		if r, ok := s.rsvps[id]; ok {
			r.Addrs = as
			continue
		}
		s.rsvps[id] = &Reservation{Relay: id, Addrs: as, Since: now}
		added = append(added, id)
	}
	var lost []RelayEvent
	for id, r := range s.rsvps {
		if _, ok := byRelay[id]; !ok {
			lost = append(lost, RelayEvent{Relay: r.Relay, Addrs: r.Addrs})
			delete(s.rsvps, id)
		}
	}
	s.mu.Unlock()
	for _, ev := range lost {
		s.log.Warn("relay reservation lost", "relay", ev.Relay)
		s.publish(EventRelayLost, ev)
	}
	for _, id := range added {
		s.log.Info("relay reservation active", "relay", id, "addrs", byRelay[id])
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.probeReservation(id, EventRelayReserved)
		}()
	}
}

// probeReservation learns a reservation's expiry and limits. AutoRelay does
// not expose them, so the service asks the relay itself: a reservation
// request for an existing reservation renews it and answers with the new
// expiry, which is then exact (a later renewal by AutoRelay only extends it).
func (s *Service) probeReservation(id peer.ID, eventType string) {
	h := s.host()
	if h == nil {
		return
	}
	ctx, cancel := contextWithStop(s.stop, 15*time.Second)
	defer cancel()
	rsvp, err := client.Reserve(ctx, h, peer.AddrInfo{ID: id})
	s.mu.Lock()
	r, ok := s.rsvps[id]
	if !ok {
		s.mu.Unlock()
		return
	}
	if err != nil {
		r.Error = oneLine(err)
		ev := RelayEvent{Relay: r.Relay, Addrs: r.Addrs, Error: r.Error}
		s.mu.Unlock()
		s.log.Debug("relay reservation details unavailable", "relay", id, "err", err)
		s.publish(eventType, ev)
		return
	}
	r.Error = ""
	r.Expires = rsvp.Expiration.UTC()
	r.LimitDuration = rsvp.LimitDuration
	r.LimitDataBytes = rsvp.LimitData
	r.Renewals++
	ev := RelayEvent{Relay: r.Relay, Addrs: r.Addrs, Expires: r.Expires, LimitDuration: r.LimitDuration, LimitDataBytes: r.LimitDataBytes}
	s.mu.Unlock()
	s.publish(eventType, ev)
}

// renewInterval is how often the renew loop looks at reservation expiries.
const renewInterval = 30 * time.Second

// renewSlack: a reservation closer than this to its recorded expiry is
// looked at again (AutoRelay renews 2 minutes before expiry).
const renewSlack = 90 * time.Second

// renewLoop refreshes the recorded expiry of reservations AutoRelay keeps.
func (s *Service) renewLoop() {
	defer s.wg.Done()
	t := time.NewTicker(renewInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			var due []peer.ID
			s.mu.Lock()
			for id, r := range s.rsvps {
				if !r.Expires.IsZero() && r.Expires.Sub(now) < renewSlack {
					due = append(due, id)
				}
			}
			s.mu.Unlock()
			for _, id := range due {
				s.probeReservation(id, EventRelayRenewed)
			}
		}
	}
}
