package messaging_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/messaging"
)

// serviceMemory returns the memory the server's resource manager accounts
// to the messaging service's streams.
func serviceMemory(t *testing.T, h host.Host) int64 {
	t.Helper()
	var mem int64
	err := h.Network().ResourceManager().ViewService(messaging.ServiceName, func(s network.ServiceScope) error {
		mem = s.Stat().Memory
		return nil
	})
	if err != nil {
		t.Fatalf("view service scope: %v", err)
	}
	return mem
}

// lengthOf is the size a handler received, as its answer.
func lengthOf(_ context.Context, _ peer.ID, req []byte) ([]byte, error) {
	return []byte(strconv.Itoa(len(req))), nil
}

// A peer that announces 1 MiB and sends part of it costs the server about
// what it sent, accounted in the resource manager, not the 1 MiB announced.
func TestRequestMemoryFollowsBytes(t *testing.T) {
	const size, sent = 1 << 20, 100 << 10
	hs, hc := loopbackPair(t)
	server := newService(t, hs)
	handle(t, server, recipes, lengthOf)

	body := make([]byte, size)
	str := rawRequest(t, hc, hs.ID(), binary.AppendUvarint(nil, size))
	if _, err := str.Write(body[:sent]); err != nil {
		t.Fatalf("write: %v", err)
	}
	var mem int64
	testnet.Eventually(t, 10*time.Second, func() bool {
		mem = serviceMemory(t, hs)
		return mem >= sent
	}, "service memory %d bytes after %d received", &mem, sent)
	if mem > 2*sent {
		t.Fatalf("server reserved %d bytes for a request of %d announced and %d sent", mem, size, sent)
	}

	if _, err := str.Write(body[sent:]); err != nil {
		t.Fatalf("write: %v", err)
	}
	if st, msg := readRawResponse(t, str); st != messaging.StatusOK || msg != strconv.Itoa(size) {
		t.Fatalf("response %s %q, want ok %d", st, msg, size)
	}
	testnet.Eventually(t, 10*time.Second, func() bool {
		mem = serviceMemory(t, hs)
		return mem == 0
	}, "service memory %d bytes after the response, want 0", &mem)
}

// A request whose memory the resource manager refuses is answered busy.
func TestRequestMemoryRefused(t *testing.T) {
	partial := rcmgr.PartialLimitConfig{Stream: rcmgr.ResourceLimits{Memory: 256 << 10}}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(partial.Build(rcmgr.DefaultLimits.AutoScale())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rm.Close() })
	hs, hc := testnet.Host(t, libp2p.ResourceManager(rm)), testnet.Host(t)
	testnet.Connect(t, hc, hs)
	events := newRecorder()
	server := newService(t, hs, messaging.WithPublisher(events))
	handle(t, server, recipes, lengthOf)
	client := newService(t, hc)

	// Small requests fit in the stream's memory.
	if resp, err := client.Send(t.Context(), hs.ID(), recipes, make([]byte, 100<<10)); err != nil || string(resp) != "102400" {
		t.Fatalf("100 KiB request: %q, %v", resp, err)
	}
	_, err = client.Send(t.Context(), hs.ID(), recipes, make([]byte, 1<<20))
	if !errors.Is(err, messaging.ErrBusy) {
		t.Fatalf("1 MiB request over the stream memory limit: %v, want ErrBusy", err)
	}
	ev := events.next(t, messaging.EventRequestFailed).(messaging.RequestFailed)
	if !strings.Contains(ev.Error, "memory") {
		t.Fatalf("failure event %+v, want the memory refusal", ev)
	}
}

// A request still incomplete at the read timeout is cut, and its slot freed.
func TestSlowRequestCut(t *testing.T) {
	hs, hc := loopbackPair(t)
	events := newRecorder()
	server := newService(t, hs,
		messaging.WithReadTimeout(200*time.Millisecond),
		messaging.WithRequestTimeout(time.Minute),
		messaging.WithMaxConcurrent(1),
		messaging.WithPublisher(events))
	handle(t, server, recipes, echo)

	str := rawRequest(t, hc, hs.ID(), append(binary.AppendUvarint(nil, 1000), "ten bytes."...))
	_ = str.SetReadDeadline(time.Now().Add(10 * time.Second)) // bounds the test only
	if b, err := io.ReadAll(str); !errors.Is(err, network.ErrReset) || len(b) != 0 {
		t.Fatalf("slow request: read %q, %v; want the stream reset", b, err)
	}
	ev := events.next(t, messaging.EventRequestFailed).(messaging.RequestFailed)
	if ev.Direction != messaging.DirectionInbound || !strings.Contains(ev.Error, "deadline") {
		t.Fatalf("failure event %+v, want a read deadline", ev)
	}

	// The only slot is free again (once the server has returned from the
	// cut request, a moment after the reset).
	client := newService(t, hc)
	var resp []byte
	var err error
	testnet.Eventually(t, 10*time.Second, func() bool {
		resp, err = client.Send(t.Context(), hs.ID(), recipes, []byte("soup"))
		return !errors.Is(err, messaging.ErrBusy)
	}, "server still busy: %v", &err)
	if err != nil || string(resp) != "soup" {
		t.Fatalf("after the cut request: %q, %v", resp, err)
	}
}

// One peer gets DefaultMaxPerPeer requests handled at once; its next is
// refused busy while another peer is still served.
func TestPerPeerLimit(t *testing.T) {
	hs := testnet.Mocknet(t, 3)
	server := newService(t, hs[0], messaging.WithHandlerTimeout(time.Minute))
	entered, release := make(chan struct{}, messaging.DefaultMaxPerPeer), make(chan struct{})
	handle(t, server, recipes, func(ctx context.Context, _ peer.ID, req []byte) ([]byte, error) {
		if string(req) == "hold" {
			entered <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return req, nil
	})
	greedy := newService(t, hs[1], messaging.WithRequestTimeout(time.Minute))
	other := newService(t, hs[2])

	held := make(chan error, messaging.DefaultMaxPerPeer)
	for range messaging.DefaultMaxPerPeer {
		go func() {
			_, err := greedy.Send(t.Context(), hs[0].ID(), recipes, []byte("hold"))
			held <- err
		}()
	}
	for range messaging.DefaultMaxPerPeer {
		<-entered
	}
	_, err := greedy.Send(t.Context(), hs[0].ID(), recipes, []byte("x"))
	if !errors.Is(err, messaging.ErrBusy) || !strings.Contains(err.Error(), fmt.Sprint(messaging.DefaultMaxPerPeer)) {
		t.Fatalf("request %d of one peer: %v, want ErrBusy", messaging.DefaultMaxPerPeer+1, err)
	}
	if resp, err := other.Send(t.Context(), hs[0].ID(), recipes, []byte("x")); err != nil || string(resp) != "x" {
		t.Fatalf("another peer meanwhile: %q, %v", resp, err)
	}
	close(release)
	for range messaging.DefaultMaxPerPeer {
		if err := <-held; err != nil {
			t.Fatalf("held request: %v", err)
		}
	}
}
