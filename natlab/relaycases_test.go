package natlab

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plexus-p2p/plexus/api/wire"
)

// The relay cases of issue 19 ("Relay cases that break today"). Each test
// builds the situation found in the lab and asserts what a user sees.

// TestStaticRelayOnly (case 1): a node behind a NAT configured with only
// nat.static_relays (no bootstrap peer) and automatic reachability dials its
// static relay at start, learns from it that it is private (the relay is its
// AutoNAT peer) and reserves a slot with it, so that others reach it.
func TestStaticRelayOnly(t *testing.T) {
	tl := newLab(t)
	relay := tl.relay(tl.public("relay"), "tcp")
	a := tl.start(tl.private("a", Cone), NodeConfig{Transports: []string{"tcp"}, Reachability: "auto",
		StaticRelays: []string{relay.Addr("tcp")}, RelayCount: 1})
	// AutoNAT v1 probes 15 s after start; a dial-back that cannot get
	// through the NAT fails after 15 s more; AutoRelay then reserves.
	waitFor(t, 75*time.Second, "a reservation with the static relay (no bootstrap peer, nat.reachability = auto)", func(ctx context.Context) (bool, error) {
		st, err := a.Status(ctx)
		if err != nil {
			return false, err
		}
		return st.Reachability == "private" && reservationWith(st, relay.ID), nil
	})
	// Another node reaches a through the relay.
	b := tl.start(tl.private("b", Cone), NodeConfig{Transports: []string{"tcp"}, RandomPort: true, Reachability: "private",
		Bootstrap: []string{relay.Addr("tcp")}})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := b.CLI(ctx, "ping", CircuitAddr(relay, "tcp", a.ID), "-n", "1"); err != nil {
		t.Fatalf("reach the node through its static relay: %v", err)
	}
}

// TestFullConePublic (case 2): behind a full-cone NAT, AutoNAT's dial-back
// gets through and the node becomes public. It must then advertise the
// public address it was observed on (go-libp2p advertises an observed
// address only once four peers saw it), so that a dialer that finds it
// through the network reaches it, and the doctor calls it reachable only
// when it advertises an address that others can dial.
func TestFullConePublic(t *testing.T) {
	tl := newLab(t)
	relay := tl.relay(tl.public("relay"), "tcp")
	a := tl.start(tl.private("a", FullCone), NodeConfig{Transports: []string{"tcp"}, Reachability: "auto",
		StaticRelays: []string{relay.Addr("tcp")}, Bootstrap: []string{relay.Addr("tcp")}, RelayCount: 1})
	waitFor(t, 75*time.Second, "AutoNAT finds the full-cone node public", func(ctx context.Context) (bool, error) {
		st, err := a.Status(ctx)
		return err == nil && st.Reachability == "public", err
	})
	// What the node advertises (plexus id) must include the router's
	// public address, or a relay address.
	public := "/ip4/" + a.Host.PublicIP + "/tcp/"
	var id wire.ID
	waitFor(t, 20*time.Second, "the public node advertises its public address "+public+"... or a relay address", func(ctx context.Context) (bool, error) {
		if err := a.api(ctx, "/v1/id", &id); err != nil {
			return false, err
		}
		return slices.ContainsFunc(id.Addrs, func(s string) bool {
			return strings.HasPrefix(s, public) || strings.Contains(s, "/p2p-circuit")
		}), nil
	})
	t.Logf("a advertises %v", id.Addrs)

	// A dialer that knows only a's peer ID finds it through the relay (a
	// DHT server that is connected to a) and reaches it.
	b := tl.start(tl.private("b", Cone), NodeConfig{Transports: []string{"tcp"}, RandomPort: true, Reachability: "private",
		Bootstrap: []string{relay.Addr("tcp")}})
	ctx, cancel := context.WithTimeout(t.Context(), 45*time.Second)
	defer cancel()
	if err := Wait(ctx, func(ctx context.Context) (bool, error) {
		_, err := b.CLI(ctx, "ping", a.ID.String(), "-n", "1")
		return err == nil, err
	}); err != nil {
		t.Fatalf("a dialer that knows only the peer ID cannot reach the full-cone node: %v", err)
	}

	// The doctor calls the node reachable, and it is.
	human, err := a.CLI(ctx, "nat", "status")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(human, "publicly reachable") {
		t.Errorf("plexus nat status does not call the reachable node reachable:\n%s", human)
	}
}
