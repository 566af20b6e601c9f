package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/client"
)

func newNATCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "nat",
		Short: "NAT traversal: reachability, relays, hole punching",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "Connectivity doctor: reachability per address, NAT behaviour, relays, hole punching, advice",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := call(cmd, g, func(ctx context.Context, c *client.Client) (wire.NATStatus, error) { return c.NATStatus(ctx) })
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), st, func(w io.Writer) { printNATStatus(w, st, time.Now()) })
		},
	})
	return cmd
}

func printNATStatus(w io.Writer, st wire.NATStatus, now time.Time) {
	fmt.Fprintf(w, "Reachability:  %s (%s) for %s\n", st.Reachability, st.ReachabilitySourceText, natAgo(now, st.ReachabilitySince))

	fmt.Fprintln(w, "\nAddresses:")
	rows := [][]string{}
	for _, a := range st.Addrs {
		adv := ""
		if a.Advertised {
			adv = "advertised"
		}
		rows = append(rows, []string{"  " + a.Addr, a.Reachability, a.Source, adv})
	}
	table(w, []string{"  ADDRESS", "REACHABILITY", "SOURCE", ""}, rows)

	fmt.Fprintln(w, "\nObserved by peers:")
	if len(st.ObservedAddrs) == 0 {
		fmt.Fprintln(w, "  none yet")
	}
	for _, o := range st.ObservedAddrs {
		fmt.Fprintf(w, "  %s  (local %s, seen by %s %s)\n", o.Addr, o.Local, o.Observer, natShort(o.PeerID))
	}
	fmt.Fprintln(w, "\nNAT mapping:")
	if len(st.NATMapping) == 0 {
		fmt.Fprintln(w, "  unknown: no observations yet")
	}
	for _, m := range st.NATMapping {
		fmt.Fprintf(w, "  %s: %s, port preserving: %s (%d observer(s); %s)\n", m.Transport, m.Behaviour, m.PortPreserving, m.Observers, m.Basis)
	}

	pm := st.PortMapping
	switch {
	case !pm.Enabled:
		fmt.Fprintln(w, "\nPort mapping:  off")
	default:
		fmt.Fprintf(w, "\nPort mapping:  on, UPnP/NAT-PMP gateway found: %s\n", natYesNo(pm.GatewayFound))
		for _, m := range pm.Mappings {
			fmt.Fprintf(w, "  %s -> %s\n", m.Listen, m.External)
		}
	}

	rs := st.RelayService
	state := "off"
	if rs.Enabled {
		state = "enabled, not running (runs only while public)"
		if rs.Running {
			state = "running"
		}
	}
	fmt.Fprintf(w, "Relay service: %s\n", state)

	rc := st.RelayClient
	fmt.Fprintf(w, "Relay client:  auto relay %s, %d static, %d known relay(s), %d reservation(s) wanted\n", natOnOff(rc.AutoRelay), len(rc.StaticRelays), rc.KnownRelays, rc.Wanted)
	for _, r := range rc.Reservations {
		exp := "expiry unknown"
		if r.Expires != nil {
			exp = "expires in " + r.Expires.Sub(now).Round(time.Second).String()
		}
		fmt.Fprintf(w, "  %s  %s, limits %s / %s per connection\n", r.Relay, exp, natDur(r.LimitDurationMS), natBytes(r.LimitDataBytes))
		for _, a := range r.Addrs {
			fmt.Fprintf(w, "    %s\n", a)
		}
	}

	hp := st.HolePunch
	fmt.Fprintf(w, "\nHole punching: %s", natOnOff(hp.Enabled))
	if hp.Enabled {
		fmt.Fprintf(w, ", ready: %s; %d attempt(s), %d succeeded", natYesNo(hp.Ready), hp.Attempts, hp.Successes)
		if hp.Attempts > 0 {
			fmt.Fprintf(w, " (%.0f%%)", 100*hp.SuccessRate)
		}
		if hp.Upgrades > 0 {
			fmt.Fprintf(w, "; %d relayed connection(s) upgraded, median %.1f ms", hp.Upgrades, hp.MedianUpgradeMS)
		}
	}
	fmt.Fprintf(w, "\nBirthday punch: %s", natOnOff(hp.Birthday.Enabled))
	if hp.Birthday.Enabled {
		fmt.Fprintf(w, " (QUIC, symmetric NATs); %d attempt(s), %d succeeded", hp.Birthday.Attempts, hp.Birthday.Successes)
	}
	fmt.Fprintln(w)
	for _, r := range hp.Recent {
		res := "ok " + r.DirectAddr
		if !r.Success {
			res = "failed: " + r.Error
		}
		fmt.Fprintf(w, "  %s %s %s %.0f ms %s\n", r.Time.Local().Format("15:04:05"), natShort(r.PeerID), r.Kind, r.ElapsedMS, res)
	}

	c := st.Connections
	fmt.Fprintf(w, "\nConnections:   %d peer(s) direct, %d through a relay only\n", c.DirectPeers, c.RelayedPeers)
	for _, p := range c.RelayedOnly {
		fmt.Fprintf(w, "  %s via %s\n    %s\n", natShort(p.PeerID), p.Addr, p.Reason)
	}

	pn := st.Private
	fmt.Fprintf(w, "\nPrivate:       %s\n", privateText(pn.PrivateNetwork))
	allow := "empty (every peer not denied may connect)"
	if pn.AllowlistActive {
		allow = fmt.Sprintf("active, %d peer(s) (and the bootstrap peers, static relays)", pn.Allowed)
	}
	fmt.Fprintf(w, "Access lists:  allowlist %s, %d denied; refused %d inbound, %d outbound (plexus peers acl)\n",
		allow, pn.Denied, pn.RefusedInbound, pn.RefusedOutbound)

	fmt.Fprintln(w, "\nAdvice:")
	for _, a := range st.Advice {
		fmt.Fprintf(w, "  [%s] %s\n", a.Level, a.Message)
	}
}

func natAgo(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return now.Sub(t).Round(time.Second).String()
}

func natShort(id string) string {
	if len(id) > 16 {
		return id[:6] + "…" + id[len(id)-6:]
	}
	return id
}

func natYesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func natOnOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func natDur(ms float64) string {
	if ms == 0 {
		return "no time limit"
	}
	return time.Duration(ms * float64(time.Millisecond)).String()
}

func natBytes(b uint64) string {
	switch {
	case b == 0:
		return "no data limit"
	case b%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", b>>20)
	case b%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", b>>10)
	}
	return strings.TrimSpace(fmt.Sprintf("%d bytes", b))
}

// optBool is a boolean flag that records whether it was given, so that it
// overrides the config file only then.
type optBool struct{ set, val bool }

func (b *optBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("%q is not true or false", s)
	}
	b.set, b.val = true, v
	return nil
}

func (b *optBool) String() string { return strconv.FormatBool(b.val) }

// Type implements pflag.Value.
func (b *optBool) Type() string { return "bool" }
