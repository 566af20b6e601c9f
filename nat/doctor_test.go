package nat_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/plexus-p2p/plexus/nat"
)

func TestInferMapping(t *testing.T) {
	type obs = nat.ObservationT
	o := nat.Observation
	cases := []struct {
		name      string
		obs       []obs
		own       []net.IP
		behaviour string
		preserve  string
	}{
		{"two observers, same port", []obs{o("tcp", 4001, "10.100.0.101", 4001, "10.100.0.11"), o("tcp", 4001, "10.100.0.101", 4001, "10.100.0.12")}, nil,
			nat.MappingEndpointIndependent, "yes"},
		{"two observers, different ports", []obs{o("udp", 4001, "10.100.0.101", 31000, "10.100.0.11"), o("udp", 4001, "10.100.0.101", 52000, "10.100.0.12")}, nil,
			nat.MappingEndpointDependent, "no"},
		{"one observer, port kept", []obs{o("tcp", 4001, "10.100.0.101", 4001, "10.100.0.11")}, nil, nat.MappingUnknown, "yes"},
		{"one observer, port changed", []obs{o("tcp", 4001, "10.100.0.101", 61000, "10.100.0.11")}, nil, nat.MappingUnknown, "no"},
		{"own address", []obs{o("tcp", 4001, "10.100.0.11", 4001, "10.100.0.12")}, []net.IP{net.ParseIP("10.100.0.11")}, nat.MappingNone, "yes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := nat.InferMapping(tc.obs, tc.own)
			if len(got) != 1 || got[0].Behaviour != tc.behaviour || got[0].PortPreserving != tc.preserve || got[0].Basis == "" {
				t.Fatalf("got %+v, want behaviour %s, port preserving %s", got, tc.behaviour, tc.preserve)
			}
		})
	}
}

func TestAdvice(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	relay, err := peer.Decode("12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA")
	if err != nil {
		t.Fatal(err)
	}
	failed := nat.HolePunchResult{Kind: nat.KindHolePunch, Error: "all dials failed", RemoteAddrs: []ma.Multiaddr{ma.StringCast("/ip4/10.100.0.102/tcp/4001")}}
	private, public, unknown := network.ReachabilityPrivate, network.ReachabilityPublic, network.ReachabilityUnknown
	cases := []struct {
		name  string
		st    nat.Status
		level string
		want  string
	}{
		{"private without relays", nat.Status{Reachability: private, RelayClient: nat.RelayClient{AutoRelay: true, Wanted: 2}},
			"warn", "no relay reservation: no public relay known"},
		{"private with auto relay off", nat.Status{Reachability: private, RelayClient: nat.RelayClient{Wanted: 2}},
			"warn", "auto_relay is off"},
		{"private with a reservation", nat.Status{Reachability: private, RelayClient: nat.RelayClient{AutoRelay: true, Wanted: 1, KnownRelays: 1,
			Reservations: []nat.Reservation{{Relay: relay, Expires: exp}}}}, "ok", "relay reservation with " + relay.String()},
		{"public", nat.Status{Reachability: public, ReachabilitySource: nat.SourceAutoNAT, Addrs: []nat.AddrStatus{
			{Addr: ma.StringCast("/ip4/93.184.216.34/tcp/4001"), Advertised: true, Reachability: nat.AddrPublic}}}, "ok", "publicly reachable"},
		// Issue 19, case 2: the dial-back got through a full-cone NAT, but
		// the node advertises only its private address.
		{"public with nothing dialable", nat.Status{Reachability: public, ReachabilitySource: nat.SourceAutoNAT, Addrs: []nat.AddrStatus{
			{Addr: ma.StringCast("/ip4/192.168.1.2/tcp/4001"), Advertised: true, Reachability: nat.AddrPrivate},
			{Addr: ma.StringCast("/ip4/127.0.0.1/tcp/4001"), Advertised: true, Reachability: nat.AddrPublic},
			{Addr: ma.StringCast("/ip4/93.184.216.34/tcp/4001"), Reachability: nat.AddrPublic}}},
			"warn", "advertises no public address and holds no relay reservation: other nodes cannot dial it"},
		{"unknown and alone", nat.Status{Reachability: unknown}, "warn", "AutoNAT needs connected peers"},
		{"symmetric NAT", nat.Status{Reachability: private, NATMapping: []nat.NATMapping{{Transport: "udp", Behaviour: nat.MappingEndpointDependent}}},
			"warn", "endpoint-dependent (symmetric)"},
		{"every punch failed", nat.Status{Reachability: private, HolePunch: nat.HolePunchStatus{Enabled: true, Ready: true, Attempts: 3,
			Recent: []nat.HolePunchResult{failed}}}, "warn", "every hole punch failed (3 attempt(s)); last error: all dials failed"},
		{"hole punching off", nat.Status{Reachability: private}, "warn", "hole punching is off"},
		{"relay service waiting", nat.Status{Reachability: unknown, RelayService: nat.RelayService{Enabled: true}},
			"info", "runs only once this node is known to be publicly reachable"},
		{"private network", nat.Status{Reachability: public, Private: nat.Private{Enabled: true, Fingerprint: "5c1abf5726166b24",
			DisabledTransports: []string{"quic-v1", "webtransport"}}},
			"ok", "private network (swarm key 5c1abf5726166b24): only nodes with the same swarm.key connect, bootstrap peers and relays included; go-libp2p private networks run over TCP and WebSocket only (turned off: quic-v1, webtransport)"},
		{"allowlist", nat.Status{Reachability: public, Private: nat.Private{AllowlistActive: true, Allowed: 2, Denied: 1, RefusedInbound: 4}},
			"info", "allowlist active: only its 2 peer(s), the bootstrap peers and static relays connect; 1 peer(s) denied; refused 4 inbound and 0 outbound"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var all []string
			for _, a := range nat.Advise(tc.st) {
				all = append(all, a.Level+": "+a.Message)
				if a.Level == tc.level && strings.Contains(a.Message, tc.want) {
					return
				}
			}
			t.Fatalf("no %s advice containing %q in:\n%s", tc.level, tc.want, strings.Join(all, "\n"))
		})
	}
}

