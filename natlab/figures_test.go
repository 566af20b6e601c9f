package natlab

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestNATLabFigures measures hole punching per transport and NAT
// combination and writes the table to the file named by
// PLEXUS_NATLAB_FIGURES (skipped when unset; it takes several minutes):
//
//	sudo PLEXUS_NATLAB_FIGURES=$PWD/bench/natlab.md go test ./natlab -run TestNATLabFigures -timeout 60m -v
//
// PLEXUS_NATLAB_ATTEMPTS sets the attempts per cell (default 20). Every
// attempt uses a fresh dialer (new identity and port) behind its NAT.
func TestNATLabFigures(t *testing.T) {
	out := os.Getenv("PLEXUS_NATLAB_FIGURES")
	if out == "" {
		t.Skip("set PLEXUS_NATLAB_FIGURES=<file> to measure the lab's hole punching figures")
	}
	attempts := attemptsFromEnv(t, 20)
	combos := []struct {
		listener, dialer NATMode
		parallel         int // dialers at once; failing attempts last three DCUtR rounds
	}{
		{Cone, Cone, 1},
		{FullCone, Symmetric, 1},
		{Cone, Symmetric, 5},
		{Symmetric, Cone, 5},
		{Symmetric, Symmetric, 5},
	}
	type cell struct {
		listener, dialer NATMode
		transport        string
		results          []punchAttempt
		took             time.Duration
	}
	var mu sync.Mutex
	var cells []*cell
	start := time.Now()
	for _, c := range combos {
		for _, transport := range []string{"tcp", "quic"} {
			name := fmt.Sprintf("%s-%s-%s", c.listener, c.dialer, transport)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				tl := newLab(t)
				// Two relays and five dialer hosts: see the note on rotating
				// hosts in punch_test.go.
				relays := []*Daemon{tl.relay(tl.public("relay1"), transport), tl.relay(tl.public("relay2"), transport)}
				static := []string{relays[0].Addr(transport), relays[1].Addr(transport)}
				a := tl.start(tl.private("a", c.listener), NodeConfig{Transports: []string{transport}, Reachability: "private",
					StaticRelays: static, Bootstrap: static, RelayCount: 2})
				waitReservation(t, a, 30*time.Second, relays[0])
				waitReservation(t, a, 30*time.Second, relays[1])
				dialers := make([]*Host, 5)
				for i := range dialers {
					dialers[i] = tl.private(fmt.Sprintf("b%d", i), c.dialer)
				}
				ce := &cell{listener: c.listener, dialer: c.dialer, transport: transport}
				began := time.Now()
				for done := 0; done < attempts; {
					batch := min(c.parallel, attempts-done)
					res := make([]punchAttempt, batch)
					errs := make([]error, batch)
					var wg sync.WaitGroup
					for i := range batch {
						n := done + i
						wg.Go(func() {
							res[i], errs[i] = punch(t.Context(), tl, relays[n%2], a, dialers[n%len(dialers)], transport, 90*time.Second)
						})
					}
					wg.Wait()
					for _, err := range errs {
						if err != nil {
							t.Fatal(err)
						}
					}
					ce.results = append(ce.results, res...)
					done += batch
				}
				ce.took = time.Since(began)
				mu.Lock()
				cells = append(cells, ce)
				mu.Unlock()
			})
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		slices.SortFunc(cells, func(a, b *cell) int {
			ka := fmt.Sprintf("%d %s", comboRank(a.listener, a.dialer), a.transport)
			kb := fmt.Sprintf("%d %s", comboRank(b.listener, b.dialer), b.transport)
			return strings.Compare(ka, kb)
		})
		var b strings.Builder
		fmt.Fprintf(&b, "# NAT lab: hole punching figures\n\n")
		fmt.Fprintf(&b, "Measured %s with `go test ./natlab -run TestNATLabFigures` (go-libp2p v0.51.0, DCUtR) on %s, %d attempts per cell, %s in total.\n\n",
			time.Now().UTC().Format("2006-01-02"), hostDesc(), attempts, time.Since(start).Round(time.Second))
		b.WriteString("Lab: network namespaces on one machine, no added latency. Two relays on the lab's internet (10.100.0.0/24, treated as public with the test-only `natlab` build tag); " +
			"the listener holds a reservation on both; each attempt starts a fresh dialer (new identity and port) on one of five hosts, each behind its own NAT of the dialer's kind, which connects to the listener through one of the relays " +
			"(rotating keeps every IP under go-libp2p's connection rate limit of 16 new connections per IP, then one every 5 s). " +
			"The listener then starts DCUtR (up to 3 rounds). Routers: *cone* = nftables `masquerade` (port-preserving, endpoint-independent mapping) with a stateful firewall that drops unsolicited packets " +
			"(port-restricted cone); *symmetric* = `masquerade fully-random` (endpoint-dependent mapping) with the same firewall; *full cone* = `masquerade` plus forwarding of every inbound packet to the host.\n\n")
		b.WriteString("The symmetric rows are go-libp2p's DCUtR as is (TCP and QUIC); Plexus's birthday hole punching over QUIC, which beats symmetric/cone and cone/symmetric, is measured against DCUtR alone in its own section below (TestBirthdayFigures).\n\n")
		b.WriteString("| listener NAT | dialer NAT | transport | direct connection | success rate | median relayed→direct | p90 relayed→direct | median successful round |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|\n")
		for _, c := range cells {
			var ok int
			var up, round []float64
			for _, r := range c.results {
				if r.Success {
					ok++
					up = append(up, r.UpgradeMS)
					round = append(round, r.PunchMS)
				}
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %d/%d | %.0f%% | %s | %s | %s |\n", modeName(c.listener), modeName(c.dialer), strings.ToUpper(c.transport),
				ok, len(c.results), 100*float64(ok)/float64(len(c.results)), msText(percentile(up, 50)), msText(percentile(up, 90)), msText(percentile(round, 50)))
		}
		b.WriteString("\n*relayed→direct*: on the listener, from the relayed connection's opening to the direct connection's. " +
			"*successful round*: the DCUtR round that succeeded, from its synchronised start to its end. " +
			"QUIC through two port-restricted NATs often needs one retransmission: the first packet reaches the other NAT before that side's own packet opened it, and QUIC resends after about 200 ms. " +
			"With a full-cone listener the direct connection is the symmetric dialer's own punching packet, which the full-cone NAT lets in at once; " +
			"the listener's dial towards the port the relay saw (wrong, the dialer's NAT picked a new one) runs into go-libp2p's 5 s dial timeout before DCUtR ends the round, hence the 5 s rounds. " +
			"Failures: all three DCUtR rounds timed out (about 16 s per attempt); the nodes stayed connected through the relay, as theory predicts for an endpoint-dependent NAT facing a port-restricted one. ")
		var errs []string
		for _, c := range cells {
			for _, r := range c.results {
				if !r.Success && r.Err != "" {
					errs = append(errs, fmt.Sprintf("%s/%s %s: %s", modeName(c.listener), modeName(c.dialer), c.transport, shortErr(r.Err)))
					break
				}
			}
		}
		if len(errs) > 0 {
			b.WriteString("Typical errors:\n\n")
			for _, e := range errs {
				fmt.Fprintf(&b, "- %s\n", e)
			}
		}
		// Keep the birthday punching section (TestBirthdayFigures).
		if old, err := os.ReadFile(out); err == nil {
			if i, j := strings.Index(string(old), birthdayBegin), strings.Index(string(old), birthdayEnd); i >= 0 && j > i {
				b.WriteString("\n" + string(old[i:j+len(birthdayEnd)]) + "\n")
			}
		}
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Errorf("write figures: %v", err)
		}
	})
}

