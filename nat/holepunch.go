package nat

import (
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
	ma "github.com/multiformats/go-multiaddr"
)

// DCUtRProtocol is the hole punching protocol. A node registers its handler
// only once it knows a public address of its own.
const DCUtRProtocol = "/libp2p/dcutr"

// recentResults is how many hole punch results Status keeps.
const recentResults = 20

// maxUpgrades bounds the relayed-to-direct durations kept for the median.
const maxUpgrades = 1000

// punchStats counts hole punch outcomes since start.
type punchStats struct {
	attempts, successes   int
	directDials, directOK int
	protocolErrors        int
	recent                []HolePunchResult
	pending               map[peer.ID]pendingPunch // started, not finished
	byPeer                map[peer.ID]HolePunchResult
}

type pendingPunch struct {
	addrs []ma.Multiaddr
	rtt   time.Duration
}

// traceHolePunch handles one go-libp2p hole punch trace event. It runs on
// the hole punching goroutine, so it only updates state, logs and publishes.
// Events before Start or after Close are dropped.
func (s *Service) traceHolePunch(evt *holepunch.Event) {
	h := s.host()
	if h == nil {
		return
	}
	remote := evt.Remote
	at := time.Unix(0, evt.Timestamp).UTC()
	switch e := evt.Evt.(type) {
	case *holepunch.StartHolePunchEvt:
		addrs := parseAddrs(e.RemoteAddrs)
		s.mu.Lock()
		if s.punch.pending == nil {
			s.punch.pending = map[peer.ID]pendingPunch{}
		}
		s.punch.pending[remote] = pendingPunch{addrs: addrs, rtt: e.RTT}
		s.mu.Unlock()
		s.log.Info("hole punch started", "peer", remote, "remote_addrs", e.RemoteAddrs, "rtt", e.RTT)
		s.publish(EventHolePunchStarted, HolePunchStarted{PeerID: remote, RemoteAddrs: addrs, RTT: e.RTT})
	case *holepunch.EndHolePunchEvt:
		r := HolePunchResult{Time: at, PeerID: remote, Kind: KindHolePunch, Success: e.Success,
			Elapsed: e.EllapsedTime, Error: oneLineText(e.Error)}
		if e.Success {
			if c := directConn(h.Network(), remote); c != nil {
				r.DirectAddr = c.RemoteMultiaddr()
				r.Transport = transportOf(c.RemoteMultiaddr())
			}
		}
		s.mu.Lock()
		if p, ok := s.punch.pending[remote]; ok {
			r.RemoteAddrs, r.RTT = p.addrs, p.rtt
			delete(s.punch.pending, remote)
		}
		s.punch.attempts++
		if e.Success {
			s.punch.successes++
		}
		s.record(remote, r)
		s.mu.Unlock()
		if e.Success {
			s.log.Info("hole punch succeeded", "peer", remote, "direct_addr", r.DirectAddr, "elapsed", e.EllapsedTime)
		} else {
			s.log.Info("hole punch failed", "peer", remote, "remote_addrs", r.RemoteAddrs, "elapsed", e.EllapsedTime, "err", e.Error)
		}
		s.publish(EventHolePunchFinished, r)
	case *holepunch.DirectDialEvt:
		r := HolePunchResult{Time: at, PeerID: remote, Kind: KindDirectDial, Success: e.Success,
			Elapsed: e.EllapsedTime, Error: oneLineText(e.Error)}
		if e.Success {
			if c := directConn(h.Network(), remote); c != nil {
				r.DirectAddr = c.RemoteMultiaddr()
				r.Transport = transportOf(c.RemoteMultiaddr())
			}
		}
		s.mu.Lock()
		s.punch.directDials++
		if e.Success {
			s.punch.directOK++
		}
		s.record(remote, r)
		s.mu.Unlock()
		s.log.Info("direct dial before hole punching", "peer", remote, "success", e.Success, "elapsed", e.EllapsedTime, "err", e.Error)
		s.publish(EventHolePunchFinished, r)
	case *holepunch.ProtocolErrorEvt:
		r := HolePunchResult{Time: at, PeerID: remote, Kind: KindProtocolError, Error: oneLineText(e.Error)}
		s.mu.Lock()
		s.punch.protocolErrors++
		delete(s.punch.pending, remote)
		s.record(remote, r)
		s.mu.Unlock()
		s.log.Info("hole punch protocol error", "peer", remote, "err", e.Error)
		s.publish(EventHolePunchFinished, r)
	}
}