// A public node without access lists gets no private network advice.
func TestNoPrivateAdviceForAPublicNode(t *testing.T) {
	for _, a := range nat.Advise(nat.Status{Reachability: network.ReachabilityPublic}) {
		if a.Topic == nat.TopicPrivate || a.Topic == nat.TopicAccess {
			t.Fatalf("advice %+v for a public node without lists", a)
		}
	}
}

func TestWhyRelayedExplainsSymmetricNAT(t *testing.T) {
	st := nat.Status{Reachability: network.ReachabilityPrivate, HolePunch: nat.HolePunchStatus{Enabled: true, Ready: true, Attempts: 1},
		NATMapping: []nat.NATMapping{{Transport: "tcp", Behaviour: nat.MappingEndpointIndependent}},
		Connections: nat.Connections{RelayedPeers: 1, RelayedOnly: []nat.RelayedPeer{{PeerID: "p",
			LastHolePunch: &nat.HolePunchResult{Kind: nat.KindHolePunch, Error: "timeout"}}}}}
	for _, a := range nat.Advise(st) {
		if strings.Contains(a.Message, "reached only through a relay") {
			return
		}
	}
	t.Fatalf("no advice about the relayed peer: %+v", nat.Advise(st))
}

func TestWhyRelayedNamesTheDialErrors(t *testing.T) {
	err := "failed to dial: failed to dial 12D3KooWX: all dials failed; * [/ip4/10.100.0.102/tcp/17866] dial tcp4 0.0.0.0:4001->10.100.0.102:17866: i/o timeout"
	st := nat.Status{Reachability: network.ReachabilityPrivate, HolePunch: nat.HolePunchStatus{Enabled: true, Ready: true, Attempts: 1,
		Recent: []nat.HolePunchResult{{Kind: nat.KindHolePunch, Error: err}}}}
	for _, a := range nat.Advise(st) {
		if strings.Contains(a.Message, "last error: /ip4/10.100.0.102/tcp/17866: i/o timeout") {
			return
		}
	}
	t.Fatalf("advice does not name the failed address and reason: %+v", nat.Advise(st))
}

