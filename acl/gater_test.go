package acl_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/proto"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/plexus-p2p/plexus/acl"
	"github.com/plexus-p2p/plexus/events"
	"github.com/plexus-p2p/plexus/internal/testnet"
)

// gated is a real loopback host whose connections pass through an access list.
type gated struct {
	h  host.Host
	l  *acl.List
	ev *events.Recorder
}

func newGated(t *testing.T, opts ...libp2p.Option) *gated {
	t.Helper()
	sk := testnet.NewKey(t)
	self, _ := peer.IDFromPrivateKey(sk)
	ev := &events.Recorder{}
	l := newList(t, newStore(), acl.Options{Self: self, Events: ev})
	h := testnet.Host(t, append([]libp2p.Option{libp2p.Identity(sk), libp2p.ConnectionGater(l)}, opts...)...)
	l.Attach(h.Network())
	return &gated{h: h, l: l, ev: ev}
}

func info(h host.Host) peer.AddrInfo { return peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()} }

func dial(t *testing.T, from host.Host, to peer.AddrInfo) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	return from.Connect(ctx, to)
}

// refusedBy waits until g has counted an inbound refusal and published its
// acl.refused event naming p, and checks that the two hosts end up
// disconnected.
func refusedBy(t *testing.T, g *gated, other host.Host, inbound uint64) {
	t.Helper()
	testnet.Eventually(t, 10*time.Second, func() bool { return g.l.Snapshot().RefusedInbound >= inbound }, "no inbound refusal counted")
	testnet.Eventually(t, 10*time.Second, func() bool {
		return len(other.Network().ConnsToPeer(g.h.ID())) == 0 && len(g.h.Network().ConnsToPeer(other.ID())) == 0
	}, "the refused peer keeps a connection")
	if !slices.ContainsFunc(g.ev.Data("acl.refused"), func(d any) bool {
		r, ok := d.(acl.Refusal)
		return ok && r.Peer == other.ID() && r.Direction == network.DirInbound && r.Addr != "" && r.Reason != ""
	}) {
		t.Fatalf("no acl.refused event for %s: %+v", other.ID(), g.ev.All())
	}
}

func TestDenyBothDirections(t *testing.T) {
	a, b := newGated(t), newGated(t)
	if _, err := a.l.Deny(t.Context(), b.h.ID()); err != nil {
		t.Fatal(err)
	}
	// a dials b: refused before dialling.
	err := dial(t, a.h, info(b.h))
	if !errors.Is(err, swarm.ErrGaterDisallowedConnection) {
		t.Fatalf("a dials denied b: %v", err)
	}
	if a.l.Snapshot().RefusedOutbound == 0 {
		t.Fatal("outbound refusal not counted")
	}
	// b dials a: a refuses after the handshake; b never keeps a connection.
	dial(t, b.h, info(a.h)) // b's TLS handshake may finish before a closes: no error to assert here
	refusedBy(t, a, b.h, 1)
}

func TestDenyDisconnectsAtOnce(t *testing.T) {
	a, b := newGated(t), newGated(t)
	if err := dial(t, a.h, info(b.h)); err != nil {
		t.Fatal(err)
	}
	ch, err := a.l.Deny(t.Context(), b.h.ID())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ch.Disconnected, []peer.ID{b.h.ID()}) {
		t.Fatalf("disconnected %v, want [%s]", ch.Disconnected, b.h.ID())
	}
	// ClosePeer has returned: a has no connection left, right now.
	if n := len(a.h.Network().ConnsToPeer(b.h.ID())); n != 0 {
		t.Fatalf("a still has %d connection(s) to the denied peer", n)
	}
	// Lifting the deny lets them connect again.
	if _, err := a.l.Remove(t.Context(), b.h.ID()); err != nil {
		t.Fatal(err)
	}
	if err := dial(t, a.h, info(b.h)); err != nil {
		t.Fatalf("after rm: %v", err)
	}
}

