package natlab

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/nat"
)

// directAttempt is one attempt to get a direct QUIC connection: a fresh
// dialer connects to the listener through a relay; the attempt succeeds
// when both sides hold a direct connection within the window.
type directAttempt struct {
	Success   bool
	Method    string  // "birthday-punch" or "hole-punch" (DCUtR) that made the direct connection
	UpgradeMS float64 // relayed connection to direct connection, on the listener
	Err       string  // why not, as the listener recorded it
}

// directWithin starts a fresh QUIC dialer on dh (birthday punching off
// when noBirthday), waits until it knows its public address, connects it to
// a through relay and waits up to window for a direct connection. An error
// means the attempt could not be set up.
func directWithin(ctx context.Context, tl *testLab, relay, a *Daemon, dh *Host, noBirthday bool, window time.Duration) (directAttempt, error) {
	b, err := tl.startErr(dh, NodeConfig{Transports: []string{"quic"}, RandomPort: true, Reachability: "private",
		Bootstrap: []string{relay.Addr("quic")}, RelayCount: 1, NoBirthday: noBirthday})
	if err != nil {
		return directAttempt{}, err
	}
	defer b.Stop()
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := Wait(rctx, func(ctx context.Context) (bool, error) {
		st, err := b.Status(ctx)
		return err == nil && st.HolePunch.Ready, err
	}); err != nil {
		return directAttempt{}, fmt.Errorf("dialer did not learn its public address: %w\n%s", err, b.LogTail(20))
	}
	if _, err := b.CLI(rctx, "connect", CircuitAddr(relay, "quic", a.ID)); err != nil {
		return directAttempt{}, fmt.Errorf("connect through the relay: %w\n%s", err, b.LogTail(20))
	}
	var res directAttempt
	wctx, cancel := context.WithTimeout(ctx, window)
	defer cancel()
	err = Wait(wctx, func(ctx context.Context) (bool, error) {
		st, err := a.Status(ctx)
		if err != nil {
			return false, err
		}
		res = directOf(st, b.ID.String())
		if !res.Success {
			return false, nil
		}
		_, ok, err := directTo(ctx, b, a.ID)
		return ok, err
	})
	if err != nil && res.Success {
		res.Success, res.Err = false, "the dialer has no direct connection"
	}
	if !res.Success && res.Err == "" {
		res.Err = fmt.Sprintf("no direct connection within %s", window)
	}
	return res, nil
}

// directOf extracts the listener's view of the attempt with peer p.
func directOf(st wire.NATStatus, p string) directAttempt {
	var res directAttempt
	for _, u := range st.HolePunch.RecentUpgrades {
		if u.PeerID == p {
			res.Success, res.UpgradeMS = true, u.ElapsedMS
		}
	}
	for _, r := range st.HolePunch.Recent {
		if r.PeerID != p {
			continue
		}
		if r.Success {
			// A birthday punch succeeds only over the port it punched;
			// DCUtR's round then often "succeeds" on that connection.
			if res.Method != nat.KindBirthday {
				res.Method = r.Kind
			}
		} else if res.Err == "" || r.Kind == nat.KindBirthday {
			res.Err = r.Kind + ": " + r.Error
		}
	}
	return res
}

// birthdayLab is a lab with two QUIC relays, a listener behind a NAT of
// kind listener holding reservations on both (so it knows its NAT's
// mapping), and five dialer hosts behind NATs of kind dialer (see the note
// on rotating hosts in punch_test.go).
func birthdayLab(t *testing.T, latency time.Duration, listener, dialer NATMode) (*testLab, []*Daemon, *Daemon, []*Host) {
	tl := newLab(t)
	if latency > 0 {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		if err := tl.SetLatency(ctx, latency); err != nil {
			t.Fatal(err)
		}
	}
	relays := []*Daemon{tl.relay(tl.public("relay1"), "quic"), tl.relay(tl.public("relay2"), "quic")}
	static := []string{relays[0].Addr("quic"), relays[1].Addr("quic")}
	a := tl.start(tl.private("a", listener), NodeConfig{Transports: []string{"quic"}, Reachability: "private",
		StaticRelays: static, Bootstrap: static, RelayCount: 2})
	waitReservation(t, a, 30*time.Second, relays[0])
	waitReservation(t, a, 30*time.Second, relays[1])
	waitFor(t, 20*time.Second, "the listener infers its NAT's UDP mapping", func(ctx context.Context) (bool, error) {
		st, err := a.Status(ctx)
		if err != nil {
			return false, err
		}
		for _, m := range st.NATMapping {
			if m.Transport == "udp" && m.Behaviour != nat.MappingUnknown {
				return true, nil
			}
		}
		return false, nil
	})
	dialers := make([]*Host, 5)
	for i := range dialers {
		dialers[i] = tl.private(fmt.Sprintf("b%d", i), dialer)
	}
	return tl, relays, a, dialers
}

