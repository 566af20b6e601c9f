package node_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/messaging"
)

// Issue 20 row 1: a hostile peer (plain go-libp2p) opens 600 streams on one
// connection and never negotiates a protocol. Before the fix its streams
// filled the transient scope that all peers share (~500 streams here), so
// every other peer's new streams were reset for the 10 s negotiation
// timeout. Now it holds at most resource_manager.max_pending_streams_per_peer
// of them; a good peer's request is served meanwhile, and the attacker's own
// request is refused as busy (HTTP 503), not as an internal error.
func TestStreamFloodWithoutNegotiationIsolated(t *testing.T) {
	nodes := testnet.Start(t, 2, testnet.Options{})
	target, good := nodes[0], nodes[1]
	const echo = "/app/echo/1.0.0"
	if err := target.Messaging().Handle(echo, func(_ context.Context, _ peer.ID, req []byte) ([]byte, error) {
		return req, nil
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	attacker := testnet.Host(t)
	if err := attacker.Connect(ctx, peer.AddrInfo{ID: target.ID(), Addrs: target.Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
	const flood = 600
	var reset atomic.Int64
	var wg sync.WaitGroup
	defer wg.Wait()
	for range flood {
		s, err := attacker.Network().NewStream(ctx, target.ID())
		if err != nil {
			t.Fatalf("attacker: new stream: %v", err)
		}
		defer s.Reset()
		// One byte of a multistream header, never completed: the stream
		// reaches the target and waits there for its protocol.
		if _, err := s.Write([]byte{0x13}); err != nil {
			reset.Add(1)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Read(make([]byte, 1)); err != nil && errors.Is(err, network.ErrReset) && ctx.Err() == nil {
				reset.Add(1)
			}
		}()
	}
	held := func() int {
		var n int
		_ = target.Host().Network().ResourceManager().ViewPeer(attacker.ID(), func(s network.PeerScope) error {
			n = s.Stat().NumStreamsInbound
			return nil
		})
		return n
	}
	testnet.Eventually(t, 20*time.Second, func() bool { return held()+int(reset.Load()) >= flood },
		"the target neither holds nor refused the attacker's streams: holds %d, reset %d of %d",
		testnet.Lazy(func() string { return fmt.Sprint(held()) }), testnet.Lazy(func() string { return fmt.Sprint(reset.Load()) }), flood)
	limit := config.DefaultMaxPendingStreamsPerPeer // the default config's 0
	if h := held(); h > limit {
		t.Errorf("the attacker holds %d streams that never negotiated, want at most %d", h, limit)
	}

	// The good peer is served while the attacker holds its share.
	for i := range 5 {
		if _, err := good.Send(ctx, target.ID(), echo, []byte{byte(i)}); err != nil {
			t.Fatalf("good peer's request %d during the flood: %v", i, err)
		}
	}
	// The attacker's own request finds its share full: busy (503), retryable.
	if _, err := messaging.Send(ctx, attacker, target.ID(), echo, []byte("x"), 0); !errors.Is(err, messaging.ErrBusy) {
		t.Errorf("attacker's request over its share: %v, want ErrBusy", err)
	}
}
