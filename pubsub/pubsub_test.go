package pubsub_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/plexus-p2p/plexus/events"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	ps "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/pubsub"
)

// Twenty nodes on a ring with chords (every node has exactly four
// neighbours, so most pairs are several hops apart) each publish one message;
// every node must receive all twenty exactly once.
func TestEveryMessageReachesEveryNodeExactlyOnce(t *testing.T) {
	const n = 20
	const topic = "swarm"
	mn := testnet.NewNet(t)
	hosts := mn.AddHosts(n)
	for i := range n {
		mn.Connect(hosts[i], hosts[(i+1)%n])
		mn.Connect(hosts[i], hosts[(i+7)%n])
	}
	svcs := make([]*pubsub.Service, n)
	subs := make([]*pubsub.Subscription, n)
	for i, h := range hosts {
		svcs[i] = newService(t, h)
		sub, err := svcs[i].Subscribe(topic, 64)
		if err != nil {
			t.Fatal(err)
		}
		subs[i] = sub
	}
	// Let the mesh settle: a relay forwards only to its mesh, so a peer whose
	// GRAFT is still in flight can miss a message for good.
	testnet.Eventually(t, 10*time.Second, func() bool {
		for _, s := range svcs {
			if ts := s.Topics(); len(ts) != 1 || ts[0].MeshPeers != 4 {
				return false
			}
		}
		return true
	}, "every node to mesh with its 4 neighbours")

	var wg sync.WaitGroup
	for i, s := range svcs {
		wg.Go(func() {
			res, err := s.Publish(t.Context(), topic, fmt.Appendf(nil, "hello from %d", i))
			if err != nil {
				t.Errorf("node %d publish: %v", i, err)
				return
			}
			if res.NoPeers || res.Peers == 0 {
				t.Errorf("node %d published to nobody: %+v", i, res)
			}
		})
	}
	wg.Wait()

	origin := make(map[peer.ID]int, n)
	for i, h := range hosts {
		origin[h.ID()] = i
	}
	for i, sub := range subs {
		got := make(map[peer.ID]int)
		for range n {
			m := receive(t, sub, 10*time.Second)
			j, ok := origin[m.From]
			if !ok {
				t.Fatalf("node %d: message from unknown peer %s", i, m.From)
			}
			if want := fmt.Sprintf("hello from %d", j); string(m.Data) != want {
				t.Fatalf("node %d: message from node %d carries %q, want %q", i, j, m.Data, want)
			}
			got[m.From]++
		}
		for from, c := range got {
			if c != 1 {
				t.Errorf("node %d received the message of node %d %d times", i, origin[from], c)
			}
		}
		if len(got) != n {
			t.Errorf("node %d received messages from %d nodes, want %d", i, len(got), n)
		}
	}
	// No copy may trail behind.
	for _, sub := range subs {
		expectNone(t, sub, 20*time.Millisecond)
	}
	for i, sub := range subs {
		if d := sub.Dropped(); d != 0 {
			t.Errorf("node %d dropped %d messages", i, d)
		}
	}
}

func TestLateJoinerReceivesLaterMessages(t *testing.T) {
	mn := testnet.NewNet(t)
	hosts := mn.AddHosts(3)
	mn.Connect(hosts[0], hosts[1])
	mn.Connect(hosts[1], hosts[2])
	a, b, c := newService(t, hosts[0]), newService(t, hosts[1]), newService(t, hosts[2])

	subB, err := b.Subscribe("news", 8)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Publish(t.Context(), "news", []byte("early")); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, subB, 5*time.Second); string(m.Data) != "early" {
		t.Fatalf("b got %q", m.Data)
	}

	subC, err := c.Subscribe("news", 8)
	if err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 5*time.Second, func() bool {
		tb, tc := b.Topics(), c.Topics()
		return len(tc) == 1 && tc[0].MeshPeers == 1 && len(tb) == 1 && tb[0].MeshPeers == 2
	}, "b and c to mesh")
	if _, err := a.Publish(t.Context(), "news", []byte("late")); err != nil {
		t.Fatal(err)
	}
	for {
		// c may also fetch "early" through gossip; "late" must arrive.
		if m := receive(t, subC, 5*time.Second); string(m.Data) == "late" {
			break
		}
	}
}