// TestBirthdayPunch: a node behind an endpoint-dependent (symmetric) NAT and
// one behind a port-preserving, port-restricted cone NAT, which DCUtR
// leaves on the relay (bench/natlab.md), get a direct QUIC connection by
// birthday punching, with the symmetric side accepting the relayed
// connection and with the symmetric side dialling.
func TestBirthdayPunch(t *testing.T) {
	const attempts = 3
	for _, c := range []struct{ listener, dialer NATMode }{{Symmetric, Cone}, {Cone, Symmetric}} {
		t.Run(fmt.Sprintf("%s-%s", c.listener, c.dialer), func(t *testing.T) {
			tl, relays, a, dialers := birthdayLab(t, 0, c.listener, c.dialer)
			for i := range attempts {
				res, err := directWithin(t.Context(), tl, relays[i%2], a, dialers[i%len(dialers)], false, 15*time.Second)
				if err != nil {
					t.Fatalf("attempt %d: %v", i+1, err)
				}
				if !res.Success {
					t.Fatalf("attempt %d: %s", i+1, res.Err)
				}
				t.Logf("attempt %d: direct QUIC connection %.0f ms after the relayed one", i+1, res.UpgradeMS)
			}
			// DCUtR cannot connect these pairs (bench/natlab.md: 0 of 20):
			// every direct connection is a birthday punch's, as the
			// listener counts them once each session has ended.
			waitFor(t, 10*time.Second, fmt.Sprintf("the listener counts %d birthday punch successes", attempts), func(ctx context.Context) (bool, error) {
				st, err := a.Status(ctx)
				return err == nil && st.HolePunch.Birthday.Successes == attempts, err
			})
		})
	}
}

// TestBirthdayPunchBothSymmetric: two nodes behind symmetric NATs stay on
// the relay, and the doctor of both says why.
func TestBirthdayPunchBothSymmetric(t *testing.T) {
	tl, relays, a, dialers := birthdayLab(t, 0, Symmetric, Symmetric)
	b, err := tl.startErr(dialers[0], NodeConfig{Transports: []string{"quic"}, RandomPort: true, Reachability: "private",
		Bootstrap: []string{relays[0].Addr("quic")}, RelayCount: 1})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the dialer learns its public address", func(ctx context.Context) (bool, error) {
		st, err := b.Status(ctx)
		return err == nil && st.HolePunch.Ready, err
	})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if _, err := b.CLI(ctx, "connect", CircuitAddr(relays[0], "quic", a.ID)); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*Daemon{a, b} {
		other := b.ID.String()
		if d == b {
			other = a.ID.String()
		}
		waitFor(t, 20*time.Second, d.Host.Name+"'s doctor explains why the peer stays on the relay", func(ctx context.Context) (bool, error) {
			st, err := d.Status(ctx)
			if err != nil {
				return false, err
			}
			for _, rp := range st.Connections.RelayedOnly {
				if rp.PeerID == other && strings.Contains(rp.Reason, "both nodes are behind endpoint-dependent (symmetric) NATs") {
					return true, nil
				}
			}
			return false, nil
		})
	}
	if _, ok, err := directTo(t.Context(), a, b.ID); err != nil || ok {
		t.Fatalf("direct connection between two symmetric NATs (err %v)", err)
	}
}
