package pubsub_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/pubsub"
)

// throttleEvents records the pubsub.peer_throttled events.
type throttleEvents struct {
	mu  sync.Mutex
	got []pubsub.PeerThrottledEvent
}

func (e *throttleEvents) Publish(typ string, data any) {
	if typ != pubsub.EventPeerThrottled {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, data.(pubsub.PeerThrottledEvent))
}

func (e *throttleEvents) list() []pubsub.PeerThrottledEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]pubsub.PeerThrottledEvent(nil), e.got...)
}

// Issue 20 row 7: one peer floods 5,000 valid, signed messages as fast as
// it can. Before the fix the node validated all of them (dropping whatever
// did not fit its validation queue, silently) and the flooder kept a
// clean score. Now the messages beyond the peer's rate are dropped before
// validation, counted (PeerStats, the metric, an event) and penalised until
// the flooder is graylisted, while an honest peer's messages all arrive and
// its score stays non-negative.
func TestFloodingPeerIsRateLimitedAndPenalised(t *testing.T) {
	const (
		rate, burst = 100, 100
		flood       = 5000
		topic       = "busy"
	)
	mn := testnet.NewNet(t)
	hosts := mn.AddHosts(2)
	mn.Connect(hosts[0], hosts[1])
	reg := prometheus.NewRegistry()
	evs := &throttleEvents{}
	honest := newService(t, hosts[0])
	victim := newService(t, hosts[1], pubsub.WithPeerRateLimit(rate, burst), pubsub.WithMetrics(reg), pubsub.WithEvents(evs))
	sub, err := victim.Subscribe(topic, pubsub.MaxSubscriberBuffer)
	if err != nil {
		t.Fatal(err)
	}
	if err := honest.Join(topic); err != nil {
		t.Fatal(err)
	}

	r := newRawPeer(t, mn)
	r.dial(mn, hosts[1])
	r.subscribe(topic)
	testnet.Eventually(t, 5*time.Second, func() bool {
		_, ok := victim.PeerScores()[r.h.ID()]
		return ok
	}, "victim to track the flooder")

	msgs := make([]*pb.Message, flood)
	for i := range msgs {
		msgs[i] = message(t, topic, []byte("flood"), uint64(i+1), r.h.ID(), r.key)
	}
	for i := 0; i < flood; i += 10 {
		r.sendLoose(&pb.RPC{Publish: msgs[i : i+10]})
	}
	stat := func() pubsub.PeerStat {
		for _, s := range victim.PeerStats() {
			if s.Peer == r.h.ID() {
				return s
			}
		}
		return pubsub.PeerStat{}
	}
	testnet.Eventually(t, 20*time.Second, func() bool {
		st := stat()
		return st.RateLimited >= flood/2 && st.Score < pubsub.GraylistScoreThreshold && st.State == pubsub.StateGraylisted
	}, "the flooder to be rate limited and graylisted: %+v", testnet.Lazy(func() string { return fmt.Sprintf("%+v", stat()) }))

	// The honest peer is served: every message arrives.
	for i := range 20 {
		if _, err := honest.Publish(t.Context(), topic, []byte{'h', byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	for got < 20 {
		m := receive(t, sub, 10*time.Second)
		if m.From == hosts[0].ID() {
			got++
		}
	}
	for _, s := range victim.PeerStats() {
		if s.Peer == hosts[0].ID() && (s.Score < 0 || s.RateLimited > 0) {
			t.Errorf("honest peer: %+v", s)
		}
	}

	// The drops are visible: the metric and an event name the flooder.
	dropped := droppedMetric(t, reg, "rate_limited")
	if dropped < float64(stat().RateLimited) {
		t.Errorf("metric counts %v rate-limited messages, PeerStats %d", dropped, stat().RateLimited)
	}
	evList := evs.list()
	if len(evList) == 0 || evList[0].Peer != r.h.ID() || evList[0].Dropped == 0 {
		t.Errorf("throttle events %+v, want one for the flooder", evList)
	}
}

// droppedMetric reads plexus_pubsub_messages_dropped_total{reason}.
func droppedMetric(t *testing.T, reg *prometheus.Registry, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "plexus_pubsub_messages_dropped_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
