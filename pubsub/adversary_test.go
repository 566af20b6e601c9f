package pubsub_test

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	ps "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/plexus-p2p/plexus/internal/testnet"
)

// rawPeer speaks the gossipsub wire format by hand, so it can send what a
// well-behaved router never would.
type rawPeer struct {
	t   testing.TB
	h   host.Host
	key crypto.PrivKey
	s   network.Stream
}

func newRawPeer(t testing.TB, mn *testnet.Net) *rawPeer {
	t.Helper()
	h := mn.AddHost(nil)
	// Accept the victim's stream to us, so it tracks (and scores) us.
	h.SetStreamHandler(ps.GossipSubID_v11, func(s network.Stream) {
		_, _ = io.Copy(io.Discard, s)
		_ = s.Reset()
	})
	return &rawPeer{t: t, h: h, key: h.Peerstore().PrivKey(h.ID())}
}

// dial connects to victim and opens a gossipsub stream to it.
func (r *rawPeer) dial(mn *testnet.Net, victim host.Host) {
	r.t.Helper()
	mn.Connect(r.h, victim)
	s, err := r.h.NewStream(r.t.Context(), victim.ID(), ps.GossipSubID_v11)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { _ = s.Reset() })
	r.s = s
}

func (r *rawPeer) send(rpc *pb.RPC) {
	r.t.Helper()
	b, err := proto.Marshal(rpc)
	if err != nil {
		r.t.Fatal(err)
	}
	r.write(binary.AppendUvarint(nil, uint64(len(b))), b)
}

// sendLoose sends rpc, ignoring a reset by the victim.
func (r *rawPeer) sendLoose(rpc *pb.RPC) {
	b, err := proto.Marshal(rpc)
	if err != nil {
		r.t.Fatal(err)
	}
	_, _ = r.s.Write(append(binary.AppendUvarint(nil, uint64(len(b))), b...))
}

func (r *rawPeer) write(parts ...[]byte) {
	r.t.Helper()
	for _, p := range parts {
		if _, err := r.s.Write(p); err != nil {
			r.t.Fatal(err)
		}
	}
}

func (r *rawPeer) subscribe(topic string) {
	r.send(&pb.RPC{Subscriptions: []*pb.RPC_SubOpts{{Topicid: proto.String(topic), Subscribe: proto.Bool(true)}}})
}

