package natlab

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/plexus-p2p/plexus/api/wire"
)

// punchAttempt is one hole punching attempt: a fresh node behind its NAT
// dials the listener through the relay.
type punchAttempt struct {
	Success   bool
	Rounds    int     // DCUtR rounds the listener ran
	Transport string  // of the direct connection
	UpgradeMS float64 // relayed connection to direct connection, on the listener
	PunchMS   float64 // the successful round itself
	Err       string
}

// wantTransport is the name the API gives a direct connection.
func wantTransport(transport string) string {
	if transport == "quic" {
		return "quic-v1"
	}
	return transport
}

// punch starts a fresh dialer on host dh (new identity and port, so no NAT
// state or peerstore entry survives from earlier attempts), waits until it
// knows its public address, connects it to a through relay and waits for
// the outcome on a: a direct connection, or the end of DCUtR's rounds. An
// error means the attempt could not be set up.
func punch(ctx context.Context, tl *testLab, relay, a *Daemon, dh *Host, transport string, outcome time.Duration) (punchAttempt, error) {
	b, err := tl.startErr(dh, NodeConfig{Transports: []string{transport}, RandomPort: true, Reachability: "private",
		Bootstrap: []string{relay.Addr(transport)}, RelayCount: 1})
	if err != nil {
		return punchAttempt{}, err
	}
	defer b.Stop()
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := Wait(rctx, func(ctx context.Context) (bool, error) {
		st, err := b.Status(ctx)
		return err == nil && st.HolePunch.Ready, err
	}); err != nil {
		return punchAttempt{}, fmt.Errorf("dialer did not learn its public address: %w\n%s", err, b.LogTail(20))
	}
	if _, err := b.CLI(rctx, "connect", CircuitAddr(relay, transport, a.ID)); err != nil {
		return punchAttempt{}, fmt.Errorf("connect through the relay: %w\n%s", err, b.LogTail(20))
	}
	var res punchAttempt
	octx, cancel := context.WithTimeout(ctx, outcome)
	defer cancel()
	if err := Wait(octx, func(ctx context.Context) (bool, error) {
		st, err := a.Status(ctx)
		if err != nil {
			return false, err
		}
		res = attemptOf(st, b.ID.String())
		return res.Success || res.Rounds >= 3 || res.Err != "" && res.Rounds == 0, nil
	}); err != nil {
		return res, fmt.Errorf("no hole punch outcome after %s: %w\n%s", outcome, err, b.LogTail(20))
	}
	if res.Success {
		tr, ok, err := directTo(octx, b, a.ID)
		if err != nil || !ok {
			res.Success, res.Err = false, fmt.Sprintf("the dialer has no direct connection (%v)", err)
		} else if tr != wantTransport(transport) {
			res.Success, res.Err = false, "direct connection over "+tr
		}
	}
	return res, nil
}

// attemptOf extracts the listener's view of the attempt with peer p.
func attemptOf(st wire.NATStatus, p string) punchAttempt {
	var res punchAttempt
	for _, r := range st.HolePunch.Recent {
		if r.PeerID != p {
			continue
		}
		switch r.Kind {
		case "hole-punch":
			res.Rounds++
			if r.Success {
				res.Success, res.PunchMS, res.Transport = true, r.ElapsedMS, r.Transport
			} else {
				res.Err = r.Error
			}
		case "protocol-error", "direct-dial":
			if !r.Success {
				res.Err = r.Kind + ": " + r.Error
			}
		}
	}
	for _, u := range st.HolePunch.RecentUpgrades {
		if u.PeerID == p {
			res.UpgradeMS = u.ElapsedMS
			if res.Transport == "" {
				res.Transport = u.Transport
			}
		}
	}
	if res.Success && res.UpgradeMS == 0 {
		res.Success, res.Err = false, "hole punch reported success but no relayed connection was upgraded"
	}
	return res
}

// Rotating hosts: go-libp2p's resource manager accepts a burst of 16 new
// connections per IP address, then one every 5 s. Every dialer behind one
// router shares the router's IP, and every relayed connection seems to come
// from the relay's IP, so attempts rotate over several dialer hosts (and
// relays) to stay independent of that rate limit.

// TestHolePunchCone: two private nodes behind port-preserving
// (endpoint-independent) NATs with stateful firewalls connect through the
// relay and upgrade to a direct connection by hole punching, every time, over
// TCP and over QUIC.
func TestHolePunchCone(t *testing.T) {
	const attempts = 10
	for _, transport := range []string{"tcp", "quic"} {
		t.Run(transport, func(t *testing.T) {
			tl := newLab(t)
			relay := tl.relay(tl.public("relay"), transport)
			a := tl.start(tl.private("a", Cone), NodeConfig{Transports: []string{transport}, Reachability: "private",
				StaticRelays: []string{relay.Addr(transport)}, Bootstrap: []string{relay.Addr(transport)}, RelayCount: 1})
			waitReservation(t, a, 20*time.Second, relay)
			dialers := []*Host{tl.private("b1", Cone), tl.private("b2", Cone), tl.private("b3", Cone)}
			for i := range attempts {
				res, err := punch(t.Context(), tl, relay, a, dialers[i%len(dialers)], transport, 20*time.Second)
				if err != nil {
					t.Fatalf("attempt %d/%d over %s: %v", i+1, attempts, transport, err)
				}
				if !res.Success {
					t.Fatalf("attempt %d/%d over %s: no direct connection: %s", i+1, attempts, transport, res.Err)
				}
				t.Logf("attempt %d: direct %s connection %.1f ms after the relayed one (punch round %.1f ms)", i+1, res.Transport, res.UpgradeMS, res.PunchMS)
			}
		})
	}
}
