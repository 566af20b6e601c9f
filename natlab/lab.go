// Package natlab builds NAT labs out of Linux network namespaces and runs
// real plexus daemons in them, to prove NAT traversal end to end: AutoNAT,
// circuit relay v2, DCUtR hole punching over TCP and QUIC, and relay
// failover.
//
// A lab has an "internet" (a bridge in its own namespace, InternetCIDR) with
// public hosts on it (relays), and private hosts, each behind its own router
// namespace that does source NAT with nftables and a stateful firewall that
// drops unsolicited inbound packets. The router's mapping behaviour is
// switchable (NATMode): endpoint-independent and port-preserving
// ("masquerade"), endpoint-dependent ("masquerade fully-random"), or full
// cone (endpoint-independent filtering too). All addresses are the lab's
// own (InternetCIDR and 192.168.<n>.0/24 behind router n); nothing leaves
// the machine.
//
// Building a lab needs root, iproute2 and nftables (scripts/install-deps.sh
// installs both). The daemons must be built with -tags natlab and run with
// PLEXUS_NATLAB_PUBLIC=InternetCIDR so that go-libp2p treats the lab's
// internet as public (see package nat).
package natlab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// InternetCIDR is the lab's "internet". Public hosts get .11 upwards,
// routers .101 upwards.
const InternetCIDR = "10.100.0.0/24"

// NATMode is a router's NAT behaviour.
type NATMode string

// NAT modes. Filtering is always stateful (only replies to flows opened from
// inside get in) except for FullCone.
const (
	// Cone maps a private socket to one external port, keeping the port
	// (endpoint-independent mapping; address- and port-dependent filtering:
	// a "port-restricted cone").
	Cone NATMode = "cone"
	// Symmetric maps each destination to a new random external port
	// (endpoint-dependent mapping, "masquerade fully-random").
	Symmetric NATMode = "symmetric"
	// FullCone maps like Cone and lets any inbound packet to a mapped port
	// through (endpoint-independent filtering).
	FullCone NATMode = "fullcone"
)

// Available reports why a lab cannot be built here, or "" when it can.
func Available() string {
	if os.Geteuid() != 0 {
		return "the NAT lab needs root (network namespaces and nftables)"
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Sprintf("the NAT lab needs %q (run scripts/install-deps.sh as root to install iproute2 and nftables)", tool)
		}
	}
	return ""
}

// Lab is one set of namespaces. Close deletes them.
type Lab struct {
	prefix string
	inet   string // namespace with the internet bridge

	mu         sync.Mutex
	namespaces []string
	nextPublic int
	nextLAN    int
	latency    time.Duration // per hop (latency.go)
	delayers   []*delayer
}

// Host is a namespace a daemon can run in.
type Host struct {
	Name     string
	NS       string // network namespace name
	IP       string // address on its own network
	PublicIP string // address on the lab internet: its own, or its router's
	Router   string // router namespace of a private host, "" for a public one
	LANCIDR  string // private network behind the router
	mode     NATMode
}

// Private reports whether h is behind a NAT.
func (h *Host) Private() bool { return h.Router != "" }

// Mode returns the NAT mode of a private host's router.
func (h *Host) Mode() NATMode { return h.mode }