// message builds a message claiming author, signed with signer (unsigned if nil).
func message(t testing.TB, topic string, data []byte, seqno uint64, author peer.ID, signer crypto.PrivKey) *pb.Message {
	t.Helper()
	m := &pb.Message{
		From:  []byte(author),
		Data:  data,
		Seqno: binary.BigEndian.AppendUint64(nil, seqno),
		Topic: proto.String(topic),
	}
	if signer == nil {
		return m
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.Sign(append([]byte(ps.SignPrefix), b...))
	if err != nil {
		t.Fatal(err)
	}
	m.Signature = sig
	return m
}

// A message without a signature, with a signature by someone other than its
// claimed author, or with a payload changed after signing never reaches a
// subscriber, and the peer that sent it is scored below zero.
func TestInvalidMessagesAreDroppedAndSenderPenalised(t *testing.T) {
	cases := map[string]func(r *rawPeer, honest peer.ID) *pb.Message{
		"unsigned": func(r *rawPeer, _ peer.ID) *pb.Message {
			return message(t, "guarded", []byte("unsigned"), 1, r.h.ID(), nil)
		},
		"forged author": func(r *rawPeer, honest peer.ID) *pb.Message {
			return message(t, "guarded", []byte("forged"), 1, honest, r.key)
		},
		"tampered payload": func(r *rawPeer, _ peer.ID) *pb.Message {
			m := message(t, "guarded", []byte("original"), 1, r.h.ID(), r.key)
			m.Data = []byte("tampered")
			return m
		},
	}
	for name, build := range cases {
		t.Run(name, func(t *testing.T) {
			mn := testnet.NewNet(t)
			hosts := mn.AddHosts(2)
			mn.Connect(hosts[0], hosts[1])
			honest, victim := newService(t, hosts[0]), newService(t, hosts[1])
			sub, err := victim.Subscribe("guarded", 8)
			if err != nil {
				t.Fatal(err)
			}
			if err := honest.Join("guarded"); err != nil {
				t.Fatal(err)
			}
			r := newRawPeer(t, mn)
			r.dial(mn, hosts[1])
			r.subscribe("guarded")
			testnet.Eventually(t, 5*time.Second, func() bool {
				_, ok := victim.PeerScores()[r.h.ID()]
				return ok
			}, "victim to track the raw peer")

			r.send(&pb.RPC{Publish: []*pb.Message{build(r, hosts[0].ID())}})
			testnet.Eventually(t, 5*time.Second, func() bool {
				return victim.PeerScores()[r.h.ID()] < 0
			}, "raw peer's score to go negative")
			if s := victim.PeerScores()[hosts[0].ID()]; s < 0 {
				t.Errorf("honest peer scored %v", s)
			}

			// The invalid message was judged (the score fell); the next
			// message the subscriber sees is the honest one.
			if _, err := honest.Publish(t.Context(), "guarded", []byte("marker")); err != nil {
				t.Fatal(err)
			}
			if m := receive(t, sub, 5*time.Second); string(m.Data) != "marker" || m.From != hosts[0].ID() {
				t.Fatalf("subscriber got %q from %s, want the honest marker", m.Data, m.From)
			}
			expectNone(t, sub, 100*time.Millisecond)
		})
	}
}

// The same signed message arriving several times, in one RPC, in later RPCs
// and from another peer, is delivered once and costs its senders nothing.
func TestDuplicatesAreSuppressed(t *testing.T) {
	mn := testnet.NewNet(t)
	hosts := mn.AddHosts(1)
	victim := newService(t, hosts[0])
	sub, err := victim.Subscribe("dup", 8)
	if err != nil {
		t.Fatal(err)
	}
	r1, r2 := newRawPeer(t, mn), newRawPeer(t, mn)
	for _, r := range []*rawPeer{r1, r2} {
		r.dial(mn, hosts[0])
		r.subscribe("dup")
	}

	m := message(t, "dup", []byte("once"), 7, r1.h.ID(), r1.key)
	r1.send(&pb.RPC{Publish: []*pb.Message{m, m, m}})
	got := receive(t, sub, 5*time.Second)
	if string(got.Data) != "once" || got.Seqno != 7 || got.From != r1.h.ID() {
		t.Fatalf("got %+v", got)
	}
	r1.send(&pb.RPC{Publish: []*pb.Message{m}})
	r2.send(&pb.RPC{Publish: []*pb.Message{m, m}})
	r1.send(&pb.RPC{Publish: []*pb.Message{message(t, "dup", []byte("next"), 8, r1.h.ID(), r1.key)}})
	if got := receive(t, sub, 5*time.Second); string(got.Data) != "next" {
		t.Fatalf("got %q after duplicates, want the next message", got.Data)
	}
	expectNone(t, sub, 100*time.Millisecond)
	time.Sleep(100 * time.Millisecond) // a score refresh
	for _, r := range []*rawPeer{r1, r2} {
		if s := victim.PeerScores()[r.h.ID()]; s < 0 {
			t.Errorf("peer sending duplicates scored %v", s)
		}
	}
}

// Garbage on the wire costs the sender its stream, not the node.
func TestGarbageDoesNotHurtTheNode(t *testing.T) {
	mn := testnet.NewNet(t)
	hosts := mn.AddHosts(2)
	mn.Connect(hosts[0], hosts[1])
	honest, victim := newService(t, hosts[0]), newService(t, hosts[1])
	sub, err := victim.Subscribe("robust", 8)
	if err != nil {
		t.Fatal(err)
	}

	junk := make([]byte, 512)
	_, _ = rand.Read(junk)
	attacks := map[string][][]byte{
		"not protobuf":        {binary.AppendUvarint(nil, uint64(len(junk))), junk},
		"length over limit":   {binary.AppendUvarint(nil, 100<<20), junk},
		"absurd length":       {binary.AppendUvarint(nil, 1<<62), junk},
		"truncated varint":    {{0xff, 0xff, 0xff}},
		"subscription flood":  nil, // filled below
		"oversized data":      nil, // filled below
		"message in no topic": nil, // filled below
	}
	var flood pb.RPC
	for i := range 2000 {
		flood.Subscriptions = append(flood.Subscriptions, &pb.RPC_SubOpts{Topicid: proto.String(fmt.Sprintf("t%d", i)), Subscribe: proto.Bool(true)})
	}
	for name := range attacks {
		t.Run(name, func(t *testing.T) {
			r := newRawPeer(t, mn)
			r.dial(mn, hosts[1])
			switch name {
			case "subscription flood":
				r.send(&flood)
				// Only the first subscriptions of one peer are tracked.
				testnet.Eventually(t, 5*time.Second, func() bool {
					return slices.Contains(victim.Peers("t0"), r.h.ID())
				}, "first flooded subscription")
				if slices.Contains(victim.Peers("t1999"), r.h.ID()) {
					t.Error("victim tracks all 2000 subscriptions of one peer")
				}
			case "oversized data":
				r.sendLoose(&pb.RPC{Publish: []*pb.Message{message(t, "robust", make([]byte, 2<<20), 1, r.h.ID(), r.key)}})
			case "message in no topic":
				r.send(&pb.RPC{Publish: []*pb.Message{message(t, "", []byte("?"), 1, r.h.ID(), r.key)}})
			default:
				// The victim may reset the stream mid-write.
				for _, p := range attacks[name] {
					_, _ = r.s.Write(p)
				}
			}
			data := []byte("still alive after " + name)
			if _, err := honest.Publish(t.Context(), "robust", data); err != nil {
				t.Fatal(err)
			}
			if m := receive(t, sub, 5*time.Second); string(m.Data) != string(data) {
				t.Fatalf("got %q", m.Data)
			}
		})
	}
	if n := len(victim.Topics()); n != 1 {
		t.Errorf("victim has %d topics", n)
	}
}
