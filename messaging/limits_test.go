package messaging_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/messaging"
)

func TestTooLarge(t *testing.T) {
	const limit = 1024
	hs := testnet.Mocknet(t, 2)
	var calls atomic.Int64
	server := newService(t, hs[0], messaging.WithMaxMessageSize(limit))
	handle(t, server, recipes, func(_ context.Context, _ peer.ID, req []byte) ([]byte, error) {
		calls.Add(1)
		if string(req) == "big answer" {
			return make([]byte, limit+1), nil
		}
		return bytes.Repeat([]byte("y"), 100), nil
	})
	small := newService(t, hs[1], messaging.WithMaxMessageSize(limit))
	big := newService(t, hs[1]) // default 1 MiB limit

	t.Run("refused locally", func(t *testing.T) {
		_, err := small.Send(t.Context(), hs[0].ID(), recipes, make([]byte, limit+1))
		if !errors.Is(err, messaging.ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", err)
		}
		_, err = messaging.Send(t.Context(), hs[1], hs[0].ID(), recipes, make([]byte, messaging.DefaultMaxMessageSize+1), 0)
		if !errors.Is(err, messaging.ErrTooLarge) {
			t.Fatalf("free Send: err = %v, want ErrTooLarge", err)
		}
		if hi := handlerInfo(t, server, recipes); calls.Load() != 0 || hi.Handled+hi.Failed != 0 {
			t.Fatalf("server saw the refused requests: %d calls, %+v", calls.Load(), hi)
		}
	})
	// Below and above the size from which the client writes concurrently.
	for _, size := range []int{limit + 1, 200 << 10} {
		t.Run("refused by peer", func(t *testing.T) {
			_, err := big.Send(t.Context(), hs[0].ID(), recipes, make([]byte, size))
			if !errors.Is(err, messaging.ErrTooLarge) || !strings.Contains(err.Error(), "peer refused") {
				t.Fatalf("%d bytes: err = %v, want ErrTooLarge from the peer", size, err)
			}
		})
	}
	t.Run("response over the peer's limit", func(t *testing.T) {
		_, err := big.Send(t.Context(), hs[0].ID(), recipes, []byte("big answer"))
		if !errors.Is(err, messaging.ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", err)
		}
	})
	t.Run("response over our limit", func(t *testing.T) {
		_, err := messaging.Send(t.Context(), hs[1], hs[0].ID(), recipes, []byte("x"), 50)
		if !errors.Is(err, messaging.ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", err)
		}
	})
	if calls.Load() != 2 {
		t.Fatalf("handler ran %d times, want 2 (only for requests within the limit)", calls.Load())
	}
}

// rawRequest opens a stream to the server and writes frame as is, without
// closing its side.
func rawRequest(t *testing.T, from host.Host, to peer.ID, frame []byte) network.Stream {
	t.Helper()
	str, err := from.NewStream(t.Context(), to, recipes)
	if err != nil {
		t.Fatalf("NewStream: %v", err)
	}
	t.Cleanup(func() { _ = str.Reset() })
	if _, err := str.Write(frame); err != nil {
		t.Fatalf("write: %v", err)
	}
	return str
}

// readRawResponse reads a response frame from a raw stream.
func readRawResponse(t *testing.T, str network.Stream) (messaging.Status, string) {
	t.Helper()
	r := bufio.NewReader(str)
	st, err := r.ReadByte()
	if err != nil {
		t.Fatalf("read status: %v", err)
	}
	n, err := binary.ReadUvarint(r)
	if err != nil {
		t.Fatalf("read length: %v", err)
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(r, msg); err != nil {
		t.Fatalf("read payload: %v", err)
	}
	return messaging.Status(st), string(msg)
}

func TestMisbehavingClient(t *testing.T) {
	const limit = 1024
	hs := testnet.Mocknet(t, 2)
	events := newRecorder()
	var calls atomic.Int64
	server := newService(t, hs[0], messaging.WithMaxMessageSize(limit), messaging.WithPublisher(events))
	handle(t, server, recipes, func(_ context.Context, _ peer.ID, req []byte) ([]byte, error) {
		calls.Add(1)
		return req, nil
	})

	t.Run("announces a huge request", func(t *testing.T) {
		// Only the length is sent: the server must answer without waiting
		// for (or reading) the 1 GiB it announces.
		str := rawRequest(t, hs[1], hs[0].ID(), binary.AppendUvarint(nil, 1<<30))
		st, msg := readRawResponse(t, str)
		if st != messaging.StatusRequestTooLarge || !strings.Contains(msg, "1073741824") {
			t.Fatalf("response %s %q, want request too large", st, msg)
		}
		ev := events.next(t, messaging.EventRequestFailed).(messaging.RequestFailed)
		if ev.Direction != messaging.DirectionInbound {
			t.Fatalf("event %+v", ev)
		}
	})
	t.Run("sends an oversized body", func(t *testing.T) {
		body := make([]byte, 256<<10)
		str := rawRequest(t, hs[1], hs[0].ID(), binary.AppendUvarint(nil, uint64(len(body))))
		go func() { _, _ = str.Write(body) }() // may block or fail: the server stops reading
		if st, msg := readRawResponse(t, str); st != messaging.StatusRequestTooLarge {
			t.Fatalf("response %s %q, want request too large", st, msg)
		}
	})
	t.Run("malformed length", func(t *testing.T) {
		str := rawRequest(t, hs[1], hs[0].ID(), bytes.Repeat([]byte{0xff}, 11))
		if st, msg := readRawResponse(t, str); st != messaging.StatusBadRequest {
			t.Fatalf("response %s %q, want bad request", st, msg)
		}
	})
	if calls.Load() != 0 {
		t.Fatalf("handler ran %d times for invalid requests", calls.Load())
	}
	waitCounters(t, server, recipes, 0, 3)
}

func TestBusy(t *testing.T) {
	hs := testnet.Mocknet(t, 3)
	server := newService(t, hs[0], messaging.WithMaxConcurrent(1))
	entered, release := make(chan struct{}), make(chan struct{})
	handle(t, server, recipes, func(_ context.Context, _ peer.ID, req []byte) ([]byte, error) {
		if string(req) == "hold" {
			close(entered)
			<-release
		}
		return req, nil
	})
	held := make(chan error, 1)
	go func() {
		_, err := newService(t, hs[1]).Send(t.Context(), hs[0].ID(), recipes, []byte("hold"))
		held <- err
	}()
	<-entered
	other := newService(t, hs[2])
	if _, err := other.Send(t.Context(), hs[0].ID(), recipes, []byte("x")); !errors.Is(err, messaging.ErrBusy) {
		t.Fatalf("err = %v, want ErrBusy", err)
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatalf("held request: %v", err)
	}
	// The server frees the slot after it has written the held response, so
	// the caller may see the answer a moment before the slot is free.
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := other.Send(t.Context(), hs[0].ID(), recipes, []byte("x"))
		if errors.Is(err, messaging.ErrBusy) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if err != nil || string(resp) != "x" {
			t.Fatalf("after release: %q, %v", resp, err)
		}
		break
	}
}
