package nat

import (
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// A node that AutoNAT finds public behind a NAT that lets dial-backs in
// (full cone, a forwarded port) is reachable on the address peers observe,
// not on its own private one. go-libp2p advertises an observed address only
// once four peers with different IPs have seen it, and AutoRelay drops its
// reservations as soon as the node is public, so such a node used to
// advertise only its private address and be reachable by nobody (issue 19,
// case 2). While the node is public and advertises no public address of
// its own, addrsFactory adds the public addresses peers observed for its
// listening sockets: those AutoNAT's dial-back went to (AutoNAT v1 dials
// the observed IP and port).

// addrsFactory is the host's address factory (libp2p.AddrsFactory).
func (s *Service) addrsFactory(addrs []ma.Multiaddr) []ma.Multiaddr {
	if slices.ContainsFunc(addrs, isPublicDirect) {
		return addrs
	}
	s.mu.Lock()
	public := s.reach == network.ReachabilityPublic
	var obs []observation
	if public {
		obs = s.observed.list(time.Now())
	}
	s.mu.Unlock()
	if !public {
		return addrs
	}
	return append(addrs, observedPublicAddrs(addrs, obs)...)
}

// isPublicDirect reports whether a is a public IP address that is not a
// relay address (manet.IsPublicAddr counts loopback addresses as public).
func isPublicDirect(a ma.Multiaddr) bool {
	return !isRelayed(a) && !manet.IsIPLoopback(a) && manet.IsPublicAddr(a)
}

// observedPublicAddrs returns, for every direct address in addrs, the same
// address with the public IP and port a peer observed for its local socket
// (same transport and local port), each once.
func observedPublicAddrs(addrs []ma.Multiaddr, obs []observation) []ma.Multiaddr {
	var out []ma.Multiaddr
	for _, a := range addrs {
		if isRelayed(a) {
			continue
		}
		tr, port, ok := thinWaist(a)
		if !ok {
			continue
		}
		rest := a[2:]
		for _, o := range obs {
			if o.Transport != tr || o.LocalPort != port {
				continue
			}
			head, err := ma.NewMultiaddr("/" + ipProto(o.ObservedIP) + "/" + o.ObservedIP + "/" + tr + "/" + strconv.Itoa(o.ObsPort))
			if err != nil || !isPublicDirect(head) {
				continue
			}
			full := append(head, rest...)
			if !slices.ContainsFunc(out, full.Equal) {
				out = append(out, full)
			}
		}
	}
	return out
}

// Dials that cannot work (issue 19, case 4). While a peer is reached only
// through a relay, it is behind another NAT: its private (LAN) and loopback
// addresses lead elsewhere, unless it shares one of this host's networks.
// DCUtR's dials (the direct dial and each hole punch round) dial every
// address the peerstore holds for the peer, so without this filter a node
// dialled the other side's LAN address when some lookup had put it there.

// ownNetsTTL is how long the host's interface networks are cached.
const ownNetsTTL = 30 * time.Second

// AllowAddrDial reports whether dialling p at a can work: always for
// public and relay addresses and for peers with a direct connection (or
// none); for a peer reached only through a relay, a loopback address never
// and a private one only on one of this host's own networks. The node's
// connection gater consults it for every address it dials.
func (s *Service) AllowAddrDial(p peer.ID, a ma.Multiaddr) bool {
	if isRelayed(a) {
		return true
	}
	ip, err := manet.ToIP(a)
	if err != nil {
		return true // a DNS name: resolved and checked again
	}
	if !ip.IsLoopback() && manet.IsPublicAddr(a) {
		return true
	}
	s.mu.Lock()
	_, relayedOnly := s.relayedAt[p]
	s.mu.Unlock()
	if !relayedOnly {
		return true
	}
	if ip.IsLoopback() {
		return false
	}
	return slices.ContainsFunc(s.ownNets(), func(n *net.IPNet) bool { return n.Contains(ip) })
}

// ownNets returns the networks of the host's interfaces, cached.
func (s *Service) ownNets() []*net.IPNet {
	s.netsMu.Lock()
	defer s.netsMu.Unlock()
	if time.Since(s.netsAt) < ownNetsTTL {
		return s.nets
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return s.nets
	}
	// A new slice: callers range over the one returned before, unlocked.
	nets := make([]*net.IPNet, 0, len(addrs))
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			nets = append(nets, n)
		}
	}
	s.nets = nets
	s.netsAt = time.Now()
	return s.nets
}

// ownNetworks caches the host's interface networks (Service.ownNets).
type ownNetworks struct {
	netsMu sync.Mutex
	nets   []*net.IPNet
	netsAt time.Time
}