func comboRank(l, d NATMode) int {
	order := []NATMode{Cone, FullCone, Symmetric}
	return slices.Index(order, l)*10 + slices.Index(order, d)
}

func modeName(m NATMode) string {
	switch m {
	case Cone:
		return "cone (port-restricted)"
	case FullCone:
		return "full cone"
	}
	return "symmetric"
}

func percentile(xs []float64, p int) float64 {
	if len(xs) == 0 {
		return -1
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
}

func msText(v float64) string {
	if v < 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f ms", v)
}

// shortErr keeps the per-address reason of a dial error.
func shortErr(s string) string {
	if i := strings.Index(s, "* ["); i >= 0 {
		s = s[i+2:]
	}
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

func hostDesc() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	cpu := "unknown CPU"
	if err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	var u struct{ release string }
	if r, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		u.release = strings.TrimSpace(string(r))
	}
	return fmt.Sprintf("Linux %s, %s", u.release, cpu)
}

// attemptsFromEnv is PLEXUS_NATLAB_ATTEMPTS, the attempts per cell of a
// figures run, or def when unset.
func attemptsFromEnv(t *testing.T, def int) int {
	t.Helper()
	v := os.Getenv("PLEXUS_NATLAB_ATTEMPTS")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("PLEXUS_NATLAB_ATTEMPTS=%q is not a positive number", v)
	}
	return n
}