func TestPublishRightAfterJoinReachesPeer(t *testing.T) {
	mn := testnet.NewNet(t)
	hosts := mn.AddHosts(2)
	mn.Connect(hosts[0], hosts[1])
	a, b := newService(t, hosts[0]), newService(t, hosts[1])
	sub, err := b.Subscribe("fresh", 4)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Join("fresh"); err != nil {
		t.Fatal(err)
	}
	res, err := a.Publish(t.Context(), "fresh", []byte("first"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Peers != 1 || res.MeshPeers != 1 || res.NoPeers {
		t.Errorf("result %+v, want one peer in the mesh", res)
	}
	if m := receive(t, sub, 5*time.Second); string(m.Data) != "first" {
		t.Fatalf("got %q", m.Data)
	}
}

func TestPublishWithoutPeers(t *testing.T) {
	hosts := testnet.NewNet(t).AddHosts(1)
	s := newService(t, hosts[0], pubsub.WithPublishWait(100*time.Millisecond))
	sub, err := s.Subscribe("lonely", 4)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Publish(t.Context(), "lonely", []byte("anyone?"))
	if err != nil {
		t.Fatal(err)
	}
	if !res.NoPeers || res.Peers != 0 || res.Warning == "" {
		t.Errorf("result %+v, want NoPeers with a warning", res)
	}
	m := receive(t, sub, time.Second)
	if string(m.Data) != "anyone?" || m.From != hosts[0].ID() {
		t.Errorf("local subscriber got %q from %s", m.Data, m.From)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Publish(ctx, "lonely", []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("publish with cancelled context: %v, want context.Canceled", err)
	}
}

func TestOversizedPublishIsRefused(t *testing.T) {
	mn := testnet.NewNet(t)
	hosts := mn.AddHosts(2)
	mn.Connect(hosts[0], hosts[1])
	const limit = 4096
	a := newService(t, hosts[0], pubsub.WithMaxMessageSize(limit))
	b := newService(t, hosts[1], pubsub.WithMaxMessageSize(limit))
	sub, err := b.Subscribe("big", 4)
	if err != nil {
		t.Fatal(err)
	}

	_, err = a.Publish(t.Context(), "big", make([]byte, limit+1))
	if !errors.Is(err, pubsub.ErrTooLarge) {
		t.Fatalf("publish of %d bytes: %v, want ErrTooLarge", limit+1, err)
	}
	if !strings.Contains(err.Error(), "4096") {
		t.Errorf("error %q does not name the limit", err)
	}
	if ts := a.Topics(); len(ts) != 0 {
		t.Errorf("refused publish joined %v", ts)
	}

	// Exactly the limit fits, signed envelope included.
	payload := bytes.Repeat([]byte{0xAB}, limit)
	if _, err := a.Publish(t.Context(), "big", payload); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, sub, 5*time.Second); !bytes.Equal(m.Data, payload) {
		t.Errorf("received %d bytes, want the %d byte payload", len(m.Data), limit)
	}

	// The default limit is 1 MiB.
	d := newService(t, mn.AddHost(nil))
	_, err = d.Publish(t.Context(), "big", make([]byte, pubsub.DefaultMaxMessageSize+1))
	if !errors.Is(err, pubsub.ErrTooLarge) || !strings.Contains(err.Error(), "1048576") {
		t.Errorf("publish over the default limit: %v", err)
	}
}

// Our node, in either router mode, exchanges messages with a node that
// speaks only floodsub.
func TestFloodSubPeer(t *testing.T) {
	for _, router := range []string{pubsub.RouterFloodSub, pubsub.RouterGossipSub} {
		t.Run(router, func(t *testing.T) {
			mn := testnet.NewNet(t)
			hosts := mn.AddHosts(2)
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			legacy, err := ps.NewFloodSub(ctx, hosts[1])
			if err != nil {
				t.Fatal(err)
			}
			lt, err := legacy.Join("legacy")
			if err != nil {
				t.Fatal(err)
			}
			lsub, err := lt.Subscribe()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(lsub.Cancel)

			s := newService(t, hosts[0], pubsub.WithRouter(router))
			mn.Connect(hosts[0], hosts[1])
			sub, err := s.Subscribe("legacy", 4)
			if err != nil {
				t.Fatal(err)
			}

			res, err := s.Publish(t.Context(), "legacy", []byte("to the old node"))
			if err != nil {
				t.Fatal(err)
			}
			if res.Peers != 1 || res.NoPeers {
				t.Errorf("result %+v, want the floodsub peer", res)
			}
			rctx, rcancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer rcancel()
			for {
				m, err := lsub.Next(rctx)
				if err != nil {
					t.Fatalf("floodsub node: %v", err)
				}
				if m.GetFrom() == hosts[0].ID() {
					if string(m.Data) != "to the old node" {
						t.Errorf("floodsub node got %q", m.Data)
					}
					break
				}
			}
			if m := receive(t, sub, time.Second); string(m.Data) != "to the old node" {
				t.Errorf("own local subscriber got %q", m.Data)
			}

			testnet.Eventually(t, 5*time.Second, func() bool {
				return len(legacy.ListPeers("legacy")) == 1
			}, "floodsub node to see our subscription")
			if err := lt.Publish(t.Context(), []byte("from the old node")); err != nil {
				t.Fatal(err)
			}
			m := receive(t, sub, 5*time.Second)
			if string(m.Data) != "from the old node" || m.From != hosts[1].ID() {
				t.Errorf("got %q from %s", m.Data, m.From)
			}
		})
	}
}

func TestSeveralLocalSubscribers(t *testing.T) {
	mn := testnet.NewNet(t)
	hosts := mn.AddHosts(2)
	mn.Connect(hosts[0], hosts[1])
	a, b := newService(t, hosts[0]), newService(t, hosts[1])
	fast1, err := b.Subscribe("multi", 16)
	if err != nil {
		t.Fatal(err)
	}
	fast2, err := b.Subscribe("multi", 16)
	if err != nil {
		t.Fatal(err)
	}
	slow, err := b.Subscribe("multi", 1) // never read until the end
	if err != nil {
		t.Fatal(err)
	}
	if ts := b.Topics(); len(ts) != 1 || ts[0].LocalSubscribers != 3 {
		t.Errorf("topics %+v, want one topic with 3 local subscribers", ts)
	}

	const count = 5
	want := map[string]bool{}
	for i := range count {
		data := fmt.Sprintf("m%d", i)
		want[data] = true
		if _, err := a.Publish(t.Context(), "multi", []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	for name, sub := range map[string]*pubsub.Subscription{"fast1": fast1, "fast2": fast2} {
		got := map[string]bool{}
		for range count {
			got[string(receive(t, sub, 5*time.Second).Data)] = true
		}
		if len(got) != count {
			t.Errorf("%s got %v, want %v", name, got, want)
		}
		if sub.Dropped() != 0 {
			t.Errorf("%s dropped %d", name, sub.Dropped())
		}
	}
	testnet.Eventually(t, 5*time.Second, func() bool { return slow.Dropped() == count-1 }, "slow subscriber to drop 4")
	if m := receive(t, slow, time.Second); !want[string(m.Data)] {
		t.Errorf("slow subscriber got %q", m.Data)
	}

	fast1.Close()
	fast1.Close() // idempotent
	if _, ok := <-fast1.C(); ok {
		t.Error("closed subscription still delivers")
	}
	if _, err := a.Publish(t.Context(), "multi", []byte("after")); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, fast2, 5*time.Second); string(m.Data) != "after" {
		t.Errorf("fast2 got %q", m.Data)
	}
}

func TestBinaryDataRoundTrips(t *testing.T) {
	mn := testnet.NewNet(t)
	hosts := mn.AddHosts(2)
	mn.Connect(hosts[0], hosts[1])
	a, b := newService(t, hosts[0]), newService(t, hosts[1])
	sub, err := b.Subscribe("bin", 8)
	if err != nil {
		t.Fatal(err)
	}
	every := make([]byte, 256)
	for i := range every {
		every[i] = byte(i)
	}
	random := make([]byte, 64<<10)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(r.UintN(256))
	}
	cases := map[string][]byte{
		"all byte values": every,
		"invalid utf-8":   {0xff, 0xfe, 0x00, 0xc3, 0x28},
		"random 64KiB":    random,
		"empty":           {},
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := a.Publish(t.Context(), "bin", data); err != nil {
				t.Fatal(err)
			}
			m := receive(t, sub, 5*time.Second)
			if !bytes.Equal(m.Data, data) {
				t.Fatalf("received %d bytes that differ from the %d sent", len(m.Data), len(data))
			}
			j, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			var back pubsub.Message
			if err := json.Unmarshal(j, &back); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back.Data, data) || back.From != m.From || back.ID != m.ID {
				t.Errorf("JSON round trip changed the message: %s", j)
			}
		})
	}
}

