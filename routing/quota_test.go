package routing_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	pb "github.com/libp2p/go-libp2p-kad-dht/pb"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multihash"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/routing"
)

// counter reads a counter of reg with the given labels (0 when absent).
func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// Issue 20 row 5: a peer stores records on a node until its quota, then is
// refused; when the node's total is reached, a good peer's records still go
// in and the oldest records of the peer storing the most are evicted;
// provider records beyond the peer's quota or the total are refused; the
// metrics count what was refused and evicted.
func TestRecordQuotas(t *testing.T) {
	reg := prometheus.NewRegistry()
	_, rts := network(t, 3, func(i int) []routing.Option {
		opts := []routing.Option{routing.WithValidator("t", acceptAll{})}
		if i == 0 {
			opts = append(opts, routing.WithRegistry(reg), routing.WithQuotas(routing.Quotas{
				PeerValues: 5, Values: 8, PeerProviders: 5, Providers: 8}))
		}
		return opts
	})
	target := peerOf(rts[0])
	messenger := func(rt *routing.Service) *pb.ProtocolMessenger {
		pm, err := pb.NewProtocolMessenger(rt.DHT().MessageSender())
		if err != nil {
			t.Fatal(err)
		}
		return pm
	}
	attacker, good := messenger(rts[1]), messenger(rts[2])
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	stored := func(key string) bool {
		rec, _, err := good.GetValue(ctx, target, key)
		if err != nil {
			t.Fatalf("get %s: %v", key, err)
		}
		return rec != nil
	}

	// The attacker: 2 KiB records, 5 stored, 5 refused.
	for i := range 10 {
		key := fmt.Sprintf("/t/attacker-%d", i)
		err := attacker.PutValue(ctx, target, record.MakePutRecord(key, make([]byte, 2048)))
		if (i < 5) != (err == nil) {
			t.Fatalf("attacker put %d: %v; want the first 5 stored and the rest refused", i, err)
		}
	}
	for i := range 10 {
		if got := stored(fmt.Sprintf("/t/attacker-%d", i)); got != (i < 5) {
			t.Fatalf("attacker record %d stored: %v", i, got)
		}
	}
	// kad-dht's sender retries a failed request once on a new stream: each
	// refused record is one or two refused requests.
	if n := counter(t, reg, "plexus_dht_records_refused_total", map[string]string{"kind": "value", "reason": "peer_count"}); n < 5 || n > 10 {
		t.Fatalf("refused value record requests: %v, want 5 to 10", n)
	}

	// A good peer: 5 records of 1 KiB; the total of 8 makes room by
	// evicting the attacker's 2 oldest.
	for i := range 5 {
		key := fmt.Sprintf("/t/good-%d", i)
		if err := good.PutValue(ctx, target, record.MakePutRecord(key, make([]byte, 1024))); err != nil {
			t.Fatalf("good put %d: %v", i, err)
		}
		time.Sleep(time.Millisecond) // distinct receive times
	}
	for i := range 5 {
		if !stored(fmt.Sprintf("/t/good-%d", i)) {
			t.Fatalf("good record %d was not kept", i)
		}
		if got := stored(fmt.Sprintf("/t/attacker-%d", i)); got != (i >= 2) {
			t.Fatalf("attacker record %d stored: %v; want the 2 oldest evicted", i, got)
		}
	}
	if n := counter(t, reg, "plexus_dht_records_evicted_total", nil); n != 2 {
		t.Fatalf("evicted: %v, want 2", n)
	}

	// Provider records: the attacker's beyond 5 are refused, the good
	// peer's beyond the total of 8.
	provide := func(pm *pb.ProtocolMessenger, rt *routing.Service, name string, n int) {
		h := rt.DHT().Host()
		for i := range n {
			mh, _ := multihash.Sum(fmt.Appendf(nil, "%s-%d", name, i), multihash.SHA2_256, -1)
			if err := pm.PutProviderAddrs(ctx, target, mh, peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}); err != nil {
				t.Fatalf("provide %s %d: %v", name, i, err)
			}
		}
	}
	provided := func(name string, i int) bool {
		mh, _ := multihash.Sum(fmt.Appendf(nil, "%s-%d", name, i), multihash.SHA2_256, -1)
		provs, _, err := good.GetProviders(ctx, target, mh)
		if err != nil {
			t.Fatal(err)
		}
		return len(provs) > 0
	}
	provide(attacker, rts[1], "attacker", 7)
	provide(good, rts[2], "good", 5)
	refused := func(reason string) float64 {
		return counter(t, reg, "plexus_dht_records_refused_total", map[string]string{"kind": "provider", "reason": reason})
	}
	// ADD_PROVIDER has no answer: kad-dht resets the stream of a refused
	// one, and the sender's next announcements on it are lost too.
	testnet.Eventually(t, 20*time.Second, func() bool { return refused("peer_count") >= 1 && refused("total_count") >= 1 },
		"%s", testnet.Lazy(func() string {
			return fmt.Sprintf("refused provider records: %v over the peer quota, %v over the total; want some of both", refused("peer_count"), refused("total_count"))
		}))
	for i := range 7 {
		if got := provided("attacker", i); got != (i < 5) {
			t.Fatalf("attacker provider record %d stored: %v", i, got)
		}
	}
	for i := range 5 {
		if got := provided("good", i); got != (i < 3) {
			t.Fatalf("good provider record %d stored: %v", i, got)
		}
	}
}
