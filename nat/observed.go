package nat

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// observationTTL is how long an observed address counts without being
// observed again.
const observationTTL = 30 * time.Minute

// maxObservers bounds the observers kept per local socket.
const maxObservers = 32

// NAT mapping behaviours (RFC 4787) the doctor can report.
const (
	MappingNone                = "none"                 // an observed address is one of this host's own
	MappingEndpointIndependent = "endpoint-independent" // one external port per socket: hole punching works
	MappingEndpointDependent   = "endpoint-dependent"   // a new external port per destination ("symmetric")
	MappingUnknown             = "unknown"
)

// observation is what one peer told us (identify) about the address our
// connection to it came from.
type observation struct {
	Transport  string // "tcp" or "udp"
	LocalPort  int
	ObservedIP string
	ObsPort    int
	Observer   string // the observer's IP
	Peer       peer.ID
	At         time.Time
}

// observations keeps the latest observation per local socket and observer IP.
type observations struct {
	m map[string]map[string]observation // transport/localport -> observer IP -> observation
}

func newObservations() *observations {
	return &observations{m: map[string]map[string]observation{}}
}

func (o *observations) add(ob observation) {
	key := ob.Transport + "/" + strconv.Itoa(ob.LocalPort)
	byObs := o.m[key]
	if byObs == nil {
		byObs = map[string]observation{}
		o.m[key] = byObs
	}
	if _, ok := byObs[ob.Observer]; !ok && len(byObs) >= maxObservers {
		return
	}
	byObs[ob.Observer] = ob
}

// list returns the observations younger than observationTTL, dropping the
// others.
func (o *observations) list(now time.Time) []observation {
	var out []observation
	for key, byObs := range o.m {
		for ip, ob := range byObs {
			if now.Sub(ob.At) > observationTTL {
				delete(byObs, ip)
				continue
			}
			out = append(out, ob)
		}
		if len(byObs) == 0 {
			delete(o.m, key)
		}
	}
	slices.SortFunc(out, func(a, b observation) int {
		return strings.Compare(a.Transport+strconv.Itoa(a.LocalPort)+a.Observer, b.Transport+strconv.Itoa(b.LocalPort)+b.Observer)
	})
	return out
}

// identified records the address a peer observed for us. Observations over
// relayed connections describe the relay, not us, and are skipped.
func (s *Service) identified(e event.EvtPeerIdentificationCompleted) {
	if e.ObservedAddr == nil || e.Conn == nil || isRelayed(e.Conn.RemoteMultiaddr()) || isRelayed(e.ObservedAddr) {
		return
	}
	ob, ok := observationOf(e.Conn.LocalMultiaddr(), e.Conn.RemoteMultiaddr(), e.ObservedAddr)
	if !ok {
		return
	}
	ob.Peer, ob.At = e.Peer, time.Now()
	s.mu.Lock()
	s.observed.add(ob)
	s.mu.Unlock()
}

// observationOf builds an observation from a connection's local and remote
// addresses and the address the remote observed.
func observationOf(local, remote, observed ma.Multiaddr) (observation, bool) {
	lt, lport, ok := thinWaist(local)
	if !ok {
		return observation{}, false
	}
	ot, oport, ok := thinWaist(observed)
	if !ok || ot != lt {
		return observation{}, false
	}
	oip, err := manet.ToIP(observed)
	if err != nil || oip.IsLoopback() {
		return observation{}, false
	}
	rip, err := manet.ToIP(remote)
	if err != nil {
		return observation{}, false
	}
	return observation{Transport: lt, LocalPort: lport, ObservedIP: oip.String(), ObsPort: oport, Observer: rip.String()}, true
}

// thinWaist returns the transport ("tcp" or "udp") and port of an IP address.
func thinWaist(a ma.Multiaddr) (string, int, bool) {
	if len(a) < 2 {
		return "", 0, false
	}
	if c := a[0].Code(); c != ma.P_IP4 && c != ma.P_IP6 {
		return "", 0, false
	}
	var name string
	switch a[1].Code() {
	case ma.P_TCP:
		name = "tcp"
	case ma.P_UDP:
		name = "udp"
	default:
		return "", 0, false
	}
	port, err := strconv.Atoi(a[1].Value())
	if err != nil {
		return "", 0, false
	}
	return name, port, true
}

// inferMapping infers the NAT's mapping behaviour per transport from what
// peers observed. Two observers with different IPs that saw the same local
// socket from different external ports prove an endpoint-dependent
// ("symmetric") mapping; the same port proves an endpoint-independent one;
// an observed IP that is one of ownIPs means no NAT. With one observer only
// the port tells something: a NAT that keeps the local port is usually
// endpoint-independent, one that changes it often is not.
func inferMapping(obs []observation, ownIPs []net.IP) []NATMapping {
	var out []NATMapping
	for _, tr := range []string{"tcp", "udp"} {
		byPort := map[int][]observation{}
		observers := map[string]bool{}
		for _, o := range obs {
			if o.Transport == tr {
				byPort[o.LocalPort] = append(byPort[o.LocalPort], o)
				observers[o.Observer] = true
			}
		}
		if len(byPort) == 0 {
			continue
		}
		m := NATMapping{Transport: tr, Behaviour: MappingUnknown, PortPreserving: "unknown", Observers: len(observers)}
		var same, differ []string
		preserved, changed := 0, 0
		for port, list := range byPort {
			ext := map[string]bool{}
			for _, o := range list {
				ext[net.JoinHostPort(o.ObservedIP, strconv.Itoa(o.ObsPort))] = true
				if o.ObsPort == port {
					preserved++
				} else {
					changed++
				}
				if ip := net.ParseIP(o.ObservedIP); ip != nil && slices.ContainsFunc(ownIPs, ip.Equal) {
					m.Behaviour = MappingNone
				}
			}
			if len(list) < 2 {
				continue
			}
			exts := make([]string, 0, len(ext))
			for e := range ext {
				exts = append(exts, e)
			}
			slices.Sort(exts)
			desc := fmt.Sprintf("local %s/%d seen by %d peers as %s", tr, port, len(list), strings.Join(exts, ", "))
			if len(ext) > 1 {
				differ = append(differ, desc)
			} else {
				same = append(same, desc)
			}
		}
		switch {
		case preserved > 0 && changed == 0:
			m.PortPreserving = "yes"
		case changed > 0 && preserved == 0:
			m.PortPreserving = "no"
		case preserved > 0:
			m.PortPreserving = "sometimes"
		}
		switch {
		case m.Behaviour == MappingNone:
			m.Basis = "peers see one of this host's own addresses: no NAT in between"
		case len(differ) > 0:
			m.Behaviour = MappingEndpointDependent
			m.Basis = strings.Join(differ, "; ")
		case len(same) > 0:
			m.Behaviour = MappingEndpointIndependent
			m.Basis = strings.Join(same, "; ")
		case m.PortPreserving == "no":
			m.Basis = "one observer only; the NAT changed the local port, as endpoint-dependent (symmetric) NATs do: connect to a second public peer to tell"
		default:
			m.Basis = "one observer only: connect to a second public peer with another IP to tell"
		}
		out = append(out, m)
	}
	return out
}

// ownIPs lists the host's interface addresses.
func ownIPs(n network.Network) []net.IP {
	addrs, err := n.InterfaceListenAddresses()
	if err != nil {
		return nil
	}
	var ips []net.IP
	for _, a := range addrs {
		if ip, err := manet.ToIP(a); err == nil {
			ips = append(ips, ip)
		}
	}
	return ips
}
