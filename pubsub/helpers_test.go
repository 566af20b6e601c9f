package pubsub_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"

	"github.com/plexus-p2p/plexus/pubsub"
)

// fastOpts keeps gossipsub timings short for tests.
func fastOpts() []pubsub.Option {
	p := pubsub.DefaultGossipSubParams()
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