func TestTopicNames(t *testing.T) {
	hosts := testnet.NewNet(t).AddHosts(1)
	s := newService(t, hosts[0])
	cases := []struct {
		name  string
		topic string
		ok    bool
	}{
		{"plain", "chat", true},
		{"unicode", "日本語/チャット", true},
		{"max length", strings.Repeat("a", pubsub.MaxTopicLen), true},
		{"empty", "", false},
		{"too long", strings.Repeat("a", pubsub.MaxTopicLen+1), false},
		{"invalid utf-8", "chat\xff", false},
		{"newline", "chat\nroom", false},
		{"nul", "chat\x00", false},
		{"del", "chat\x7f", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := s.Join(c.topic)
			if c.ok && err != nil {
				t.Fatalf("join %q: %v", c.topic, err)
			}
			if !c.ok && !errors.Is(err, pubsub.ErrInvalidTopic) {
				t.Fatalf("join %q: %v, want ErrInvalidTopic", c.topic, err)
			}
			if c.ok {
				if err := s.Join(c.topic); err != nil {
					t.Errorf("second join %q: %v", c.topic, err)
				}
			}
		})
	}
	if n := len(s.Topics()); n != 3 {
		t.Errorf("%d topics joined, want 3", n)
	}
}

func TestEventsTopicsAndPeers(t *testing.T) {
	mn := testnet.NewNet(t)
	hosts := mn.AddHosts(2)
	mn.Connect(hosts[0], hosts[1])
	rec := &events.Recorder{}
	a := newService(t, hosts[0], pubsub.WithEvents(rec))
	b := newService(t, hosts[1], pubsub.WithPublishWait(time.Second))
	subA, err := a.Subscribe("ev", 4)
	if err != nil {
		t.Fatal(err)
	}
	subB, err := b.Subscribe("ev", 4)
	if err != nil {
		t.Fatal(err)
	}

	res, err := a.Publish(t.Context(), "ev", []byte("out"))
	if err != nil {
		t.Fatal(err)
	}
	receive(t, subB, 5*time.Second)
	receive(t, subA, time.Second) // own message
	if _, err := b.Publish(t.Context(), "ev", []byte("in!")); err != nil {
		t.Fatal(err)
	}
	in := receive(t, subA, 5*time.Second)
	if in.ID != fmt.Sprintf("%s/%d", hosts[1].ID(), in.Seqno) || in.Topic != "ev" || in.ReceivedFrom != hosts[1].ID() {
		t.Errorf("message %+v", in)
	}

	if got := rec.Data(pubsub.EventJoined); len(got) != 1 || got[0] != (pubsub.TopicEvent{Topic: "ev"}) {
		t.Errorf("joined events %v", got)
	}
	pub := rec.Data(pubsub.EventPublished)
	if len(pub) != 1 || pub[0] != (pubsub.PublishedEvent{Topic: "ev", Size: 3, Peers: 1, MeshPeers: res.MeshPeers}) {
		t.Errorf("published events %v", pub)
	}
	testnet.Eventually(t, time.Second, func() bool { return len(rec.Data(pubsub.EventMessage)) == 1 }, "message event")
	msg := rec.Data(pubsub.EventMessage)[0].(pubsub.MessageEvent)
	if msg.From != hosts[1].ID() || msg.Seqno != in.Seqno || msg.Size != 3 || msg.Topic != "ev" || msg.ID != in.ID {
		t.Errorf("message event %+v for message %+v", msg, in)
	}

	topics := a.Topics()
	want := pubsub.TopicInfo{Name: "ev", MeshPeers: 1, Peers: 1, LocalSubscribers: 1}
	if len(topics) != 1 || topics[0] != want {
		t.Errorf("topics %+v, want %+v", topics, want)
	}
	if p := a.Peers("ev"); len(p) != 1 || p[0] != hosts[1].ID() {
		t.Errorf("peers %v", p)
	}

	if err := a.Leave("ev"); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-subA.C(); ok {
		t.Error("subscription open after Leave")
	}
	if got := rec.Data(pubsub.EventLeft); len(got) != 1 || got[0] != (pubsub.TopicEvent{Topic: "ev"}) {
		t.Errorf("left events %v", got)
	}
	if err := a.Leave("ev"); !errors.Is(err, pubsub.ErrNotJoined) {
		t.Errorf("second leave: %v", err)
	}
	testnet.Eventually(t, 5*time.Second, func() bool { return len(b.Peers("ev")) == 0 }, "b to see a leave")

	// Rejoin works after leaving.
	subA, err = a.Subscribe("ev", 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Publish(t.Context(), "ev", []byte("again")); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, subA, 5*time.Second); string(m.Data) != "again" {
		t.Errorf("after rejoin got %q", m.Data)
	}
}

