package node

import (
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	ma "github.com/multiformats/go-multiaddr"
	dto "github.com/prometheus/client_model/go"
)

// newTestAdmission is a connAdmission over a resource manager with one
// inbound connection slot.
func newTestAdmission(t *testing.T, wait time.Duration) *connAdmission {
	t.Helper()
	limits := rcmgr.PartialLimitConfig{System: rcmgr.ResourceLimits{ConnsInbound: 1}}.Build(rcmgr.InfiniteLimits)
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rm.Close() })
	return newConnAdmission(rm, wait, nil)
}

// Issue 20 row 3: an inbound TCP connection that finds every slot taken
// gets the next one that comes free rather than being refused.
func TestConnAdmissionWaitsForASlot(t *testing.T) {
	a := newTestAdmission(t, time.Minute)
	tcp := ma.StringCast("/ip4/127.0.0.1/tcp/4001")
	first, err := a.OpenConnection(network.DirInbound, true, tcp)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		s, err := a.OpenConnection(network.DirInbound, true, tcp)
		if err == nil {
			s.Done()
		}
		got <- err
	}()
	// The second connection waits while the first holds the only slot.
	for i := 0; waits(a) == 0; i++ {
		if i == 10000 {
			t.Fatal("the second connection never waited for a slot")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-got:
		t.Fatalf("the second connection did not wait for the slot: %v", err)
	default:
	}
	first.Done()
	if err := <-got; err != nil {
		t.Fatalf("the second connection was refused after the slot came free: %v", err)
	}
}

// When no slot comes free within the wait, the connection is refused, and
// the next ones are refused without waiting until a slot comes free.
func TestConnAdmissionRefusesWhenNothingFrees(t *testing.T) {
	a := newTestAdmission(t, 50*time.Millisecond)
	tcp := ma.StringCast("/ip4/127.0.0.1/tcp/4001")
	first, err := a.OpenConnection(network.DirInbound, true, tcp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.OpenConnection(network.DirInbound, true, tcp); !errors.Is(err, network.ErrResourceLimitExceeded) {
		t.Fatalf("second connection: got %v, want the resource limit error", err)
	}
	if _, err := a.OpenConnection(network.DirInbound, true, tcp); !errors.Is(err, network.ErrResourceLimitExceeded) {
		t.Fatalf("third connection: got %v, want the resource limit error", err)
	}
	if n := waits(a); n != 1 {
		t.Fatalf("%v connections waited, want 1 (the third is refused at once: nothing came free)", n)
	}
	// A QUIC connection (no file descriptor) never waits.
	if _, err := a.OpenConnection(network.DirInbound, false, ma.StringCast("/ip4/127.0.0.1/udp/4001/quic-v1")); !errors.Is(err, network.ErrResourceLimitExceeded) {
		t.Fatalf("QUIC connection: got %v, want the resource limit error", err)
	}
	if n := waits(a); n != 1 {
		t.Fatalf("%v connections waited, want 1 (QUIC's do not wait)", n)
	}
	// Once a slot comes free, connections are admitted (and wait) again.
	first.Done()
	s, err := a.OpenConnection(network.DirInbound, true, tcp)
	if err != nil {
		t.Fatalf("after the slot came free: %v", err)
	}
	s.Done()
}

// waits is how many connections waited for a slot.
func waits(a *connAdmission) float64 {
	var m dto.Metric
	if err := a.queued.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}
