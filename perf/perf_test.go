package perf_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/perf"
)

// events records what the service publishes.
type events struct {
	mu  sync.Mutex
	got []perf.Served
	ch  chan struct{}
}

func newEvents() *events { return &events{ch: make(chan struct{}, 1024)} }

func (e *events) Publish(typ string, data any) {
	if typ != perf.EventServed {
		panic("unexpected event type " + typ)
	}
	e.mu.Lock()
	e.got = append(e.got, data.(perf.Served))
	e.mu.Unlock()
	e.ch <- struct{}{}
}

// next waits for the next published event.
func (e *events) next(t *testing.T) perf.Served {
	t.Helper()
	select {
	case <-e.ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no perf.served event published")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ev := e.got[0]
	e.got = e.got[1:]
	return ev
}

func newHost(t *testing.T, transport string) host.Host {
	t.Helper()
	var opts []libp2p.Option
	switch transport {
	case "tcp":
		opts = append(opts, libp2p.Transport(tcp.NewTCPTransport), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	case "quic":
		opts = append(opts, libp2p.Transport(quic.NewTransport), libp2p.ListenAddrStrings("/ip4/127.0.0.1/udp/0/quic-v1"))
	default:
		t.Fatalf("unknown transport %q", transport)
	}
	return testnet.Host(t, opts...)
}

// pair returns a client host that knows the server's addresses, and the
// server's perf service.
func pair(t *testing.T, transport string, opts ...perf.Option) (client, server host.Host, svc *perf.Service) {
	t.Helper()
	server = newHost(t, transport)
	client = newHost(t, transport)
	svc, err := perf.New(server, opts...)
	if err != nil {
		t.Fatalf("perf.New: %v", err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	client.Peerstore().AddAddrs(server.ID(), server.Addrs(), time.Hour)
	return client, server, svc
}

// waitActiveStreams waits until the server's perf service scope holds n
// inbound streams.
func waitActiveStreams(t *testing.T, h host.Host, n int) {
	t.Helper()
	var got int
	testnet.Eventually(t, 10*time.Second, func() bool {
		err := h.Network().ResourceManager().ViewService(perf.ServiceName, func(s network.ServiceScope) error {
			got = s.Stat().NumStreamsInbound
			return nil
		})
		if err != nil {
			t.Fatalf("view perf service scope: %v", err)
		}
		return got == n
	}, "perf service has %s inbound streams, want %d", testnet.Lazy(func() string { return fmt.Sprint(got) }), n)
}

func TestRunRoundtrip(t *testing.T) {
	cases := []struct{ up, down uint64 }{
		{0, 0},
		{0, 1},
		{1, 0},
		{100_000, 3},
		{3, 700_001},
		{1<<20 + 5, 2<<20 + 7},
	}
	for _, transport := range []string{"tcp", "quic"} {
		t.Run(transport, func(t *testing.T) {
			ev := newEvents()
			client, server, _ := pair(t, transport, perf.WithPublisher(ev))
			for _, c := range cases {
				res, err := perf.Run(t.Context(), client, server.ID(), c.up, c.down)
				if err != nil {
					t.Fatalf("Run(up=%d, down=%d): %v", c.up, c.down, err)
				}
				if res.Upload != c.up || res.Download != c.down {
					t.Errorf("Run(up=%d, down=%d) result counts up=%d down=%d", c.up, c.down, res.Upload, res.Download)
				}
				if res.Total <= 0 || res.Total < res.TimeToFirstByte {
					t.Errorf("Run(up=%d, down=%d): total %v, time to first byte %v", c.up, c.down, res.Total, res.TimeToFirstByte)
				}
				if (c.down > 0) != (res.TimeToFirstByte > 0) {
					t.Errorf("Run(up=%d, down=%d): time to first byte %v", c.up, c.down, res.TimeToFirstByte)
				}
				if (c.down > 0) != (res.DownloadBitsPerSecond > 0) && c.down > 1 {
					t.Errorf("Run(up=%d, down=%d): download throughput %v", c.up, c.down, res.DownloadBitsPerSecond)
				}
				got := ev.next(t)
				want := perf.Transfer{Uploaded: c.up, Downloaded: c.down, Requested: c.down}
				if got.Transfer != want || got.Error != "" || got.Peer != client.ID() {
					t.Errorf("server event %+v, want transfer %+v from %s without error", got, want, client.ID())
				}
			}
		})
	}
}

func TestRunBufferSizes(t *testing.T) {
	client, server, _ := pair(t, "tcp", perf.WithBufferSize(64<<10))
	for _, size := range []int{64 << 10, 1 << 20} {
		res, err := perf.Run(t.Context(), client, server.ID(), 3<<20+1, 1<<20+3, perf.WithRunBufferSize(size))
		if err != nil {
			t.Fatalf("Run with buffer %d: %v", size, err)
		}
		if res.Upload != 3<<20+1 || res.Download != 1<<20+3 {
			t.Errorf("Run with buffer %d: counts %d/%d", size, res.Upload, res.Download)
		}
	}
	if _, err := perf.Run(t.Context(), client, server.ID(), 1, 1, perf.WithRunBufferSize(10)); err == nil {
		t.Error("Run accepted a 10-byte buffer")
	}
}

func TestShortHeaderIsReset(t *testing.T) {
	ev := newEvents()
	client, server, _ := pair(t, "tcp", perf.WithPublisher(ev))

	st, err := client.NewStream(t.Context(), server.ID(), perf.ID)
	if err != nil {
		t.Fatalf("new stream: %v", err)
	}
	if _, err := st.Write([]byte{0, 0, 1}); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := st.CloseWrite(); err != nil {
		t.Fatalf("close write: %v", err)
	}
	b, err := io.ReadAll(st)
	var serr *network.StreamError
	if !errors.As(err, &serr) || serr.ErrorCode != network.StreamProtocolViolation {
		t.Errorf("read after short header: %d bytes, err %v; want reset with protocol violation", len(b), err)
	}
	if got := ev.next(t); !strings.Contains(got.Error, "header") {
		t.Errorf("server event error %q, want a header error", got.Error)
	}

	// The server still works.
	if _, err := perf.Run(t.Context(), client, server.ID(), 10, 10); err != nil {
		t.Errorf("Run after garbage: %v", err)
	}
}

func TestRunCancel(t *testing.T) {
	ev := newEvents()
	client, server, _ := pair(t, "tcp", perf.WithPublisher(ev))
	// Connect and identify first, so the cancelled Run is mid-transfer.
	if _, err := perf.Run(t.Context(), client, server.ID(), 0, 0); err != nil {
		t.Fatalf("warm-up Run: %v", err)
	}
	ev.next(t)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := perf.Run(ctx, client, server.ID(), 0, math.MaxUint64)
		done <- err
	}()
	waitActiveStreams(t, server, 1)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled Run returned %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if got := ev.next(t); got.Error == "" || got.Requested != math.MaxUint64 {
		t.Errorf("server event %+v, want an error for the max-size request", got)
	}
	waitActiveStreams(t, server, 0)
	if _, err := perf.Run(t.Context(), client, server.ID(), 5, 5); err != nil {
		t.Errorf("Run after cancel: %v", err)
	}
}

func TestMaxStreams(t *testing.T) {
	ev := newEvents()
	client, server, _ := pair(t, "quic", perf.WithMaxStreams(1), perf.WithPublisher(ev))

	// Hold the only slot: send a header and keep the upload open.
	held, err := client.NewStream(t.Context(), server.ID(), perf.ID)
	if err != nil {
		t.Fatalf("new stream: %v", err)
	}
	var hdr [8]byte
	binary.BigEndian.PutUint64(hdr[:], 4)
	if _, err := held.Write(hdr[:]); err != nil {
		t.Fatalf("write header: %v", err)
	}
	waitActiveStreams(t, server, 1)

	if _, err := perf.Run(t.Context(), client, server.ID(), 1, 1); err == nil {
		t.Error("Run succeeded while the only slot was taken")
	}
	if got := ev.next(t); !strings.Contains(got.Error, "already active") {
		t.Errorf("refusal event error %q", got.Error)
	}

	// Finish the held exchange; it gets its 4 bytes.
	if err := held.CloseWrite(); err != nil {
		t.Fatalf("close write: %v", err)
	}
	b, err := io.ReadAll(held)
	if err != nil || len(b) != 4 {
		t.Fatalf("held stream read %d bytes, err %v; want 4", len(b), err)
	}
	ev.next(t)
	waitActiveStreams(t, server, 0)
	if _, err := perf.Run(t.Context(), client, server.ID(), 1, 1); err != nil {
		t.Errorf("Run after the slot was freed: %v", err)
	}
}

func TestAllowPeer(t *testing.T) {
	ev := newEvents()
	var denied peer.ID
	client, server, _ := pair(t, "tcp", perf.WithPublisher(ev), perf.WithAllowPeer(func(p peer.ID) bool {
		return p != denied
	}))
	denied = client.ID()
	if _, err := perf.Run(t.Context(), client, server.ID(), 1, 1); !errors.Is(err, perf.ErrRefused) || !strings.Contains(err.Error(), "perf.allow_peers") {
		t.Errorf("Run from a denied peer: %v, want ErrRefused naming perf.allow_peers", err)
	}
	if got := ev.next(t); got.Error != "peer not allowed" {
		t.Errorf("event error %q, want peer not allowed", got.Error)
	}
}

func TestClose(t *testing.T) {
	client, server, svc := pair(t, "tcp")
	done := make(chan error, 1)
	go func() {
		_, err := perf.Run(t.Context(), client, server.ID(), 0, math.MaxUint64)
		done <- err
	}()
	waitActiveStreams(t, server, 1)
	if err := svc.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Error("Run in progress succeeded across Close")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after Close")
	}
	if err := svc.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := perf.Run(t.Context(), client, server.ID(), 1, 1); err == nil {
		t.Error("Run succeeded after Close")
	}
}

func TestOptionsValidate(t *testing.T) {
	h := newHost(t, "tcp")
	bad := map[string]perf.Option{
		"max streams 0":  perf.WithMaxStreams(0),
		"per peer 0":     perf.WithMaxStreamsPerPeer(0),
		"idle 0":         perf.WithIdleTimeout(0),
		"buffer 1 KiB":   perf.WithBufferSize(1 << 10),
		"buffer 64 MiB":  perf.WithBufferSize(64 << 20),
		"nil allow":      perf.WithAllowPeer(nil),
		"nil logger":     perf.WithLogger(nil),
		"negative idle ": perf.WithIdleTimeout(-time.Second),
	}
	for name, o := range bad {
		if svc, err := perf.New(h, o); err == nil {
			_ = svc.Close()
			t.Errorf("New accepted %s", name)
		}
	}
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { _ = c.Close(); _ = s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

func TestWireOverTCP(t *testing.T) {
	c, s := tcpPair(t)
	served := make(chan perf.Transfer, 1)
	go func() {
		tr, err := perf.ServeStream(s, make([]byte, 64<<10), time.Minute)
		if err != nil {
			t.Errorf("ServeStream: %v", err)
		}
		served <- tr
	}()
	res, err := perf.RunStream(c, 300_001, 5, 64<<10, time.Now())
	if err != nil {
		t.Fatalf("RunStream: %v", err)
	}
	if res.Upload != 300_001 || res.Download != 5 {
		t.Errorf("result %+v", res)
	}
	if tr := <-served; tr != (perf.Transfer{Uploaded: 300_001, Downloaded: 5, Requested: 5}) {
		t.Errorf("server transfer %+v", tr)
	}
}

func TestClientRejectsWrongLength(t *testing.T) {
	for _, extra := range []int{-1, 1} {
		t.Run(fmt.Sprint(extra), func(t *testing.T) {
			c, s := tcpPair(t)
			go func() {
				// A broken server: drain, then send 10+extra bytes.
				_, _ = io.Copy(io.Discard, s)
				_, _ = s.Write(make([]byte, 10+extra))
				_ = s.CloseWrite()
			}()
			_, err := perf.RunStream(c, 7, 10, 64<<10, time.Now())
			if !errors.Is(err, perf.ErrWrongLength) {
				t.Errorf("RunStream against a server sending %d bytes: %v, want ErrWrongLength", 10+extra, err)
			}
		})
	}
}

func TestServeStreamShortHeader(t *testing.T) {
	c, s := tcpPair(t)
	_, _ = c.Write([]byte{1, 2})
	_ = c.CloseWrite()
	if _, err := perf.ServeStream(s, make([]byte, 64<<10), time.Minute); !errors.Is(err, perf.ErrShortHeader) {
		t.Errorf("ServeStream after 2 bytes: %v, want ErrShortHeader", err)
	}
}

func TestRunStreamHugeUploadStopsOnClose(t *testing.T) {
	c, s := tcpPair(t)
	go func() {
		// Read the header and some upload, then give up.
		_, _ = io.CopyN(io.Discard, s, 1<<20)
		_ = s.Close()
	}()
	_, err := perf.RunStream(c, math.MaxUint64-3, 0, 64<<10, time.Now())
	if err == nil {
		t.Fatal("RunStream of a near-max upload succeeded against a server that closed")
	}
}

// Issue 20 row 6: an anonymous 8-byte request for 1 GiB. With a byte cap
// the server resets the stream without sending a byte; the client sees
// ErrRefused; a request within the cap is served.
func TestMaxBytesRefusesHugeRequest(t *testing.T) {
	ev := newEvents()
	const limit = 1 << 20
	client, server, _ := pair(t, "tcp", perf.WithPublisher(ev), perf.WithMaxBytes(limit))

	// The hostile request: a bare header asking for 1 GiB.
	st, err := client.NewStream(t.Context(), server.ID(), perf.ID)
	if err != nil {
		t.Fatalf("new stream: %v", err)
	}
	var hdr [8]byte
	binary.BigEndian.PutUint64(hdr[:], 1<<30)
	if _, err := st.Write(hdr[:]); err != nil {
		t.Fatalf("write header: %v", err)
	}
	_ = st.CloseWrite()
	got, err := io.Copy(io.Discard, st)
	var serr *network.StreamError
	if !errors.As(err, &serr) || !serr.Remote || serr.ErrorCode != network.StreamResourceLimitExceeded {
		t.Errorf("1 GiB request: read %d bytes, err %v; want a reset with resource limit exceeded", got, err)
	}
	if got != 0 {
		t.Errorf("1 GiB request: server sent %d bytes, want 0", got)
	}
	if e := ev.next(t); e.Downloaded != 0 || e.Requested != 1<<30 || !strings.Contains(e.Error, "at most 1048576") {
		t.Errorf("served event %+v, want 0 of 1 GiB sent with the limit named", e)
	}

	for name, c := range map[string]struct{ up, down uint64 }{
		"download over the cap": {0, limit + 1},
		"upload over the cap":   {limit + 1, 0},
	} {
		if _, err := perf.Run(t.Context(), client, server.ID(), c.up, c.down); !errors.Is(err, perf.ErrRefused) || !strings.Contains(err.Error(), "perf.max_bytes") {
			t.Errorf("%s: err %v, want ErrRefused naming perf.max_bytes", name, err)
		}
		ev.next(t)
	}
	res, err := perf.Run(t.Context(), client, server.ID(), limit, limit)
	if err != nil || res.Download != limit {
		t.Fatalf("Run within the cap: %+v, %v", res, err)
	}
}

// A host without the perf service: Run says the peer does not serve perf,
// whether identify has already told the client so (connected first) or
// not (Run dials and proposes perf without waiting for identify), for a
// short exchange (proposed lazily, with the request) and a large upload
// (negotiated first).
func TestRunNotServed(t *testing.T) {
	for _, connectFirst := range []bool{true, false} {
		for _, upload := range []uint64{1, 4 << 20} {
			server := newHost(t, "tcp")
			client := newHost(t, "tcp")
			if connectFirst {
				testnet.Connect(t, client, server)
			} else {
				client.Peerstore().AddAddrs(server.ID(), server.Addrs(), time.Hour)
			}
			_, err := perf.Run(t.Context(), client, server.ID(), upload, 1)
			if !errors.Is(err, perf.ErrNotServed) || !strings.Contains(err.Error(), "perf.enabled = false") {
				t.Errorf("Run (connected first %v, upload %d) against a host without perf: %v, want ErrNotServed naming perf.enabled", connectFirst, upload, err)
			}
		}
	}
}

// One peer cannot take every slot: beyond its per-peer share its streams
// are refused while another peer is still served.
func TestMaxStreamsPerPeer(t *testing.T) {
	ev := newEvents()
	client, server, _ := pair(t, "tcp", perf.WithMaxStreamsPerPeer(1), perf.WithPublisher(ev))
	held, err := client.NewStream(t.Context(), server.ID(), perf.ID)
	if err != nil {
		t.Fatalf("new stream: %v", err)
	}
	defer held.Reset()
	var hdr [8]byte
	binary.BigEndian.PutUint64(hdr[:], 4)
	if _, err := held.Write(hdr[:]); err != nil {
		t.Fatalf("write header: %v", err)
	}
	waitActiveStreams(t, server, 1)
	if _, err := perf.Run(t.Context(), client, server.ID(), 1, 1); !errors.Is(err, perf.ErrRefused) {
		t.Errorf("second stream of one peer: %v, want ErrRefused", err)
	}
	if got := ev.next(t); !strings.Contains(got.Error, "of this peer") {
		t.Errorf("refusal event error %q", got.Error)
	}
	other := newHost(t, "tcp")
	other.Peerstore().AddAddrs(server.ID(), server.Addrs(), time.Hour)
	if _, err := perf.Run(t.Context(), other, server.ID(), 1, 1); err != nil {
		t.Errorf("another peer while the first holds its share: %v", err)
	}
}
