package e2e

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/plexus-p2p/plexus/api/wire"
)

// The connectivity doctor through the CLI on loopback: a node alone does not
// know its reachability and says how to find out; the config switch forces
// private reachability and the doctor then asks for a relay; --relay-service
// overrides the config.
func TestNATStatusThroughCLI(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "n")
	ok(t, repo, "init", "--profile", "local")
	ok(t, repo, "config", "set", "nat.reachability", "private")
	fails(t, repo, "nat.reachability", "config", "set", "nat.reachability", "sometimes")
	startDaemon(t, repo, "--relay-service=false")

	var st wire.NATStatus
	okJSON(t, repo, &st, "nat", "status")
	if st.Reachability != "private" || st.ReachabilitySource != "config" {
		t.Fatalf("reachability %s from %s, want private from config", st.Reachability, st.ReachabilitySource)
	}
	if st.RelayService.Enabled || st.RelayService.Running {
		t.Fatalf("relay service %+v with --relay-service=false", st.RelayService)
	}
	if !st.HolePunch.Enabled || !st.RelayClient.AutoRelay || st.RelayClient.Wanted != 2 {
		t.Fatalf("defaults: hole punching %v, auto relay %v, wanted %d", st.HolePunch.Enabled, st.RelayClient.AutoRelay, st.RelayClient.Wanted)
	}
	if !slices.ContainsFunc(st.Addrs, func(a wire.NATAddrStatus) bool { return a.Reachability == "private" && a.Advertised }) {
		t.Fatalf("no private loopback address in %+v", st.Addrs)
	}
	out := ok(t, repo, "nat", "status")
	for _, want := range []string{
		"Reachability:  private (set by nat.reachability)",
		"Relay service: off",
		"[warn] no relay reservation: no public relay known",
		"plexus config set nat.static_relays",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("plexus nat status lacks %q:\n%s", want, out)
		}
	}
}