func TestTreatAsPublic(t *testing.T) {
	if err := nat.TreatAsPublic("10.100.0.0/24"); err != nil {
		t.Fatal(err)
	}
	for addr, public := range map[string]bool{
		"/ip4/10.100.0.7/tcp/1":   true,
		"/ip4/10.100.1.7/tcp/1":   false,
		"/ip4/10.99.255.1/tcp/1":  false,
		"/ip4/10.0.0.1/tcp/1":     false,
		"/ip4/10.255.0.1/tcp/1":   false,
		"/ip4/192.168.1.2/tcp/1":  false,
		"/ip4/8.8.8.8/tcp/1":      true,
		"/ip4/100.64.0.1/udp/1":   false,
		"/ip4/172.16.5.4/udp/1":   false,
		"/ip4/169.254.0.1/tcp/1":  false,
		"/ip4/10.100.0.255/tcp/1": true,
	} {
		if got := manet.IsPublicAddr(ma.StringCast(addr)); got != public {
			t.Errorf("IsPublicAddr(%s) = %v, want %v", addr, got, public)
		}
	}
	if err := nat.TreatAsPublic("not a range"); err == nil {
		t.Fatal("TreatAsPublic accepted a malformed range")
	}
}

// Issue 19, case 2: a public node behind a NAT advertises the public
// address peers observed for its listening socket, with the rest of the
// listen address (QUIC), and nothing for other sockets or private
// observations.
func TestObservedPublicAddrs(t *testing.T) {
	o := nat.Observation
	addrs := []ma.Multiaddr{ma.StringCast("/ip4/192.168.1.2/tcp/4001"), ma.StringCast("/ip4/192.168.1.2/udp/4001/quic-v1"),
		ma.StringCast("/ip4/192.168.1.2/tcp/5000")}
	obs := []nat.ObservationT{o("tcp", 4001, "93.184.216.34", 4001, "198.51.100.1"), o("tcp", 4001, "93.184.216.34", 4001, "198.51.100.2"),
		o("udp", 4001, "93.184.216.34", 31000, "198.51.100.1"), o("tcp", 6000, "93.184.216.34", 6000, "198.51.100.1"),
		o("tcp", 5000, "10.0.0.1", 5000, "10.0.0.9")}
	var got []string
	for _, a := range nat.ObservedPublicAddrs(addrs, obs) {
		got = append(got, a.String())
	}
	want := []string{"/ip4/93.184.216.34/tcp/4001", "/ip4/93.184.216.34/udp/31000/quic-v1"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("observed public addresses %v, want %v", got, want)
	}
}

// Issue 19, case 4: no dials to the loopback or LAN address of a peer
// reached only through a relay (it is behind another NAT), unless the
// address is on one of this host's networks; other peers and public or
// relay addresses are not affected.
func TestAllowAddrDial(t *testing.T) {
	s, _, err := nat.New(nat.Config{}, nat.Options{})
	if err != nil {
		t.Fatal(err)
	}
	relayed, err := peer.Decode("12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA")
	if err != nil {
		t.Fatal(err)
	}
	other, err := peer.Decode("12D3KooWKBiUc3KWqHx8hAUTuuoKgj7FAbupLLf9wodaTaqyFCPL")
	if err != nil {
		t.Fatal(err)
	}
	nat.MarkRelayedOnly(s, relayed)
	// A private address on none of this host's networks.
	foreign := "/ip4/192.168.213.7/tcp/4001"
	var own string
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		if n.Contains(net.ParseIP("192.168.213.7")) {
			t.Skip("this host is on 192.168.213.0/24")
		}
		if ip := n.IP.To4(); ip != nil && !ip.IsLoopback() && manet.IsPrivateAddr(ma.StringCast("/ip4/"+ip.String())) && own == "" {
			own = "/ip4/" + ip.String() + "/tcp/4001"
		}
	}
	cases := []struct {
		p    peer.ID
		addr string
		want bool
	}{
		{relayed, "/ip4/127.0.0.1/tcp/4001", false},
		{relayed, foreign, false},
		{relayed, "/ip4/93.184.216.34/tcp/4001", true},
		{relayed, "/ip4/93.184.216.34/tcp/4001/p2p/12D3KooWKBiUc3KWqHx8hAUTuuoKgj7FAbupLLf9wodaTaqyFCPL/p2p-circuit", true},
		{relayed, "/dns4/example.com/tcp/4001", true},
		{other, "/ip4/127.0.0.1/tcp/4001", true},
		{other, foreign, true},
	}
	if own != "" {
		cases = append(cases, struct {
			p    peer.ID
			addr string
			want bool
		}{relayed, own, true})
	}
	for _, tc := range cases {
		if got := s.AllowAddrDial(tc.p, ma.StringCast(tc.addr)); got != tc.want {
			t.Errorf("AllowAddrDial(%s, %s) = %v, want %v", tc.p, tc.addr, got, tc.want)
		}
	}
}
