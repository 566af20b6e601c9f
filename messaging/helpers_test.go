package messaging_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/messaging"
)

// newService returns a service on h, closed at cleanup (before the hosts).
func newService(t testing.TB, h host.Host, opts ...messaging.Option) *messaging.Service {
	t.Helper()
	opts = append([]messaging.Option{messaging.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	s, err := messaging.New(h, opts...)
	if err != nil {
		t.Fatalf("messaging.New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// handle registers fn on s or fails the test.
func handle(t testing.TB, s *messaging.Service, proto string, fn messaging.HandlerFunc) {
	t.Helper()
	if err := s.Handle(protoID(proto), fn); err != nil {
		t.Fatalf("Handle(%s): %v", proto, err)
	}
}

func echo(_ context.Context, _ peer.ID, req []byte) ([]byte, error) { return req, nil }

// event is one published event.
type event struct {
	typ  string
	data any
}

// recorder is a Publisher that keeps events for the test to wait on.
type recorder struct{ ch chan event }

func newRecorder() *recorder { return &recorder{ch: make(chan event, 4096)} }

func (r *recorder) Publish(typ string, data any) {
	select {
	case r.ch <- event{typ, data}:
	default:
	}
}

// next returns the next event of type typ, skipping others; it fails the
// test if none arrives within 5 seconds.
func (r *recorder) next(t testing.TB, typ string) any {
	t.Helper()
	timer := time.NewTimer(5 * time.Second)
	defer timer.Stop()
	for {
		select {
		case e := <-r.ch:
			if e.typ == typ {
				return e.data
			}
		case <-timer.C:
			t.Fatalf("no %s event published", typ)
			return nil
		}
	}
}

// waitCounters waits until proto's handler on s has counted handled and failed requests.
func waitCounters(t testing.TB, s *messaging.Service, proto string, handled, failed uint64) {
	t.Helper()
	var hi messaging.HandlerInfo
	testnet.Eventually(t, 5*time.Second, func() bool {
		hi = handlerInfo(t, s, proto)
		return hi.Handled == handled && hi.Failed == failed
	}, "%s counters handled=%d failed=%d, last %+v", proto, handled, failed, &hi)
}

// handlerInfo returns the HandlerInfo of proto on s.
func handlerInfo(t testing.TB, s *messaging.Service, proto string) messaging.HandlerInfo {
	t.Helper()
	for _, hi := range s.Handlers() {
		if string(hi.Protocol) == proto {
			return hi
		}
	}
	t.Fatalf("no handler for %s in %+v", proto, s.Handlers())
	return messaging.HandlerInfo{}
}

func protoID(s string) protocol.ID { return protocol.ID(s) }