func TestClose(t *testing.T) {
	hosts := testnet.NewNet(t).AddHosts(1)
	s, err := pubsub.New(t.Context(), hosts[0], fastOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := s.Subscribe("x", 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, ok := <-sub.C(); ok {
		t.Error("subscription open after Close")
	}
	sub.Close()
	if _, err := s.Publish(t.Context(), "x", nil); !errors.Is(err, pubsub.ErrClosed) {
		t.Errorf("publish after close: %v", err)
	}
	if _, err := s.Subscribe("x", 1); !errors.Is(err, pubsub.ErrClosed) {
		t.Errorf("subscribe after close: %v", err)
	}
	if len(s.Topics()) != 0 {
		t.Error("topics after close")
	}
	for _, p := range hosts[0].Mux().Protocols() {
		if strings.HasPrefix(string(p), "/meshsub/") || strings.HasPrefix(string(p), "/floodsub/") {
			t.Errorf("protocol %s still handled after close", p)
		}
	}
}

func TestOptionsAreValidated(t *testing.T) {
	hosts := testnet.NewNet(t).AddHosts(1)
	cases := map[string]pubsub.Option{
		"unknown router":    pubsub.WithRouter("randomsub"),
		"zero size":         pubsub.WithMaxMessageSize(0),
		"huge size":         pubsub.WithMaxMessageSize(1 << 30),
		"negative wait":     pubsub.WithPublishWait(-time.Second),
		"nil score":         pubsub.WithPeerScore(nil, nil),
		"nil topic score":   pubsub.WithTopicScoreParams(nil),
		"zero inspect":      pubsub.WithScoreInspectInterval(0),
		"bad gossip params": pubsub.WithGossipSubParams(ps.GossipSubParams{D: 1, Dlo: 5, Dhi: 3}),
		"negative fastest":  pubsub.WithMeshLatency(-1),
	}
	for name, opt := range cases {
		t.Run(name, func(t *testing.T) {
			s, err := pubsub.New(t.Context(), hosts[0], opt)
			if err == nil {
				s.Close()
				t.Fatal("New accepted an invalid option")
			}
		})
	}
	if _, err := newService(t, hosts[0]).Subscribe("t", pubsub.MaxSubscriberBuffer+1); err == nil {
		t.Error("Subscribe accepted an oversized buffer")
	}
}