// record keeps r among the recent results; s.mu is held.
func (s *Service) record(p peer.ID, r HolePunchResult) {
	s.punch.recent = append(s.punch.recent, r)
	if len(s.punch.recent) > recentResults {
		s.punch.recent = slices.Delete(s.punch.recent, 0, len(s.punch.recent)-recentResults)
	}
	if s.punch.byPeer == nil {
		s.punch.byPeer = map[peer.ID]HolePunchResult{}
	}
	s.punch.byPeer[p] = r
}

// parseAddrs parses the multiaddrs go-libp2p traces as strings, skipping
// malformed ones.
func parseAddrs(ss []string) []ma.Multiaddr {
	out := make([]ma.Multiaddr, 0, len(ss))
	for _, s := range ss {
		if a, err := ma.NewMultiaddr(s); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// directConn returns the newest direct (not relayed) connection to p.
func directConn(n network.Network, p peer.ID) network.Conn {
	var best network.Conn
	for _, c := range n.ConnsToPeer(p) {
		if isRelayed(c.RemoteMultiaddr()) {
			continue
		}
		if best == nil || c.Stat().Opened.After(best.Stat().Opened) {
			best = c
		}
	}
	return best
}

// connected notes relayed connections and their upgrade to direct ones.
// It runs synchronously in the swarm, so it only updates state and
// publishes.
func (s *Service) connected(n network.Network, c network.Conn) {
	p := c.RemotePeer()
	opened := c.Stat().Opened
	if opened.IsZero() {
		opened = time.Now()
	}
	if isRelayed(c.RemoteMultiaddr()) {
		if directConn(n, p) != nil {
			return
		}
		s.mu.Lock()
		if _, ok := s.relayedAt[p]; !ok {
			s.relayedAt[p] = opened
		}
		s.mu.Unlock()
		return
	}
	s.mu.Lock()
	since, ok := s.relayedAt[p]
	if !ok {
		s.mu.Unlock()
		return
	}
	delete(s.relayedAt, p)
	s.upgrades = append(s.upgrades, opened.Sub(since))
	if len(s.upgrades) > maxUpgrades {
		s.upgrades = slices.Delete(s.upgrades, 0, len(s.upgrades)-maxUpgrades)
	}
	ev := UpgradeEvent{PeerID: p, DirectAddr: c.RemoteMultiaddr(),
		Transport: transportOf(c.RemoteMultiaddr()), Direction: c.Stat().Direction,
		RelayedAt: since.UTC(), Elapsed: opened.Sub(since)}
	s.recentUpgrades = append(s.recentUpgrades, ev)
	if len(s.recentUpgrades) > recentResults {
		s.recentUpgrades = slices.Delete(s.recentUpgrades, 0, len(s.recentUpgrades)-recentResults)
	}
	s.mu.Unlock()
	s.log.Info("relayed connection upgraded to a direct one", "peer", p, "addr", ev.DirectAddr, "after", opened.Sub(since))
	s.publish(EventUpgraded, ev)
}

func (s *Service) disconnected(n network.Network, c network.Conn) {
	p := c.RemotePeer()
	for _, other := range n.ConnsToPeer(p) {
		if isRelayed(other.RemoteMultiaddr()) {
			return
		}
	}
	s.mu.Lock()
	delete(s.relayedAt, p)
	s.mu.Unlock()
}

// transportOf names the outermost transport of a multiaddr.
func transportOf(a ma.Multiaddr) string {
	name := ""
	for _, c := range a {
		switch p := c.Protocol().Name; p {
		case "tcp", "udp", "quic-v1", "quic", "ws", "wss", "webtransport", "webrtc-direct", "webrtc", "p2p-circuit":
			name = p
		}
	}
	return name
}
