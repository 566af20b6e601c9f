package pubsub_test

import (
	"testing"
	"time"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/pubsub"
)

// A message published under gossipsub goes to every connected peer of the
// topic, not only to the mesh (flood publishing, as PublishResult.Peers
// says): a peer that joined the topic a moment ago and is not grafted yet
// still gets it. Without flood publishing that peer would only learn of the
// message from gossip at a later heartbeat, or never once it is grafted.
// Here heartbeats never run, so the subscriber is a topic peer of the
// publisher but never enters its mesh.
func TestPublishReachesTopicPeersOutsideTheMesh(t *testing.T) {
	p := pubsub.DefaultGossipSubParams()
	p.HeartbeatInitialDelay = time.Hour
	mn := testnet.NewNet(t)
	hosts := mn.AddHosts(2)
	opts := []pubsub.Option{pubsub.WithGossipSubParams(p), pubsub.WithPublishWait(0)}
	pub := newService(t, hosts[0], opts...)
	sub := newService(t, hosts[1], opts...)
	if err := pub.Join("news"); err != nil {
		t.Fatal(err)
	}
	s, err := sub.Subscribe("news", 1)
	if err != nil {
		t.Fatal(err)
	}
	mn.Connect(hosts[0], hosts[1]) // after both joined: no GRAFT is sent
	testnet.Eventually(t, 10*time.Second, func() bool { return len(pub.Peers("news")) == 1 },
		"the publisher to see the subscriber on the topic")
	if ts := pub.Topics(); ts[0].MeshPeers != 0 {
		t.Fatalf("the subscriber is in the publisher's mesh (%+v): the test needs it outside", ts[0])
	}
	res, err := pub.Publish(t.Context(), "news", []byte("hello"))
	if err != nil || res.Peers != 1 {
		t.Fatalf("publish: %+v, %v", res, err)
	}
	if m := receive(t, s, 10*time.Second); string(m.Data) != "hello" {
		t.Fatalf("got %q", m.Data)
	}
}
