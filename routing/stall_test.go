package routing_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/host"
	corenet "github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/routing"
)

// Issue 20 row 9, the QUIC case: a killed peer's QUIC connection still looks
// open for about 30s, so no dial happens and the dial timeout never applies.
// Peers that stay connected but never answer a DHT request stand in for
// them here: a lookup gives up on each after the query timeout rather than
// kad-dht's 10s, and the next lookup leaves them out.
func TestLookupsDoNotWaitOnStalledPeers(t *testing.T) {
	const n, stalled = 6, 2
	asker, hung, _ := stalledNet(t, n, stalled, time.Second)
	// kad-dht alone waits 10s for each answer.
	for i, key := range []string{"some key", "another key"} {
		ctx, cancel := context.WithTimeout(t.Context(), 6*time.Second)
		start := time.Now()
		_, err := asker.Closest(ctx, key)
		cancel()
		t.Logf("lookup %d with %d of %d peers stalled: %s", i+1, stalled, n, time.Since(start))
		if err != nil {
			t.Fatalf("lookup %d with %d of %d peers stalled: %v", i+1, stalled, n, err)
		}
	}
	if got := tablePeers(asker); containsAny(got, hung) {
		t.Fatalf("after the lookups the routing table %v still holds stalled peers %v", got, hung)
	}
}

// Concurrent lookups that meet the same stalled peer: the first request's
// timeout marks it for all of them. kad-dht sends one request at a time to
// a peer and retries a request that timed out on a new stream, so without
// the mark every lookup queued behind the others for a timeout, twice.
func TestConcurrentLookupsAskAStalledPeerOnce(t *testing.T) {
	const n, stalled, lookups = 6, 2, 4
	asker, hung, asked := stalledNet(t, n, stalled, time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, lookups)
	for i := range lookups {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			if _, err := asker.Closest(ctx, fmt.Sprintf("key %d", i)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("lookup with %d of %d peers stalled: %v", stalled, n, err)
	}
	for i, p := range hung {
		if got := asked[i].Load(); got > 1 {
			t.Errorf("stalled peer %s got %d DHT requests from %d concurrent lookups, want at most 1 (the first timeout marks it for all)", p, got, lookups)
		}
	}
}

// stalledNet starts n DHT nodes on loopback TCP, fills their routing
// tables, then makes the last stalled of them stop answering DHT requests
// while staying connected. It returns the asking node (node 1), the stalled
// peers and, for each, how many DHT streams it was asked on since.
func stalledNet(t *testing.T, n, stalled int, timeout time.Duration) (*routing.Service, []peer.ID, []*atomic.Int64) {
	t.Helper()
	rts := make([]*routing.Service, n)
	hosts := make([]host.Host, n)
	for i := range rts {
		hosts[i] = testnet.Host(t, libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
		rts[i] = newRouting(t, hosts[i], routing.WithQueryDialTimeout(timeout), routing.WithDHTOptions(dht.DisableAutoRefresh()))
	}
	for i := 1; i < n; i++ {
		testnet.Connect(t, hosts[i], hosts[0])
	}
	for i, rt := range rts {
		testnet.Eventually(t, 30*time.Second, func() bool {
			if rt.Size() < n-1 {
				ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
				_ = rt.Refresh(ctx)
				cancel()
			}
			return rt.Size() == n-1
		}, "node %d routing table has %d peers, want %d", i, rt.Size(), n-1)
	}
	asker, h := rts[1], hosts[1]
	var hung []peer.ID
	var asked []*atomic.Int64
	for i := n - stalled; i < n; i++ {
		hung = append(hung, hosts[i].ID())
		count := new(atomic.Int64)
		asked = append(asked, count)
		var kad []string
		for _, p := range hosts[i].Mux().Protocols() {
			if strings.HasSuffix(string(p), "/kad/1.0.0") {
				kad = append(kad, string(p))
			}
		}
		if len(kad) == 0 {
			t.Fatalf("host %d speaks no DHT protocol", i)
		}
		// Its DHT stops; requests are read and never answered.
		_ = rts[i].Close()
		for _, p := range kad {
			hosts[i].SetStreamHandler(protocolID(p), func(s corenet.Stream) {
				if s.Conn().RemotePeer() == h.ID() {
					count.Add(1)
				}
				<-t.Context().Done()
				_ = s.Reset()
			})
		}
		// Streams the DHT kept open are gone: the asker opens new ones.
		for _, c := range hosts[i].Network().ConnsToPeer(h.ID()) {
			for _, s := range c.GetStreams() {
				_ = s.Reset()
			}
		}
	}
	for _, p := range hung {
		if h.Network().Connectedness(p) != corenet.Connected {
			t.Fatalf("the asker lost its connection to %s; the test needs it open", p)
		}
	}
	return asker, hung, asked
}

func containsAny(set, want []peer.ID) bool {
	for _, p := range want {
		for _, q := range set {
			if p == q {
				return true
			}
		}
	}
	return false
}

func protocolID(s string) protocol.ID { return protocol.ID(s) }
