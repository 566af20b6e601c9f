package nat_test

import (
	"bytes"
	"testing"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/plexus-p2p/plexus/nat"
)

func TestBirthdayRoles(t *testing.T) {
	hard, easy, unknown := nat.BirthdayNATHard, nat.BirthdayNATEasy, "unknown"
	for _, c := range []struct {
		me, them      string
		hard, punch   bool
		reasonPresent bool
	}{
		{hard, easy, true, true, false},
		{easy, hard, false, true, false},
		{hard, hard, false, false, true},
		{easy, easy, false, false, false}, // DCUtR's case
		{hard, unknown, false, false, false},
		{unknown, easy, false, false, false},
	} {
		h, p, reason := nat.BirthdayRoles(c.me, c.them)
		if h != c.hard || p != c.punch || (reason != "") != c.reasonPresent {
			t.Errorf("roles(%s, %s) = hard %v, punch %v, reason %q; want hard %v, punch %v, reason %v", c.me, c.them, h, p, reason, c.hard, c.punch, c.reasonPresent)
		}
	}
}

func TestProbePacket(t *testing.T) {
	nonce := bytes.Repeat([]byte{7}, 16)
	pkt := nat.ProbePacket(nonce, 40123)
	if len(pkt) != 31 {
		t.Fatalf("probe is %d bytes, want 31", len(pkt))
	}
	if pkt[0]&0x40 != 0 {
		t.Fatal("a probe has QUIC's fixed bit set: a QUIC stack would try to parse it")
	}
	if port, ok := nat.ParseProbe(pkt, nonce); !ok || port != 40123 {
		t.Fatalf("parse = %d, %v; want 40123, true", port, ok)
	}
	other := bytes.Repeat([]byte{8}, 16)
	if _, ok := nat.ParseProbe(pkt, other); ok {
		t.Fatal("a probe of another session (nonce) was accepted")
	}
	if _, ok := nat.ParseProbe(pkt[:30], nonce); ok {
		t.Fatal("a truncated probe was accepted")
	}
}

func TestRandomPortsDistinctInRange(t *testing.T) {
	ports := nat.RandomPorts(nat.BirthdayProbes)
	if len(ports) != nat.BirthdayProbes {
		t.Fatalf("%d ports, want %d", len(ports), nat.BirthdayProbes)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p < 1024 || p > 65535 || seen[p] {
			t.Fatalf("port %d out of range or repeated", p)
		}
		seen[p] = true
	}
}

func TestWhyRelayedBothSymmetric(t *testing.T) {
	st := nat.Status{Reachability: network.ReachabilityPrivate, HolePunch: nat.HolePunchStatus{Enabled: true, Ready: true}}
	rp := nat.RelayedPeer{PeerID: "p", LastHolePunch: &nat.HolePunchResult{Kind: nat.KindBirthday, Error: nat.BothSymmetricReason}}
	if got := nat.WhyRelayed(rp, st); got != nat.BothSymmetricReason {
		t.Fatalf("reason = %q, want the both-symmetric explanation", got)
	}
	rp.LastHolePunch.Error = "none of 2048 probes got through"
	if got := nat.WhyRelayed(rp, st); !bytes.Contains([]byte(got), []byte("the birthday hole punch failed (none of 2048 probes got through)")) {
		t.Fatalf("reason = %q, want the birthday punch's error", got)
	}
}
