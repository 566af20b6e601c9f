package nat

import (
	"slices"
	"strconv"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
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
// relay address.
func isPublicDirect(a ma.Multiaddr) bool {
	return !isRelayed(a) && manet.IsPublicAddr(a)
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
			if err != nil || !manet.IsPublicAddr(head) {
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
