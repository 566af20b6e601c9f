package pubsub_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	ps "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/plexus-p2p/plexus/pubsub"
)

// newNet returns a mocknet (no links yet) and n hosts with ed25519 keys.
func newNet(t testing.TB, n int) (mocknet.Mocknet, []host.Host) {
	t.Helper()
	mn := mocknet.New()
	t.Cleanup(func() { _ = mn.Close() })
	hosts := make([]host.Host, n)
	for i := range hosts {
		hosts[i] = addHost(t, mn)
	}
	return mn, hosts
}

var portMu sync.Mutex
var nextPort = 10000

// addHost adds a host with an ed25519 key to mn.
func addHost(t testing.TB, mn mocknet.Mocknet) host.Host {
	t.Helper()
	sk, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	portMu.Lock()
	nextPort++
	port := nextPort
	portMu.Unlock()
	h, err := mn.AddPeer(sk, ma.StringCast(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port)))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// connect links and connects a and b.
func connect(t testing.TB, mn mocknet.Mocknet, a, b host.Host) {
	t.Helper()
	if _, err := mn.LinkPeers(a.ID(), b.ID()); err != nil {
		t.Fatal(err)
	}
	if _, err := mn.ConnectPeers(a.ID(), b.ID()); err != nil {
		t.Fatal(err)
	}
}

// fastOpts keeps gossipsub timings short for tests.
func fastOpts() []pubsub.Option {
	p := ps.DefaultGossipSubParams()
	p.HeartbeatInterval = 100 * time.Millisecond
	p.HeartbeatInitialDelay = 10 * time.Millisecond
	p.UnsubscribeBackoff = 100 * time.Millisecond
	return []pubsub.Option{
		pubsub.WithGossipSubParams(p),
		pubsub.WithScoreInspectInterval(50 * time.Millisecond),
		pubsub.WithLogger(slog.New(slog.DiscardHandler)),
	}
}

// newService starts a Service on h with fastOpts plus opts, closed at cleanup.
func newService(t testing.TB, h host.Host, opts ...pubsub.Option) *pubsub.Service {
	t.Helper()
	s, err := pubsub.New(context.Background(), h, append(fastOpts(), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// receive returns the next message of sub, failing after timeout.
func receive(t testing.TB, sub *pubsub.Subscription, timeout time.Duration) pubsub.Message {
	t.Helper()
	select {
	case m, ok := <-sub.C():
		if !ok {
			t.Fatalf("subscription to %q closed", sub.Topic())
		}
		return m
	case <-time.After(timeout):
		t.Fatalf("no message on %q within %s", sub.Topic(), timeout)
	}
	panic("unreachable")
}

// expectNone fails if sub delivers a message within d.
func expectNone(t testing.TB, sub *pubsub.Subscription, d time.Duration) {
	t.Helper()
	select {
	case m, ok := <-sub.C():
		if ok {
			t.Fatalf("unexpected message on %q from %s: %q", sub.Topic(), m.From, m.Data)
		}
	case <-time.After(d):
	}
}

// eventually polls cond until it holds, failing after timeout.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
