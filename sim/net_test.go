package sim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// TestLinkOnDialLossInOrder: hosts that were never linked reach each other
// (the dial makes the link), and with half the writes lost and
// retransmitted the bytes still arrive whole and in order, counted on both
// sides.
func TestLinkOnDialLossInOrder(t *testing.T) {
	n, err := New(Config{Latency: Latency{Min: time.Millisecond, Max: 3 * time.Millisecond}, Loss: 0.5, RTO: time.Millisecond, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	a, err := n.AddHost(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := n.AddHost(nil)
	if err != nil {
		t.Fatal(err)
	}
	const proto = "/meshsub/1.1.0"
	got := make(chan []byte, 1)
	b.SetStreamHandler(proto, func(s network.Stream) {
		defer s.Close()
		data, _ := io.ReadAll(s)
		got <- data
	})
	s, err := a.NewStream(t.Context(), b.ID(), proto)
	if err != nil {
		t.Fatalf("stream between hosts never linked: %v", err)
	}
	var want bytes.Buffer
	for i := range 200 {
		chunk := []byte(fmt.Sprintf("chunk %03d;", i))
		want.Write(chunk)
		if _, err := s.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	data := <-got
	if !bytes.Equal(data, want.Bytes()) {
		t.Fatalf("received %d bytes, not the %d written in order", len(data), want.Len())
	}
	if a.Sent(ClassPubSub) != int64(want.Len()) || b.Received(ClassPubSub) != int64(want.Len()) {
		t.Errorf("counted %d sent and %d received, want %d", a.Sent(ClassPubSub), b.Received(ClassPubSub), want.Len())
	}
	if n.Links() != 1 {
		t.Errorf("links: got %d, want 1", n.Links())
	}
}

// TestDialDeparted: a dial to a host that left fails with ErrGone.
func TestDialDeparted(t *testing.T) {
	n, err := New(Config{DeadDial: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	a, _ := n.AddHost(nil)
	b, _ := n.AddHost(nil)
	if err := n.Remove(b); err != nil {
		t.Fatal(err)
	}
	err = a.Connect(t.Context(), peer.AddrInfo{ID: b.ID()})
	if !errors.Is(err, ErrGone) {
		t.Fatalf("dial to a departed host: got %v, want ErrGone", err)
	}
	if n.Alive(b.ID()) || !n.Alive(a.ID()) {
		t.Errorf("Alive: departed %v, staying %v", n.Alive(b.ID()), n.Alive(a.ID()))
	}
}

func TestNewRefusesBadLoss(t *testing.T) {
	if _, err := New(Config{Loss: 1.5}); err == nil {
		t.Fatal("New accepted a loss of 1.5")
	}
}
