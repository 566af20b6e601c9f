package messaging_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"

	"github.com/plexus-p2p/plexus/internal/testnet"
)

// loopbackPair returns two real libp2p hosts listening on 127.0.0.1 TCP,
// the second connected to the first, closed at cleanup.
func loopbackPair(tb testing.TB) (server, client host.Host) {
	tb.Helper()
	server, client = testnet.Host(tb), testnet.Host(tb)
	testnet.Connect(tb, client, server)
	return server, client
}

var benchPayload = bytes.Repeat([]byte("p"), 64)

// BenchmarkRequestResponse measures one request/response (64-byte payload
// each way) between two loopback TCP hosts, one new stream per request.
func BenchmarkRequestResponse(b *testing.B) {
	hs, hc := loopbackPair(b)
	handle(b, newService(b, hs), recipes, echo)
	client := newService(b, hc)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Send(ctx, hs.ID(), recipes, benchPayload)
		if err != nil || len(resp) != len(benchPayload) {
			b.Fatalf("send: %d bytes, %v", len(resp), err)
		}
	}
}

// BenchmarkRawStreamEcho is the baseline for BenchmarkRequestResponse: the
// same exchange on a bare libp2p stream (new stream, write, close write,
// read to EOF) without framing.
func BenchmarkRawStreamEcho(b *testing.B) {
	const proto = "/bench/echo/1.0.0"
	hs, hc := loopbackPair(b)
	hs.SetStreamHandler(proto, func(s network.Stream) {
		if _, err := io.Copy(s, s); err != nil {
			_ = s.Reset()
			return
		}
		_ = s.Close()
	})
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		s, err := hc.NewStream(ctx, hs.ID(), proto)
		if err != nil {
			b.Fatalf("new stream: %v", err)
		}
		if _, err := s.Write(benchPayload); err != nil {
			b.Fatalf("write: %v", err)
		}
		if err := s.CloseWrite(); err != nil {
			b.Fatalf("close write: %v", err)
		}
		resp, err := io.ReadAll(s)
		if err != nil || len(resp) != len(benchPayload) {
			b.Fatalf("read: %d bytes, %v", len(resp), err)
		}
		_ = s.Close()
	}
}