// New creates the lab's internet. Namespace names start with a random
// prefix so that labs can run side by side.
func New(ctx context.Context) (*Lab, error) {
	b := make([]byte, 3)
	rand.Read(b)
	l := &Lab{prefix: "plx" + hex.EncodeToString(b), nextPublic: 11, nextLAN: 1}
	l.inet = l.prefix + "-inet"
	if err := l.addNS(ctx, l.inet); err != nil {
		return nil, err
	}
	if err := l.run(ctx, "ip", "-n", l.inet, "link", "add", "br0", "type", "bridge"); err != nil {
		l.Close()
		return nil, err
	}
	if err := l.run(ctx, "ip", "-n", l.inet, "link", "set", "br0", "up"); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// Prefix is the lab's namespace name prefix.
func (l *Lab) Prefix() string { return l.prefix }

// Close deletes every namespace of the lab. Processes still running in them
// must be stopped first (they would keep the namespaces alive).
func (l *Lab) Close() error {
	l.stopDelayers()
	l.mu.Lock()
	nss := l.namespaces
	l.namespaces = nil
	l.mu.Unlock()
	var errs []error
	for i := len(nss) - 1; i >= 0; i-- {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := l.run(ctx, "ip", "netns", "del", nss[i]); err != nil {
			errs = append(errs, err)
		}
		cancel()
	}
	return errors.Join(errs...)
}

func (l *Lab) addNS(ctx context.Context, name string) error {
	if err := l.run(ctx, "ip", "netns", "add", name); err != nil {
		return err
	}
	l.mu.Lock()
	l.namespaces = append(l.namespaces, name)
	l.mu.Unlock()
	return l.run(ctx, "ip", "-n", name, "link", "set", "lo", "up")
}

// plug connects namespace ns to the internet bridge with an interface named
// "wan" holding ip/24.
func (l *Lab) plug(ctx context.Context, ns, port, ip string) error {
	steps := [][]string{
		{"ip", "-n", l.inet, "link", "add", port, "type", "veth", "peer", "name", "wan", "netns", ns},
		{"ip", "-n", l.inet, "link", "set", port, "master", "br0", "up"},
		{"ip", "-n", ns, "addr", "add", ip + "/24", "dev", "wan"},
		{"ip", "-n", ns, "link", "set", "wan", "up"},
	}
	for _, s := range steps {
		if err := l.run(ctx, s...); err != nil {
			return err
		}
	}
	return nil
}

// AddPublic adds a host on the lab internet.
func (l *Lab) AddPublic(ctx context.Context, name string) (*Host, error) {
	l.mu.Lock()
	n := l.nextPublic
	l.nextPublic++
	l.mu.Unlock()
	h := &Host{Name: name, NS: l.prefix + "-" + name, IP: fmt.Sprintf("10.100.0.%d", n)}
	h.PublicIP = h.IP
	if err := l.addNS(ctx, h.NS); err != nil {
		return nil, err
	}
	if err := l.plug(ctx, h.NS, fmt.Sprintf("p%d", n), h.IP); err != nil {
		return nil, err
	}
	if err := l.addDelay(ctx, h.NS, false); err != nil {
		return nil, err
	}
	return h, nil
}

// AddPrivate adds a host behind its own NAT router.
func (l *Lab) AddPrivate(ctx context.Context, name string, mode NATMode) (*Host, error) {
	l.mu.Lock()
	n := l.nextLAN
	l.nextLAN++
	l.mu.Unlock()
	h := &Host{
		Name: name, NS: l.prefix + "-" + name, Router: l.prefix + "-" + name + "-gw",
		IP: fmt.Sprintf("192.168.%d.2", n), PublicIP: fmt.Sprintf("10.100.0.%d", 100+n),
		LANCIDR: fmt.Sprintf("192.168.%d.0/24", n),
	}
	for _, ns := range []string{h.Router, h.NS} {
		if err := l.addNS(ctx, ns); err != nil {
			return nil, err
		}
	}
	if err := l.plug(ctx, h.Router, fmt.Sprintf("r%d", n), h.PublicIP); err != nil {
		return nil, err
	}
	gw := fmt.Sprintf("192.168.%d.1", n)
	steps := [][]string{
		{"ip", "-n", h.Router, "link", "add", "lan", "type", "veth", "peer", "name", "eth0", "netns", h.NS},
		{"ip", "-n", h.Router, "addr", "add", gw + "/24", "dev", "lan"},
		{"ip", "-n", h.Router, "link", "set", "lan", "up"},
		{"ip", "-n", h.NS, "addr", "add", h.IP + "/24", "dev", "eth0"},
		{"ip", "-n", h.NS, "link", "set", "eth0", "up"},
		{"ip", "-n", h.NS, "route", "add", "default", "via", gw},
		{"ip", "netns", "exec", h.Router, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"},
	}
	for _, s := range steps {
		if err := l.run(ctx, s...); err != nil {
			return nil, err
		}
	}
	if err := l.SetNAT(ctx, h, mode); err != nil {
		return nil, err
	}
	if err := l.addDelay(ctx, h.Router, true); err != nil {
		return nil, err
	}
	return h, nil
}

// SetNAT replaces the rules of a private host's router. Flows already
// tracked keep their mapping.
func (l *Lab) SetNAT(ctx context.Context, h *Host, mode NATMode) error {
	if !h.Private() {
		return fmt.Errorf("%s is not behind a NAT", h.Name)
	}
	rules, err := routerRules(mode, h.IP)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", h.Router, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft rules for %s (%s): %w: %s", h.Name, mode, err, bytes.TrimSpace(out))
	}
	h.mode = mode
	return nil
}

// routerRules returns the nftables ruleset of a router in the given mode:
// source NAT out of "wan", a forward chain that lets replies in and drops
// the rest, and an input chain that drops unsolicited packets to the router
// itself (so it neither answers with RST nor ICMP, like a real NAT).
func routerRules(mode NATMode, host string) (string, error) {
	masq := "masquerade"
	var pre, fwdIn string
	switch mode {
	case Cone:
	case Symmetric:
		masq = "masquerade fully-random"
	case FullCone:
		pre = fmt.Sprintf("\tchain pre {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\t\tiifname \"wan\" dnat to %s\n\t}\n", host)
		fwdIn = "\t\tiifname \"wan\" oifname \"lan\" ct status dnat accept\n"
	default:
		return "", fmt.Errorf("unknown NAT mode %q (want cone, symmetric or fullcone)", mode)
	}
	return "flush ruleset\n" +
		"table ip nat {\n" + pre +
		"\tchain post {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\t\toifname \"wan\" " + masq + "\n\t}\n}\n" +
		"table inet filter {\n" +
		"\tchain fw {\n\t\ttype filter hook forward priority filter; policy drop;\n\t\tct state established,related accept\n" + fwdIn +
		"\t\tiifname \"lan\" oifname \"wan\" accept\n\t}\n" +
		"\tchain in {\n\t\ttype filter hook input priority filter; policy accept;\n\t\tiifname \"wan\" ct state established,related accept\n\t\tiifname \"wan\" drop\n\t}\n" +
		"}\n", nil
}

// run runs a command and returns its output in the error.
func (l *Lab) run(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// InNetns runs fn on an OS thread moved into network namespace ns. Sockets
// fn creates belong to ns and keep working after fn returns: tests use it
// to reach a daemon's loopback API and to serve HTTP inside a namespace.
func InNetns(ns string, fn func() error) error {
	target, err := os.Open(filepath.Join("/var/run/netns", ns))
	if err != nil {
		return fmt.Errorf("open netns %s: %w", ns, err)
	}
	defer target.Close()
	runtime.LockOSThread()
	self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open own netns: %w", err)
	}
	defer self.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter netns %s: %w", ns, err)
	}
	ferr := fn()
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread stays in the wrong namespace: leave it locked so the
		// runtime discards it when this goroutine ends.
		return errors.Join(ferr, fmt.Errorf("return from netns %s: %w", ns, err))
	}
	runtime.UnlockOSThread()
	return ferr
}
