//go:build interop

package interop

import (
	"bytes"
	"context"
	"encoding/binary"
	"slices"
	"strconv"
	"testing"
	"time"

	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/node"
	"github.com/plexus-p2p/plexus/pubsub"
)

type jsTopicPeers struct {
	Subscribers []string `json:"subscribers"`
	Mesh        []string `json:"mesh"`
}

// waitJSMesh waits until js has every one of want in its mesh for topic.
func waitJSMesh(t testing.TB, ctx context.Context, js *jsPeer, topic string, want ...peer.ID) {
	t.Helper()
	var tp jsTopicPeers
	testnet.Eventually(t, 20*time.Second, func() bool {
		if err := js.call(ctx, "topicPeers", map[string]any{"topic": topic}, &tp); err != nil {
			return false
		}
		for _, p := range want {
			if !slices.Contains(tp.Mesh, p.String()) {
				return false
			}
		}
		return true
	}, "js peer %s: mesh of %q never had %v (have %+v)", js.name, topic, want, &tp)
}

// waitPlexusMesh waits until n has at least count peers in its mesh for topic
// and sees each of want subscribed.
func waitPlexusMesh(t testing.TB, n *node.Node, topic string, count int, want ...peer.ID) {
	t.Helper()
	testnet.Eventually(t, 20*time.Second, func() bool {
		peers := n.PubSub().Peers(topic)
		for _, p := range want {
			if !slices.Contains(peers, p) {
				return false
			}
		}
		for _, ti := range n.PubSub().Topics() {
			if ti.Name == topic {
				return ti.MeshPeers >= count
			}
		}
		return false
	}, "plexus: topic %q never had %d mesh peers and subscribers %v", topic, count, want)
}

// recvPlexus returns the next message on sub that the node did not publish
// itself (Plexus delivers its own messages to its subscribers too).
func recvPlexus(t testing.TB, ctx context.Context, n *node.Node, sub *pubsub.Subscription) pubsub.Message {
	t.Helper()
	for {
		select {
		case m, ok := <-sub.C():
			if !ok {
				t.Fatal("plexus subscription closed")
			}
			if m.From != n.ID() {
				return m
			}
		case <-ctx.Done():
			t.Fatalf("plexus received nothing on %q: %v", sub.Topic(), ctx.Err())
		}
	}
}

// verifyPubSubSignature checks, with the author's key, the signature a js peer
// received on a message: gossipsub signs "libp2p-pubsub:" followed by the
// protobuf Message without its signature and key fields.
func verifyPubSubSignature(t testing.TB, m jsMessage, author peer.ID) {
	t.Helper()
	if m.Type != "signed" || len(m.Signature) == 0 {
		t.Fatalf("js received an unsigned message (type %q)", m.Type)
	}
	seq, err := strconv.ParseUint(m.Seqno, 10, 64)
	if err != nil {
		t.Fatalf("seqno %q: %v", m.Seqno, err)
	}
	seqno := binary.BigEndian.AppendUint64(nil, seq)
	topic := m.Topic
	msg := pb.Message{ //nolint:govet // built to be marshalled, never copied
		From: []byte(author), Data: m.Data, Seqno: seqno, Topic: &topic}
	raw, err := proto.Marshal(&msg)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := author.ExtractPublicKey()
	if err != nil {
		t.Fatal(err)
	}
	ok, err := pub.Verify(append([]byte("libp2p-pubsub:"), raw...), m.Signature)
	if err != nil || !ok {
		t.Fatalf("the signature js received does not verify with %s's key (ok=%v, err=%v)", author, ok, err)
	}
}

// payload is a message with every byte value, so that a change in any
// encoding layer shows.
func payload(tag string) []byte {
	b := []byte(tag + ":")
	for i := range 256 {
		b = append(b, byte(i))
	}
	return b
}

