package natlab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/internal/testnet"
)

// binary is the plexus daemon built with -tags natlab.
var binary string

func TestMain(m *testing.M) {
	if Available() != "" {
		os.Exit(m.Run()) // every test skips with the reason
	}
	dir, err := os.MkdirTemp("", "plexus-natlab-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "plexus")
	build := exec.Command("go", "build", "-tags", "natlab", "-o", binary, "../cmd/plexus")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build plexus -tags natlab:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// newLab builds a lab for t, or skips t when labs cannot be built here. The
// namespaces and every daemon are removed in t.Cleanup, also on failure.
func newLab(t *testing.T) *testLab {
	t.Helper()
	if why := Available(); why != "" {
		t.Skip("skipping NAT lab test: " + why)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	l, err := New(ctx)
	if err != nil {
		t.Fatalf("build lab: %v", err)
	}
	tl := &testLab{Lab: l, t: t, dir: t.TempDir()}
	t.Cleanup(func() {
		tl.mu.Lock()
		defer tl.mu.Unlock()
		for i := len(tl.daemons) - 1; i >= 0; i-- {
			d := tl.daemons[i]
			if t.Failed() && !d.Exited() {
				t.Logf("log of %s (%s):\n%s", d.Host.Name, d.ID, d.LogTail(40))
			}
			d.Stop()
		}
		if err := l.Close(); err != nil {
			t.Errorf("delete lab namespaces: %v", err)
		}
	})
	return tl
}

type testLab struct {
	*Lab
	t   *testing.T
	dir string

	mu      sync.Mutex
	daemons []*Daemon
	n       int
}

func (tl *testLab) public(name string) *Host {
	tl.t.Helper()
	ctx, cancel := context.WithTimeout(tl.t.Context(), 10*time.Second)
	defer cancel()
	h, err := tl.AddPublic(ctx, name)
	if err != nil {
		tl.t.Fatal(err)
	}
	return h
}

func (tl *testLab) private(name string, mode NATMode) *Host {
	tl.t.Helper()
	ctx, cancel := context.WithTimeout(tl.t.Context(), 10*time.Second)
	defer cancel()
	h, err := tl.AddPrivate(ctx, name, mode)
	if err != nil {
		tl.t.Fatal(err)
	}
	return h
}

// start starts a daemon on h; it is stopped in the lab's cleanup.
func (tl *testLab) start(h *Host, nc NodeConfig) *Daemon {
	tl.t.Helper()
	d, err := tl.startErr(h, nc)
	if err != nil {
		tl.t.Fatal(err)
	}
	return d
}

// startErr is start for other goroutines than the test's.
func (tl *testLab) startErr(h *Host, nc NodeConfig) (*Daemon, error) {
	ctx, cancel := context.WithTimeout(tl.t.Context(), 30*time.Second)
	defer cancel()
	tl.mu.Lock()
	tl.n++
	dir := filepath.Join(tl.dir, fmt.Sprintf("%s-%d", h.Name, tl.n))
	tl.mu.Unlock()
	d, err := StartDaemon(ctx, binary, h, dir, nc)
	if err != nil {
		return nil, err
	}
	tl.mu.Lock()
	tl.daemons = append(tl.daemons, d)
	tl.mu.Unlock()
	return d, nil
}

// relay starts a public relay node (reachability forced public: the relay
// service starts only on nodes that believe they are public).
func (tl *testLab) relay(h *Host, transports ...string) *Daemon {
	return tl.start(h, NodeConfig{Transports: transports, Reachability: "public", RelayService: true, LogLevel: os.Getenv("PLEXUS_NATLAB_LOG")})
}

// waitFor is testnet.Eventually for conditions that query daemons: cond gets
// a context that ends after d, and its last error (an HTTP call that
// failed, an outcome that rules the wait out) is part of the failure.
func waitFor(t *testing.T, d time.Duration, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	var last error
	testnet.Eventually(t, d, func() bool {
		ok, err := cond(ctx)
		if err != nil && ctx.Err() == nil {
			last = err
		}
		return ok && err == nil
	}, "%s%s", what, testnet.Lazy(func() string {
		if last == nil {
			return ""
		}
		return fmt.Sprintf(" (last error: %v)", last)
	}))
}

// status returns a daemon's NAT status or fails the test.
func status(t *testing.T, d *Daemon) wire.NATStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	st, err := d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// reservationWith reports whether st holds a reservation with relay.
func reservationWith(st wire.NATStatus, relay peer.ID) bool {
	return slices.ContainsFunc(st.RelayClient.Reservations, func(r wire.NATReservation) bool { return r.Relay == relay.String() })
}

// waitReservation waits until d holds a reservation with one of relays and
// can hole-punch, and returns that relay.
func waitReservation(t *testing.T, d *Daemon, within time.Duration, relays ...*Daemon) *Daemon {
	t.Helper()
	var got *Daemon
	waitFor(t, within, d.Host.Name+" reserves a relay slot and knows its public address", func(ctx context.Context) (bool, error) {
		st, err := d.Status(ctx)
		if err != nil {
			return false, err
		}
		for _, r := range relays {
			if reservationWith(st, r.ID) && st.HolePunch.Ready {
				got = r
				return true, nil
			}
		}
		return false, nil
	})
	return got
}

// directTo returns the direct (not relayed) connection of d to p, if any.
func directTo(ctx context.Context, d *Daemon, p peer.ID) (string, bool, error) {
	ps, err := d.Peers(ctx)
	if err != nil {
		return "", false, err
	}
	for _, c := range ps {
		if c.PeerID == p.String() && !strings.Contains(c.Addr, "p2p-circuit") {
			return c.Transport, true, nil
		}
	}
	return "", false, nil
}

// relayedTo reports whether d is connected to p through a relay.
func relayedTo(ctx context.Context, d *Daemon, p peer.ID) (bool, error) {
	ps, err := d.Peers(ctx)
	if err != nil {
		return false, err
	}
	for _, c := range ps {
		if c.PeerID == p.String() && strings.Contains(c.Addr, "p2p-circuit") {
			return true, nil
		}
	}
	return false, nil
}
