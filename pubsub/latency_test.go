package pubsub_test

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	ps "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/pubsub"
)

// meshTracer follows one node's mesh of one topic.
type meshTracer struct {
	countTracer
	mu   sync.Mutex
	mesh map[peer.ID]bool
}

func (m *meshTracer) Graft(p peer.ID, _ string) { m.mu.Lock(); m.mesh[p] = true; m.mu.Unlock() }
func (m *meshTracer) Prune(p peer.ID, _ string) { m.mu.Lock(); delete(m.mesh, p); m.mu.Unlock() }
func (m *meshTracer) peers() []peer.ID {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Collect(maps.Keys(m.mesh))
}

// latencyNet is 10 nodes, all connected, serving ping: node 0's links
// have 5, 10, ..., 45 ms of latency, the others 100 ms, so node 0 is every
// other node's fastest peer and its own fastest are nodes 1, 2, 3, ...
func latencyNet(t *testing.T) []host.Host {
	t.Helper()
	mn := testnet.NewNet(t)
	hosts := mn.AddHosts(10)
	for i := range hosts {
		ping.NewPingService(hosts[i])
		for j := i + 1; j < len(hosts); j++ {
			l, err := mn.LinkPeers(hosts[i].ID(), hosts[j].ID())
			if err != nil {
				t.Fatal(err)
			}
			lat := 100 * time.Millisecond
			if i == 0 {
				lat = time.Duration(j) * 5 * time.Millisecond
			}
			l.SetOptions(mocknet.LinkOptions{Latency: lat})
			mn.Connect(hosts[i], hosts[j])
		}
	}
	return hosts
}

// With the mesh latency preference (on by default), a node's mesh takes
// only its fastest topic peers; the slower ones score below 0 and stay out.
// Dhi is above the network's size here, so that no mesh is ever full: a
// full mesh refuses grafts, and a node refused by a fast peer ranks the
// next one in its place (see meshLatency).
func TestMeshPrefersFastestPeers(t *testing.T) {
	hosts := latencyNet(t)
	tr := &meshTracer{mesh: map[peer.ID]bool{}}
	svcs := make([]*pubsub.Service, len(hosts))
	params := pubsub.DefaultGossipSubParams()
	params.HeartbeatInterval = 100 * time.Millisecond
	params.HeartbeatInitialDelay = 10 * time.Millisecond
	params.Dhi = 12
	for i, h := range hosts {
		opts := []pubsub.Option{pubsub.WithGossipSubParams(params)}
		if i == 0 {
			opts = append(opts, pubsub.WithPubSubOptions(ps.WithRawTracer(tr)))
		}
		svcs[i] = newService(t, h, opts...)
		if _, err := svcs[i].Subscribe("lat", 16); err != nil {
			t.Fatal(err)
		}
	}
	fastest := map[peer.ID]bool{}
	for _, h := range hosts[1 : 1+pubsub.DefaultMeshFastest] {
		fastest[h.ID()] = true
	}
	slow := hosts[1+pubsub.DefaultMeshFastest:]
	var why string
	testnet.Eventually(t, 30*time.Second, func() bool {
		scores := svcs[0].PeerScores()
		for _, h := range slow {
			if s, ok := scores[h.ID()]; !ok || s >= 0 {
				why = "a slow peer scores " + peerScore(scores, h.ID())
				return false
			}
		}
		for p := range fastest {
			if s, ok := scores[p]; !ok || s <= 0 {
				why = "a fast peer scores " + peerScore(scores, p)
				return false
			}
		}
		mesh := tr.peers()
		for _, p := range mesh {
			if !fastest[p] {
				why = "the mesh holds a slow peer"
				return false
			}
		}
		if len(mesh) < pubsub.DefaultGossipSubParams().Dlo {
			why = "the mesh has fewer than Dlo peers"
			return false
		}
		return true
	}, "node 0's mesh never settled on its fastest peers: %s", lazy(func() string { return why }))

	// Slow peers are out of the mesh, not out of the topic: they still get
	// node 0's messages (flood publishing to every topic peer scored above
	// -1000).
	sub, err := svcs[len(hosts)-1].Subscribe("lat", 16)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svcs[0].Publish(t.Context(), "lat", []byte("to the slowest")); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, sub, 10*time.Second); string(m.Data) != "to the slowest" {
		t.Fatalf("the slowest peer got %q", m.Data)
	}
}

// Off (WithMeshLatency(0)), nobody scores below 0 for being slow.
func TestMeshLatencyOff(t *testing.T) {
	hosts := latencyNet(t)
	svcs := make([]*pubsub.Service, len(hosts))
	for i, h := range hosts {
		svcs[i] = newService(t, h, pubsub.WithMeshLatency(0))
		if _, err := svcs[i].Subscribe("lat", 16); err != nil {
			t.Fatal(err)
		}
	}
	// Long enough for the preference to have pinged and ranked (1 s) had
	// it been on.
	testnet.Eventually(t, 10*time.Second, func() bool { return len(svcs[0].PeerScores()) == len(hosts)-1 }, "node 0 scores no peers")
	time.Sleep(3 * time.Second)
	for p, s := range svcs[0].PeerScores() {
		if s < 0 {
			t.Fatalf("peer %s scores %f with the latency preference off", p, s)
		}
	}
}

func peerScore(scores map[peer.ID]float64, p peer.ID) string {
	if s, ok := scores[p]; ok {
		return fmt.Sprintf("%.3f (%s)", s, p)
	}
	return fmt.Sprintf("nothing (%s is not scored)", p)
}

// lazy formats as what it returns when printed.
type lazy func() string

func (l lazy) String() string { return l() }