func testPubSub(t *testing.T, m *matrix) {
	t.Run("direct", func(t *testing.T) {
		ctx := ctxFor(t, 60*time.Second)
		const topic = "interop-direct"
		p := startPlexus(t, nil)
		js := startJS(t, "pubsub", jsConfig{})
		sub, err := p.PubSub().Subscribe(topic, 0)
		if err != nil {
			t.Fatal(err)
		}
		js.must(ctx, "subscribe", map[string]any{"topic": topic}, nil)
		js.must(ctx, "dial", map[string]any{"addr": plexusAddr(t, p, "tcp")}, nil)
		waitJSMesh(t, ctx, js, topic, p.ID())
		waitPlexusMesh(t, p, topic, 1, js.ID)

		t.Run("js-publishes", func(t *testing.T) {
			m.row(t, implNode, "tcp", "gossipsub: byte-exact, author", "js-publishes")
			data := payload("from js")
			var r struct{ Recipients []string }
			js.must(ctx, "publish", map[string]any{"topic": topic, "data": data}, &r)
			got := recvPlexus(t, ctx, p, sub)
			if !bytes.Equal(got.Data, data) {
				t.Fatalf("plexus received %x, want %x", got.Data, data)
			}
			if got.From != js.ID || got.ReceivedFrom != js.ID {
				t.Fatalf("plexus received the message from %s (author %s), want author js %s", got.ReceivedFrom, got.From, js.ID)
			}
		})
		t.Run("plexus-publishes", func(t *testing.T) {
			m.row(t, implNode, "tcp", "gossipsub: byte-exact, author, signature", "plexus-publishes")
			data := payload("from plexus")
			res, err := p.PubSub().Publish(ctx, topic, data)
			if err != nil || res.Peers < 1 {
				t.Fatalf("plexus publish: %v (%+v)", err, res)
			}
			got, err := js.waitMessage(ctx, topic)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Data, data) {
				t.Fatalf("js received %x, want %x", got.Data, data)
			}
			if got.From != p.ID().String() {
				t.Fatalf("js received a message by %s, want plexus %s", got.From, p.ID())
			}
			verifyPubSubSignature(t, got, p.ID())
		})
	})

	t.Run("forwarded/js-plexus-plexus", func(t *testing.T) {
		m.row(t, implNode, "tcp", "gossipsub: forwarded message keeps the js author's signature", "js -> plexus -> plexus")
		ctx := ctxFor(t, 60*time.Second)
		const topic = "interop-forward-1"
		nodes := testnet.Start(t, 2, testnet.Options{})
		p1, p2 := nodes[0], nodes[1]
		sub2, err := p2.PubSub().Subscribe(topic, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p1.PubSub().Subscribe(topic, 0); err != nil {
			t.Fatal(err)
		}
		js := startJS(t, "forward-js", jsConfig{})
		js.must(ctx, "subscribe", map[string]any{"topic": topic}, nil)
		js.must(ctx, "dial", map[string]any{"addr": plexusAddr(t, p1, "tcp")}, nil)
		waitJSMesh(t, ctx, js, topic, p1.ID())
		waitPlexusMesh(t, p1, topic, 2, js.ID, p2.ID())
		if c := p2.Host().Network().ConnsToPeer(js.ID); len(c) > 0 {
			t.Fatalf("plexus 2 is connected to js directly (%v): the message would not be forwarded", c[0].RemoteMultiaddr())
		}
		data := payload("js via plexus")
		js.must(ctx, "publish", map[string]any{"topic": topic, "data": data}, nil)
		got := recvPlexus(t, ctx, p2, sub2)
		if !bytes.Equal(got.Data, data) {
			t.Fatalf("plexus 2 received %x, want %x", got.Data, data)
		}
		// Plexus runs gossipsub with StrictSign: the message reached the
		// subscriber only because js's signature verified at both nodes.
		if got.From != js.ID || got.ReceivedFrom != p1.ID() {
			t.Fatalf("plexus 2 got the message by %s from %s, want by js %s from plexus 1 %s", got.From, got.ReceivedFrom, js.ID, p1.ID())
		}
	})

	t.Run("forwarded/plexus-js-js", func(t *testing.T) {
		m.row(t, implNode, "tcp", "gossipsub: forwarded message keeps the Plexus author's signature", "plexus -> js -> js")
		ctx := ctxFor(t, 60*time.Second)
		const topic = "interop-forward-2"
		p := startPlexus(t, nil)
		j1 := startJS(t, "forward-js1", jsConfig{})
		j2 := startJS(t, "forward-js2", jsConfig{})
		if _, err := p.PubSub().Subscribe(topic, 0); err != nil {
			t.Fatal(err)
		}
		j1.must(ctx, "subscribe", map[string]any{"topic": topic}, nil)
		j2.must(ctx, "subscribe", map[string]any{"topic": topic}, nil)
		j2.must(ctx, "dial", map[string]any{"addr": j1.Addrs[0].String() + "/p2p/" + j1.ID.String()}, nil)
		if _, err := p.Connect(ctx, j1.AddrInfo("tcp")); err != nil {
			t.Fatal(err)
		}
		waitJSMesh(t, ctx, j1, topic, p.ID(), j2.ID)
		waitJSMesh(t, ctx, j2, topic, j1.ID)
		waitPlexusMesh(t, p, topic, 1, j1.ID)
		var cs struct{ Connections []jsConn }
		j2.must(ctx, "connections", map[string]any{"peer": p.ID().String()}, &cs)
		if len(cs.Connections) > 0 {
			t.Fatalf("js 2 is connected to plexus directly: the message would not be forwarded")
		}
		data := payload("plexus via js")
		if _, err := p.PubSub().Publish(ctx, topic, data); err != nil {
			t.Fatal(err)
		}
		got, err := j2.waitMessage(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Data, data) || got.From != p.ID().String() {
			t.Fatalf("js 2 received %q by %s, want %q by plexus %s", got.Data, got.From, data, p.ID())
		}
		verifyPubSubSignature(t, got, p.ID())
	})
}
