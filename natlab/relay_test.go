package natlab

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/pubsub"
)

// TestSymmetricNATStaysRelayed: with one or both NATs endpoint-dependent
// ("symmetric"), hole punching fails, the nodes stay connected through the
// relay, pub/sub messages and request/response calls still go through, and
// the doctor says why there is no direct path.
func TestSymmetricNATStaysRelayed(t *testing.T) {
	cases := []struct {
		name   string
		a, b   NATMode
		reason string // in the listener's explanation
	}{
		{"symmetric-listener", Symmetric, Cone, "endpoint-dependent (symmetric)"},
		{"symmetric-dialer", Cone, Symmetric, "peer's NAT is most likely endpoint-dependent (symmetric)"},
		{"both-symmetric", Symmetric, Symmetric, "endpoint-dependent (symmetric)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tl := newLab(t)
			// Two relays: each private node is observed by two peers with
			// different IPs, which shows whether its NAT keeps one port.
			r1 := tl.relay(tl.public("relay1"), "tcp")
			r2 := tl.relay(tl.public("relay2"), "tcp")
			boot := []string{r1.Addr("tcp"), r2.Addr("tcp")}
			a := tl.start(tl.private("a", tc.a), NodeConfig{Transports: []string{"tcp"}, Reachability: "private",
				StaticRelays: []string{r1.Addr("tcp")}, Bootstrap: boot, RelayCount: 1})
			b := tl.start(tl.private("b", tc.b), NodeConfig{Transports: []string{"tcp"}, Reachability: "private",
				StaticRelays: []string{r2.Addr("tcp")}, Bootstrap: boot, RelayCount: 1})
			waitReservation(t, a, 20*time.Second, r1)
			waitReservation(t, b, 20*time.Second, r2)

			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			if _, err := b.CLI(ctx, "connect", CircuitAddr(r1, "tcp", a.ID)); err != nil {
				t.Fatalf("connect through the relay: %v", err)
			}
			// Wait for a failed hole punch round on the listener (the DCUtR
			// initiator); each round gives up after its dial timeout.
			var st wire.NATStatus
			waitFor(t, 30*time.Second, "a failed hole punch", func(ctx context.Context) (bool, error) {
				var err error
				st, err = a.Status(ctx)
				if err != nil {
					return false, err
				}
				at := attemptOf(st, b.ID.String())
				if at.Success {
					return false, fmt.Errorf("hole punching succeeded through a %s/%s pair", tc.a, tc.b)
				}
				// A symmetric NAT shows only once both relays have reported
				// the listener's mapping (identify runs after each bootstrap
				// dial, which may come after the first hole punch round).
				return at.Rounds > 0 && (tc.a != Symmetric || symmetricAdvice(st)), nil
			})
			if _, direct, err := directTo(ctx, a, b.ID); err != nil || direct {
				t.Fatalf("direct connection through a symmetric NAT (err %v)", err)
			}
			if ok, err := relayedTo(ctx, a, b.ID); err != nil || !ok {
				t.Fatalf("the relayed connection is gone (err %v)", err)
			}

			// The doctor explains the missing direct path.
			i := slices.IndexFunc(st.Connections.RelayedOnly, func(p wire.NATRelayedPeer) bool { return p.PeerID == b.ID.String() })
			if i < 0 {
				t.Fatalf("doctor does not list %s among relayed-only peers: %+v", b.ID, st.Connections)
			}
			if reason := st.Connections.RelayedOnly[i].Reason; !strings.Contains(reason, tc.reason) || !strings.Contains(reason, "hole punching failed") {
				t.Fatalf("doctor's reason %q does not explain the %s NAT (want %q)", reason, tc.a, tc.reason)
			}
			if tc.a == Symmetric && !symmetricAdvice(st) {
				t.Fatalf("no advice about the symmetric NAT: %+v (mapping %+v)", st.Advice, st.NATMapping)
			}
			// The same through the CLI, as a user reads it.
			human, err := a.CLI(ctx, "nat", "status")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(human, "1 through a relay only") || !strings.Contains(human, tc.reason) {
				t.Fatalf("plexus nat status does not explain the relayed peer:\n%s", human)
			}
			t.Logf("plexus nat status on %s:\n%s", a.Host.Name, human)

			// Request/response over the relayed connection.
			echo := echoServer(t, b.Host)
			if _, err := b.CLI(ctx, "handler", "add", "/app/echo/1.0.0", echo); err != nil {
				t.Fatal(err)
			}
			out, err := a.CLI(ctx, "send", b.ID.String(), "/app/echo/1.0.0", "ping over the relay", "--timeout", "15s")
			if err != nil {
				t.Errorf("request over the relayed connection (messaging must open its streams with network.WithAllowLimitedConn): %v", err)
			} else if out != "echo: ping over the relay" {
				t.Errorf("response %q, want the echo", out)
			}

			// Pub/sub over the relayed connection.
			msgs := subscribe(t, b, "natlab")
			waitFor(t, 20*time.Second, "a pub/sub message over the relay (go-libp2p-pubsub ignores peers reachable only through a relay unless its streams allow limited connections and its host reports such peers connected)", func(ctx context.Context) (bool, error) {
				if _, err := a.CLI(ctx, "pubsub", "pub", "natlab", "hello over the relay"); err != nil {
					return false, err
				}
				select {
				case m := <-msgs:
					if string(m.Data) != "hello over the relay" || m.From.String() != a.ID.String() {
						return false, fmt.Errorf("unexpected message %+v", m)
					}
					return true, nil
				case <-time.After(time.Second):
					return false, nil
				}
			})
			if ok, err := relayedTo(ctx, a, b.ID); err != nil || !ok {
				t.Fatalf("the relayed connection is gone after the traffic (err %v)", err)
			}
		})
	}
}

