package bench

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// TLSRecordEncryption measures crypto/tls's record encryption in memory:
// a TLS 1.3 client (whose cipher suite Go picks, AES-128-GCM on a CPU with
// AES instructions) writes bytes in 256 KiB writes (16 KiB records) to a
// connection that discards them. No syscalls and no decryption: it tells
// how fast one core of this machine runs the cipher the raw TLS baseline
// runs (per CPU second, so other load on the machine hardly moves it), so
// that a raw TLS figure far from its usual proportion to it (a baseline that
// was off, or a machine too loaded for throughput ratios) can be flagged.
type TLSRecordEncryption struct {
	// CipherSuite is the suite negotiated, e.g. TLS_AES_128_GCM_SHA256.
	CipherSuite string
	conn        *tls.Conn
	sink        *discardAfter
	closeAll    func()
}

// NewTLSRecordEncryption completes a TLS 1.3 handshake over an in-memory
// pipe and leaves the client ready to encrypt into a discarding sink.
func NewTLSRecordEncryption(ctx context.Context) (*TLSRecordEncryption, error) {
	serverTLS, clientTLS, err := selfSignedTLS()
	if err != nil {
		return nil, err
	}
	a, b := net.Pipe()
	sink := &discardAfter{Conn: a}
	client := tls.Client(sink, clientTLS)
	server := tls.Server(b, serverTLS)
	var wg sync.WaitGroup
	var serr error
	wg.Go(func() { serr = server.HandshakeContext(ctx) })
	cerr := client.HandshakeContext(ctx)
	if cerr != nil {
		_ = a.Close()
		_ = b.Close()
	}
	wg.Wait()
	if cerr != nil || serr != nil {
		_ = a.Close()
		_ = b.Close()
		return nil, fmt.Errorf("bench: in-memory TLS handshake: client %v, server %v", cerr, serr)
	}
	sink.discard.Store(true)
	return &TLSRecordEncryption{
		CipherSuite: tls.CipherSuiteName(client.ConnectionState().CipherSuite),
		conn:        client, sink: sink,
		closeAll: func() { _ = a.Close(); _ = b.Close() },
	}, nil
}

// Measure encrypts n bytes and returns the rate in Gbit/s per second of
// CPU time (this process's, which runs nothing else meanwhile): what one
// core of this machine does, whatever share of it the other load leaves,
// and wall is the rate over wall-clock time.
func (e *TLSRecordEncryption) Measure(n uint64) (perCPU, wall float64, err error) {
	buf := make([]byte, rawBufSize)
	cpu0 := processCPU()
	start := time.Now()
	for sent := uint64(0); sent < n; {
		chunk := buf[:min(uint64(len(buf)), n-sent)]
		if _, err := e.conn.Write(chunk); err != nil {
			return 0, 0, fmt.Errorf("bench: in-memory TLS write: %w", err)
		}
		sent += uint64(len(chunk))
	}
	d, cpu := time.Since(start), processCPU()-cpu0
	if d > 0 {
		wall = float64(n) * 8 / d.Seconds() / 1e9
	}
	if cpu > 0 {
		perCPU = float64(n) * 8 / cpu.Seconds() / 1e9
	}
	return perCPU, wall, nil
}

// Close releases the pipe.
func (e *TLSRecordEncryption) Close() { e.closeAll() }

// discardAfter passes writes to its Conn until discard is set, then drops them.
type discardAfter struct {
	net.Conn
	discard atomic.Bool
}

func (d *discardAfter) Write(p []byte) (int, error) {
	if d.discard.Load() {
		return len(p), nil
	}
	return d.Conn.Write(p)
}
