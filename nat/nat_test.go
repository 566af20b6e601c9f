package nat_test

import (
	"context"
	"fmt"
	"github.com/plexus-p2p/plexus/events"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/nat"
)

// go-libp2p relays, punches and keeps relay addresses only for public
// addresses; these tests run on loopback, so loopback counts as public here.
// The run fails if a test leaves goroutines behind.
func TestMain(m *testing.M) {
	if err := nat.TreatAsPublic("127.0.0.0/8"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testnet.VerifyNoLeaks(m)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// has reports whether r recorded an event of type typ whose data matches
// (any data when match is nil).
func has(r *events.Recorder, typ string, match func(any) bool) bool {
	return slices.ContainsFunc(r.Data(typ), func(d any) bool { return match == nil || match(d) })
}

// node is a loopback host with the NAT options and a started service.
type node struct {
	h   host.Host
	svc *nat.Service
	ev  *events.Recorder
}

func newNode(t *testing.T, c nat.Config) *node {
	t.Helper()
	ev := &events.Recorder{}
	svc, opts, err := nat.New(c, nat.Options{Logger: quiet, Events: ev})
	if err != nil {
		t.Fatal(err)
	}
	h, err := libp2p.New(append(opts, libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableMetrics())...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	if err := svc.Start(h, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return &node{h: h, svc: svc, ev: ev}
}

func addrInfo(h host.Host) peer.AddrInfo { return peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()} }

func TestRelayReservationUpgradeAndLoss(t *testing.T) {
	res := relayv2.DefaultResources()
	res.Limit = &relayv2.RelayLimit{Duration: time.Minute, Data: 1 << 20}
	relay := newNode(t, nat.Config{Reachability: nat.ReachabilityPublic, RelayService: true, RelayResources: res})
	testnet.Eventually(t, 5*time.Second, func() bool { return relay.svc.Status().RelayService.Running }, "relay service starts")

	a := newNode(t, nat.Config{Reachability: nat.ReachabilityPrivate, HolePunching: true, AutoRelay: true,
		StaticRelays: []peer.AddrInfo{addrInfo(relay.h)}, RelayCount: 1})
	var st nat.Status
	// The status is updated under the service's lock, its event published
	// just after: wait for both.
	testnet.Eventually(t, 10*time.Second, func() bool {
		st = a.svc.Status()
		return len(st.RelayClient.Reservations) == 1 && !st.RelayClient.Reservations[0].Expires.IsZero() &&
			has(a.ev, "nat.relay.reserved", nil)
	}, "a reservation with the relay, with its expiry and a nat.relay.reserved event")
	r := st.RelayClient.Reservations[0]
	if r.Relay != relay.h.ID() || len(r.Addrs) == 0 || !strings.HasSuffix(r.Addrs[0].String(), "/p2p-circuit") {
		t.Fatalf("reservation %+v: want one with %s and its /p2p-circuit address", r, relay.h.ID())
	}
	if ttl := time.Until(r.Expires); ttl < 55*time.Minute || ttl > time.Hour {
		t.Fatalf("reservation expires in %s, want about the relay's 1h TTL", ttl)
	}
	if r.LimitDuration != time.Minute || r.LimitDataBytes != 1<<20 {
		t.Fatalf("reservation limits %s / %d bytes, want the relay's 1m / 1 MiB", r.LimitDuration, r.LimitDataBytes)
	}
	if st.Reachability != network.ReachabilityPrivate || st.ReachabilitySource != nat.SourceConfig {
		t.Fatalf("reachability %s from %s, want private from config", st.Reachability, st.ReachabilitySource)
	}
	if !has(a.ev, "nat.relay.reserved", nil) || !has(a.ev, "nat.reachability", nil) {
		t.Fatalf("missing nat.relay.reserved or nat.reachability events: %+v", a.ev.All())
	}
	if !slices.ContainsFunc(st.Addrs, func(as nat.AddrStatus) bool { return as.Reachability == nat.AddrRelayed && as.Advertised }) {
		t.Fatalf("no advertised relayed address in %+v", st.Addrs)
	}

	// A peer that reaches a through the relay gets a direct connection:
	// a dials the peer's (here: loopback) address before punching.
	b := newNode(t, nat.Config{HolePunching: true})
	// DCUtR handles only relayed connections that arrive once both sides
	// know a public address of their own.
	testnet.Eventually(t, 10*time.Second, func() bool {
		return a.svc.Status().HolePunch.Ready && b.svc.Status().HolePunch.Ready
	}, "hole punching ready on both sides")
	circuit := r.Addrs[0].Encapsulate(ma.StringCast("/p2p/" + a.h.ID().String()))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := b.h.Connect(ctx, peer.AddrInfo{ID: a.h.ID(), Addrs: []ma.Multiaddr{circuit}}); err != nil {
		t.Fatalf("connect through the relay: %v", err)
	}
	directDial := func(d any) bool {
		r, ok := d.(nat.HolePunchResult)
		return ok && r.Kind == nat.KindDirectDial && r.Success && r.DirectAddr != nil
	}
	testnet.Eventually(t, 10*time.Second, func() bool {
		st = a.svc.Status()
		return st.HolePunch.Upgrades == 1 && st.HolePunch.DirectDialSuccesses == 1 &&
			has(a.ev, "nat.connection.upgraded", nil) && has(a.ev, "nat.holepunch.finished", directDial)
	}, "the relayed connection is upgraded, with its events")
	up := st.HolePunch.RecentUpgrades[0]
	if up.PeerID != b.h.ID() || up.Transport != "tcp" || up.Elapsed <= 0 {
		t.Fatalf("upgrade %+v: want a tcp upgrade for %s", up, b.h.ID())
	}
	if n := a.h.Network().Connectedness(b.h.ID()); n != network.Connected {
		t.Fatalf("a and b are %s, want connected directly", n)
	}

	// Losing the relay ends the reservation.
	relay.h.Close()
	// The status drops the reservation under the service's lock; the event
	// is published just after: wait for both.
	testnet.Eventually(t, 10*time.Second, func() bool {
		return len(a.svc.Status().RelayClient.Reservations) == 0 &&
			has(a.ev, "nat.relay.lost", func(d any) bool { return d.(nat.RelayEvent).Relay == relay.h.ID() })
	}, "the reservation is dropped with a nat.relay.lost event: %+v", testnet.Lazy(func() string { return fmt.Sprintf("%+v", a.ev.All()) }))
	st = a.svc.Status()
	if !slices.ContainsFunc(st.Advice, func(ad nat.Advice) bool { return ad.Topic == "relay" && ad.Level == "warn" }) {
		t.Fatalf("no relay warning after losing the only relay: %+v", st.Advice)
	}
}

func TestServiceLifecycle(t *testing.T) {
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableMetrics())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	// A host built without the service's options still gets reachability
	// and advice.
	svc, _, err := nat.New(nat.Config{}, nat.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(h, nil); err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(h, nil); err == nil {
		t.Fatal("second Start succeeded")
	}
	st := svc.Status()
	if st.Reachability != network.ReachabilityUnknown || st.HolePunch.Enabled || len(st.Advice) == 0 {
		t.Fatalf("status of a plain host: %+v", st)
	}
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := svc.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := svc.Start(h, nil); err == nil {
		t.Fatal("Start after Close succeeded")
	}
}