func TestAllowlistBothDirections(t *testing.T) {
	a, friend, stranger := newGated(t), newGated(t), newGated(t)
	for _, o := range []*gated{friend, stranger} {
		if err := dial(t, a.h, info(o.h)); err != nil {
			t.Fatal(err)
		}
	}
	// Activating the allowlist closes the connection of the stranger only.
	ch, err := a.l.Allow(t.Context(), friend.h.ID())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ch.Disconnected, []peer.ID{stranger.h.ID()}) {
		t.Fatalf("disconnected %v, want only the stranger %s", ch.Disconnected, stranger.h.ID())
	}
	if a.h.Network().Connectedness(friend.h.ID()) != network.Connected {
		t.Fatal("the allowed peer was disconnected")
	}
	// Outbound and inbound, the stranger is refused (once it has noticed
	// the closed connection, it dials again).
	testnet.Eventually(t, 10*time.Second, func() bool {
		return stranger.h.Network().Connectedness(a.h.ID()) != network.Connected
	}, "the stranger still sees its closed connection")
	if err := dial(t, a.h, info(stranger.h)); !errors.Is(err, swarm.ErrGaterDisallowedConnection) {
		t.Fatalf("a dials the stranger: %v", err)
	}
	dial(t, stranger.h, info(a.h))
	refusedBy(t, a, stranger.h, 1)
	// The friend reconnects from its side.
	a.h.Network().ClosePeer(friend.h.ID())
	testnet.Eventually(t, 10*time.Second, func() bool {
		return friend.h.Network().Connectedness(a.h.ID()) != network.Connected
	}, "the friend still sees its closed connection")
	if err := dial(t, friend.h, info(a.h)); err != nil {
		t.Fatalf("the allowed peer dials in: %v", err)
	}
	if a.h.Network().Connectedness(friend.h.ID()) != network.Connected {
		t.Fatal("the allowed peer's inbound connection was closed")
	}
}

// Relayed connections pass through the same checks: a peer reached only
// through a relay (/p2p-circuit) is refused in both directions, and the
// connection to the relay itself is unaffected.
func TestRelayedConnections(t *testing.T) {
	relay := testnet.Host(t, libp2p.EnableRelayService(), libp2p.ForceReachabilityPublic())
	testnet.Eventually(t, 10*time.Second, func() bool {
		return slices.Contains(relay.Mux().Protocols(), proto.ProtoIDv2Hop)
	}, "the relay service starts")
	// b listens nowhere: it is reachable only through the relay.
	a, b := newGated(t), newGated(t, libp2p.NoListenAddrs, libp2p.EnableRelay())
	if err := dial(t, b.h, info(relay)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := client.Reserve(ctx, b.h, info(relay)); err != nil {
		t.Fatalf("reserve a slot on the relay: %v", err)
	}
	circuit := ma.StringCast(relay.Addrs()[0].String() + "/p2p/" + relay.ID().String() + "/p2p-circuit")
	viaRelay := peer.AddrInfo{ID: b.h.ID(), Addrs: []ma.Multiaddr{circuit}}

	// Control: without a list entry the relayed connection works.
	if err := dial(t, a.h, viaRelay); err != nil {
		t.Fatalf("relayed dial: %v", err)
	}
	conns := a.h.Network().ConnsToPeer(b.h.ID())
	if len(conns) != 1 || !strings.Contains(conns[0].RemoteMultiaddr().String(), "/p2p-circuit") {
		t.Fatalf("connections to b: %v, want one relayed", conns)
	}

	// a denies b: the relayed connection closes and a cannot dial it again.
	ch, err := a.l.Deny(t.Context(), b.h.ID())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(ch.Disconnected, b.h.ID()) || len(a.h.Network().ConnsToPeer(b.h.ID())) != 0 {
		t.Fatalf("deny left the relayed connection open (disconnected %v)", ch.Disconnected)
	}
	if err := dial(t, a.h, viaRelay); !errors.Is(err, swarm.ErrGaterDisallowedConnection) {
		t.Fatalf("relayed dial of a denied peer: %v", err)
	}
	if a.h.Network().Connectedness(relay.ID()) != network.Connected {
		t.Fatal("denying b closed the connection to the relay")
	}

	// b denies a: a's relayed connection is refused by b after the
	// handshake carried over the relay.
	a.l.Remove(t.Context(), b.h.ID())
	if _, err := b.l.Deny(t.Context(), a.h.ID()); err != nil {
		t.Fatal(err)
	}
	dial(t, a.h, viaRelay)
	refusedBy(t, b, a.h, 1)
	r := b.ev.Data("acl.refused")[0].(acl.Refusal)
	if !strings.Contains(r.Addr, "/p2p-circuit") {
		t.Fatalf("refusal %+v: want the relayed address", r)
	}
}
