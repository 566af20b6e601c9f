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

func TestGossipSmoke(t *testing.T) {
	for _, kind := range []string{"", BadDrop, BadSpam} {
		o := GossipOptions{Nodes: 150, Degree: 8, Messages: 10, Interval: 200 * time.Millisecond, Warmup: 3 * time.Second,
			Drain: 10 * time.Second, BadKind: kind, SpamRate: 5, Size: 256,
			Net: Config{Latency: Latency{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond}}, Seed: 2, Logf: t.Logf}
		if kind != "" {
			o.Bad = 0.1
		}
		res, err := RunGossip(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v", res)
	}
}
