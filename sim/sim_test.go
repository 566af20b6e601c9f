package sim

import (
	"context"
	"testing"
	"time"
)

func TestDHTSmoke(t *testing.T) {
	o := DHTOptions{Nodes: 150, Lookups: 20, Records: 5, Concurrency: 8, Depart: 0.3,
		ChurnRate: 0.02, ChurnFor: 3 * time.Second,
		Net: Config{Latency: Latency{Min: 5 * time.Millisecond, Max: 20 * time.Millisecond}, DeadDial: 200 * time.Millisecond}, Seed: 1, Logf: t.Logf}
	res, err := RunDHT(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, ph := range res.Phases {
		t.Logf("%+v", ph)
	}
}
