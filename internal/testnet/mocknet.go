package testnet

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	ma "github.com/multiformats/go-multiaddr"
)

// Net is an in-memory network of libp2p hosts (go-libp2p's mocknet), for
// protocol logic at scale: no sockets, no handshakes, hundreds of hosts in
// one test. Hosts reach each other only over links: LinkAll or LinkPeers
// lets them dial, Connect links and connects two of them. The embedded
// Mocknet offers the rest (UnlinkPeers, DisconnectPeers, Hosts, ...).
type Net struct {
	mocknet.Mocknet
	tb testing.TB
}

// NewNet returns an empty network. It is closed, with every host on it, in
// tb.Cleanup: create it before whatever runs on its hosts, so that their
// cleanups (registered later, run earlier) stop them first.
func NewNet(tb testing.TB) *Net {
	tb.Helper()
	mn := mocknet.New()
	tb.Cleanup(func() { _ = mn.Close() })
	return &Net{Mocknet: mn, tb: tb}
}

// Mocknet returns n hosts with fresh Ed25519 identities on a new network,
// each linked and connected to every other.
func Mocknet(tb testing.TB, n int) []host.Host {
	tb.Helper()
	net := NewNet(tb)
	hosts := net.AddHosts(n)
	if err := net.LinkAll(); err != nil {
		tb.Fatalf("mocknet: link: %v", err)
	}
	if err := net.ConnectAllButSelf(); err != nil {
		tb.Fatalf("mocknet: connect: %v", err)
	}
	return hosts
}

// hostSeq numbers the hosts of every Net, so that each has its own address.
var hostSeq atomic.Uint32

// AddHost adds a host with identity sk (a fresh Ed25519 key when nil). Its
// address is unique and lies in the IPv6 discard prefix 100::/64: nothing
// outside the mocknet is ever dialled.
func (n *Net) AddHost(sk crypto.PrivKey) host.Host {
	n.tb.Helper()
	if sk == nil {
		sk = NewKey(n.tb)
	}
	seq := hostSeq.Add(1)
	addr := ma.StringCast(fmt.Sprintf("/ip6/100::%x:%x/tcp/4242", seq>>16, seq&0xffff))
	h, err := n.AddPeer(sk, addr)
	if err != nil {
		n.tb.Fatalf("mocknet: add host: %v", err)
	}
	return h
}

// AddHosts adds count hosts with fresh Ed25519 identities.
func (n *Net) AddHosts(count int) []host.Host {
	n.tb.Helper()
	hosts := make([]host.Host, count)
	for i := range hosts {
		hosts[i] = n.AddHost(nil)
	}
	return hosts
}

// Connect links a and b, unless they are linked already, and connects them.
func (n *Net) Connect(a, b host.Host) {
	n.tb.Helper()
	if len(n.LinksBetweenPeers(a.ID(), b.ID())) == 0 {
		if _, err := n.LinkPeers(a.ID(), b.ID()); err != nil {
			n.tb.Fatalf("mocknet: link %s and %s: %v", a.ID(), b.ID(), err)
		}
	}
	if _, err := n.ConnectPeers(a.ID(), b.ID()); err != nil {
		n.tb.Fatalf("mocknet: connect %s to %s: %v", a.ID(), b.ID(), err)
	}
}