// echoServer serves HTTP inside h's namespace, answering "echo: <body>",
// and returns its URL.
func echoServer(t *testing.T, h *Host) string {
	t.Helper()
	var ln net.Listener
	if err := InNetns(h.NS, func() error {
		var err error
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "echo: %s", body)
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/"
}

// subscribe runs "plexus pubsub sub TOPIC --json" on d and returns the
// messages it prints. The subscription ends with the test.
func subscribe(t *testing.T, d *Daemon, topic string) <-chan pubsub.Message {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", d.Host.NS, d.bin, "--repo", d.Repo, "pubsub", "sub", topic, "--json")
	cmd.Env = Env()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	ch := make(chan pubsub.Message, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var m pubsub.Message
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				select {
				case ch <- m:
				default:
				}
			}
		}
	}()
	return ch
}

// TestAutoNAT: AutoNAT reports private for the nodes behind NATs and public
// for the relays, which run with automatic reachability too.
func TestAutoNAT(t *testing.T) {
	tl := newLab(t)
	r1 := tl.start(tl.public("relay1"), NodeConfig{RelayService: true})
	r2 := tl.start(tl.public("relay2"), NodeConfig{RelayService: true, Bootstrap: []string{r1.Addr("tcp")}})
	boot := []string{r1.Addr("tcp"), r2.Addr("tcp")}
	a := tl.start(tl.private("a", Cone), NodeConfig{Bootstrap: boot})
	b := tl.start(tl.private("b", Symmetric), NodeConfig{Bootstrap: boot})

	want := map[*Daemon]string{r1: "public", r2: "public", a: "private", b: "private"}
	// AutoNAT v1 probes 15 s after start; a dial-back that cannot get
	// through the NAT fails after 15 s more.
	waitFor(t, 75*time.Second, "AutoNAT verdicts", func(ctx context.Context) (bool, error) {
		for d, w := range want {
			st, err := d.Status(ctx)
			if err != nil {
				return false, err
			}
			if st.Reachability != w {
				return false, nil
			}
		}
		return true, nil
	})
	for d, w := range want {
		st := status(t, d)
		if st.ReachabilitySource != "autonat-v1" || len(st.ReachabilityHistory) == 0 || st.ReachabilityHistory[len(st.ReachabilityHistory)-1].Reachability != w {
			t.Errorf("%s: reachability %s from %s, history %+v; want %s from AutoNAT", d.Host.Name, st.Reachability, st.ReachabilitySource, st.ReachabilityHistory, w)
		}
		for _, as := range st.Addrs {
			if strings.Contains(as.Addr, d.Host.PublicIP+"/") && w == "public" && as.Reachability != "public" {
				t.Errorf("%s: address %s is %s (%s), want public", d.Host.Name, as.Addr, as.Reachability, as.Source)
			}
			if strings.Contains(as.Addr, d.Host.IP+"/") && w == "private" && as.Reachability != "private" {
				t.Errorf("%s: address %s is %s, want private", d.Host.Name, as.Addr, as.Reachability)
			}
		}
		t.Logf("%s: %s (%s, confidence %v); addresses %+v", d.Host.Name, st.Reachability, st.ReachabilitySource, deref(st.Confidence), st.Addrs)
	}
}

func deref(p *int) any {
	if p == nil {
		return "-"
	}
	return *p
}

// TestRelayFailover: a node behind a NAT that loses its relay gets a new
// reservation from another relay, and is reachable through it.
func TestRelayFailover(t *testing.T) {
	tl := newLab(t)
	// TCP only: a killed relay's TCP connections close at once, while QUIC
	// would only notice after its idle timeout.
	r1 := tl.relay(tl.public("relay1"), "tcp")
	r2 := tl.relay(tl.public("relay2"), "tcp")
	relays := []string{r1.Addr("tcp"), r2.Addr("tcp")}
	a := tl.start(tl.private("a", Cone), NodeConfig{Transports: []string{"tcp"}, Reachability: "private",
		StaticRelays: relays, Bootstrap: relays[:1], RelayCount: 1})
	first := waitReservation(t, a, 20*time.Second, r1, r2)
	other := r2
	if first == r2 {
		other = r1
	}
	t.Logf("reservation with %s; killing it", first.Host.Name)
	first.Kill()
	var st wire.NATStatus
	waitFor(t, 45*time.Second, "a new reservation with the other relay, with its expiry", func(ctx context.Context) (bool, error) {
		var err error
		if st, err = a.Status(ctx); err != nil {
			return false, err
		}
		return reservationWith(st, other.ID) && !reservationWith(st, first.ID) && st.RelayClient.Reservations[0].Expires != nil, nil
	})
	if r := st.RelayClient.Reservations[0]; time.Until(*r.Expires) < 50*time.Minute {
		t.Errorf("reservation %+v expires too early for the relay's 1h reservations", r)
	}
	// A new node reaches a through the new relay.
	b := tl.start(tl.private("b", Cone), NodeConfig{Transports: []string{"tcp"}, RandomPort: true, Reachability: "private", Bootstrap: []string{other.Addr("tcp")}})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := b.CLI(ctx, "ping", CircuitAddr(other, "tcp", a.ID), "-n", "1"); err != nil {
		t.Fatalf("reach the node through its new relay: %v", err)
	}
}

// symmetricAdvice reports whether the doctor advises about an
// endpoint-dependent (symmetric) NAT.
func symmetricAdvice(st wire.NATStatus) bool {
	return slices.ContainsFunc(st.Advice, func(a wire.NATAdvice) bool {
		return a.Topic == "nat" && strings.Contains(a.Message, "endpoint-dependent")
	})
}
