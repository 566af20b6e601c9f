package node_test

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/internal/testnet"
)

// TestStats checks the running totals: a connection counts, and the bytes
// of a ping (32 bytes each way per round) show up in both directions.
func TestStats(t *testing.T) {
	nodes := testnet.Start(t, 2, testnet.Options{})
	a, b := nodes[0], nodes[1]
	testnet.Eventually(t, 10*time.Second, func() bool { return a.Stats().Peers == 1 }, "a is not connected to b")
	st := a.Stats()
	if st.Connections < 1 || st.Uptime <= 0 || st.Started.After(time.Now()) {
		t.Fatalf("stats %+v", st)
	}
	before := b.Stats()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const rounds = 20
	if _, err := b.Ping(ctx, peer.AddrInfo{ID: a.Info().ID}, rounds); err != nil {
		t.Fatal(err)
	}
	// The counter's totals are taken once a second.
	testnet.Eventually(t, 10*time.Second, func() bool {
		now := b.Stats()
		return now.BytesOut-before.BytesOut >= rounds*32 && now.BytesIn-before.BytesIn >= rounds*32
	}, "b's byte counts did not grow by %d pings: before %+v, now %+v", rounds, before, b.Stats())
}
