package sim

import (
	"context"
	"testing"
	"time"

	"github.com/plexus-p2p/plexus/internal/testnet"
)

func TestMain(m *testing.M) { testnet.VerifyNoLeaks(m) }

// smokeNodes is the size of the smoke networks: smaller under the race
// detector, which makes every host several times slower.
func smokeNodes() int {
	if raceEnabled {
		return 40
	}
	return 150
}

var smokeNet = Config{Latency: Latency{Min: 5 * time.Millisecond, Max: 20 * time.Millisecond}, DeadDial: 200 * time.Millisecond, Seed: 1}

// TestDHTSmoke runs the DHT simulation on a small network: lookups succeed
// in a stable network, still find the closest live peer after 30% of the
// nodes left at once, and records put before are found after their owners
// republish.
func TestDHTSmoke(t *testing.T) {
	o := DHTOptions{Nodes: smokeNodes(), Lookups: 15, Records: 5, Concurrency: 8, Depart: 0.3,
		ChurnRate: 0.02, ChurnFor: 2 * time.Second, Net: smokeNet, Seed: 1, Logf: t.Logf}
	res, err := RunDHT(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Phases) != 4 {
		t.Fatalf("phases: got %d, want 4 (stable, departure, during and after churn)", len(res.Phases))
	}
	stable := res.Phases[0]
	if r := stable.Keys.SuccessRate(); r < 0.9 {
		t.Errorf("stable network: %d of %d key lookups found the closest node", stable.Keys.OK, stable.Keys.Count)
	}
	if stable.Keys.Overlap < 0.9 {
		t.Errorf("stable network: key lookups found %.2f of the 20 closest nodes, want at least 0.9", stable.Keys.Overlap)
	}
	if r := stable.Peers.SuccessRate(); r < 0.9 {
		t.Errorf("stable network: %d of %d peer lookups found the peer", stable.Peers.OK, stable.Peers.Count)
	}
	if stable.RecordsBefore < 1 {
		t.Errorf("stable network: %.2f of the records found, want all", stable.RecordsBefore)
	}
	left := res.Phases[1]
	if left.Live != o.Nodes-int(0.3*float64(o.Nodes)) {
		t.Errorf("after the departure: %d live nodes, want %d", left.Live, o.Nodes-int(0.3*float64(o.Nodes)))
	}
	if r := left.Keys.SuccessRate(); r < 0.8 {
		t.Errorf("after 30%% left: %d of %d key lookups found the closest live node", left.Keys.OK, left.Keys.Count)
	}
	if left.Keys.FailedMean == 0 {
		t.Errorf("after 30%% left: no lookup met a departed node")
	}
	for _, ph := range res.Phases[1:] {
		if ph.RecordsAfter >= 0 && ph.RecordsAfter < 0.8 {
			t.Errorf("%s: %.2f of the records found after republishing", ph.Name, ph.RecordsAfter)
		}
	}
	if res.Joined == 0 {
		t.Errorf("no node joined during churn")
	}
}

// TestGossipSmoke publishes a few messages on a small network with a tenth
// of the nodes dropping everything: every honest node gets them.
func TestGossipSmoke(t *testing.T) {
	o := GossipOptions{Nodes: smokeNodes(), Degree: 8, Messages: 5, Interval: 100 * time.Millisecond, Warmup: 3 * time.Second,
		Drain: 15 * time.Second, Bad: 0.1, BadKind: BadDrop, Size: 64, Net: smokeNet, Seed: 2, Logf: t.Logf}
	res, err := RunGossip(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Bad != o.Nodes/10 || res.Honest != o.Nodes-o.Nodes/10 {
		t.Errorf("got %d honest and %d bad nodes, want %d and %d", res.Honest, res.Bad, o.Nodes-o.Nodes/10, o.Nodes/10)
	}
	if res.Delivery < 0.99 {
		t.Errorf("delivery %.3f, want at least 0.99", res.Delivery)
	}
	if res.BytesPerMsg <= 0 {
		t.Errorf("no pubsub bytes counted")
	}
}

func TestParseLatency(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    Latency
		wantErr bool
	}{
		{"20ms-200ms", Latency{20 * time.Millisecond, 200 * time.Millisecond}, false},
		{"50ms", Latency{50 * time.Millisecond, 50 * time.Millisecond}, false},
		{"200ms-20ms", Latency{}, true},
		{"fast", Latency{}, true},
	} {
		got, err := ParseLatency(c.in)
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("ParseLatency(%q) = %v, %v; want %v, error %v", c.in, got, err, c.want, c.wantErr)
		}
	}
}
