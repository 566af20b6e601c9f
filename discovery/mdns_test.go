package discovery_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"

	"github.com/plexus-p2p/plexus/discovery"
)

// The mDNS test runs two nodes in two network namespaces joined by a veth
// pair, so that multicast stays between them. Each node is this test binary
// re-executed (TestHelperProcess) inside its namespace.
const (
	helperEnv     = "PLEXUS_MDNS_HELPER" // set: run as a helper node
	helperAddrEnv = "PLEXUS_MDNS_ADDR"   // the IPv4 address to listen on
	helperSvcEnv  = "PLEXUS_MDNS_SERVICE"
)

func TestMDNSDiscoversPeersAcrossNamespaces(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mDNS test needs root to create network namespaces")
	}
	ipPath, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("mDNS test needs the ip command (apt-get install iproute2)")
	}
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ipPath, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	pid := os.Getpid()
	nsA, nsB := fmt.Sprintf("plx-mdns-%d-a", pid), fmt.Sprintf("plx-mdns-%d-b", pid)
	vethA, vethB := fmt.Sprintf("plxm%da", pid), fmt.Sprintf("plxm%db", pid)
	subnet := fmt.Sprintf("10.231.%d", pid%250+1)
	addrA, addrB := subnet+".1", subnet+".2"

	ip("netns", "add", nsA)
	t.Cleanup(func() { _ = exec.Command(ipPath, "netns", "del", nsA).Run() })
	ip("netns", "add", nsB)
	t.Cleanup(func() { _ = exec.Command(ipPath, "netns", "del", nsB).Run() })
	ip("link", "add", vethA, "netns", nsA, "type", "veth", "peer", "name", vethB, "netns", nsB)
	for _, side := range []struct{ ns, dev, addr string }{{nsA, vethA, addrA}, {nsB, vethB, addrB}} {
		ip("-n", side.ns, "addr", "add", side.addr+"/24", "dev", side.dev)
		ip("-n", side.ns, "link", "set", side.dev, "up")
		ip("-n", side.ns, "link", "set", "lo", "up")
		ip("-n", side.ns, "route", "add", "224.0.0.0/4", "dev", side.dev)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	service := fmt.Sprintf("_plexus-test-%d._udp", pid)
	a := startHelper(ctx, t, ipPath, nsA, addrA, service)
	b := startHelper(ctx, t, ipPath, nsB, addrB, service)

	idA, idB := a.line(t, "PEER "), b.line(t, "PEER ")
	foundByA, foundByB := a.line(t, "FOUND "), b.line(t, "FOUND ")
	if foundByA != idB || foundByB != idA {
		t.Fatalf("A (%s) found %s, B (%s) found %s; want each to find the other", idA, foundByA, idB, foundByB)
	}
	if addr := a.line(t, "ADDR "); !strings.Contains(addr, "/ip4/"+addrB+"/tcp/") {
		t.Errorf("A connected to B at %s, want B's veth address %s", addr, addrB)
	}
}

// helper is a running helper node and the lines it printed.
type helper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
}

func startHelper(ctx context.Context, t *testing.T, ipPath, ns, addr, service string) *helper {
	t.Helper()
	cmd := exec.CommandContext(ctx, ipPath, "netns", "exec", ns,
		os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"=1", helperAddrEnv+"="+addr, helperSvcEnv+"="+service)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start helper in %s: %v", ns, err)
	}
	h := &helper{cmd: cmd, stdin: stdin, lines: make(chan string, 64)}
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(h.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			h.lines <- sc.Text()
		}
	})
	t.Cleanup(func() {
		_ = stdin.Close() // the helper exits when its stdin closes
		_ = cmd.Wait()
		wg.Wait()
	})
	return h
}

// line returns the rest of the next line the helper printed that starts
// with prefix.
func (h *helper) line(t *testing.T, prefix string) string {
	t.Helper()
	var other []string
	for l := range h.lines {
		if rest, ok := strings.CutPrefix(l, prefix); ok {
			return rest
		}
		other = append(other, l)
	}
	t.Fatalf("helper exited without printing %q; its output:\n%s", prefix, strings.Join(other, "\n"))
	return ""
}

// TestHelperProcess is a node for TestMDNSDiscoversPeersAcrossNamespaces; it
// does nothing unless run by it. It prints "PEER <id>", then "FOUND <id>"
// and "ADDR <multiaddr>" once connected to a peer it learned of over mDNS,
// and exits when its standard input closes.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		t.Skip("run by TestMDNSDiscoversPeersAcrossNamespaces")
	}
	addr := os.Getenv(helperAddrEnv)
	h, err := libp2p.New(
		libp2p.ListenAddrStrings("/ip4/"+addr+"/tcp/0"),
		libp2p.DisableMetrics(),
		libp2p.DisableRelay(),
	)
	if err != nil {
		t.Fatalf("helper host: %v", err)
	}
	defer h.Close()
	d := testDHT(t, h)
	defer d.Close()
	svc, err := discovery.New(h, d, nil,
		discovery.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).
			With("helper", addr)),
		discovery.WithMDNS(true),
		discovery.WithMDNSServiceName(os.Getenv(helperSvcEnv)),
		discovery.WithLowWater(0))
	if err != nil {
		t.Fatalf("helper discovery: %v", err)
	}
	defer svc.Close()
	if err := svc.Start(t.Context()); err != nil {
		t.Fatalf("helper start: %v", err)
	}
	fmt.Println("PEER " + h.ID().String())

	stdinClosed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdinClosed)
	}()
	deadline := time.After(50 * time.Second)
	reported := false
	for {
		if !reported {
			for _, kp := range svc.KnownPeers() {
				if kp.Connected && slices.Contains(kp.Sources, discovery.SourceMDNS) {
					fmt.Println("FOUND " + kp.ID.String())
					for _, c := range h.Network().ConnsToPeer(kp.ID) {
						fmt.Println("ADDR " + c.RemoteMultiaddr().String())
					}
					reported = true
					break
				}
			}
		}
		select {
		case <-stdinClosed:
			return
		case <-deadline:
			t.Fatalf("helper in %s (%s, listening on %v): no mDNS peer found and connected; known peers %+v",
				addr, h.ID(), h.Addrs(), svc.KnownPeers())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
