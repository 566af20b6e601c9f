package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"sync"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/plexus-p2p/plexus/perf"
)

// Raw names a baseline transport without libp2p.
type Raw string

// The baselines.
const (
	RawTCP  Raw = "raw-tcp"  // plain TCP
	RawTLS  Raw = "raw-tls"  // crypto/tls 1.3 over TCP, ECDSA P-256 certificate, server auth only, no resumption
	RawQUIC Raw = "raw-quic" // quic-go, one stream, same flow-control windows as go-libp2p's QUIC transport
	// RawChaCha is TCP framed and encrypted as Noise transport messages
	// (ChaCha20-Poly1305, see chacha.go), without a handshake: the floor
	// for TCP+Noise.
	RawChaCha Raw = "raw-chacha"
)

const (
	benchALPN      = "plexus-bench-perf"
	benchName      = "plexus-bench"
	rawIdleTimeout = 30 * time.Second
	rawBufSize     = 256 << 10
)

// rawQUICConfig mirrors go-libp2p's quicreuse config so the comparison is
// about the libp2p layer, not flow-control windows.
func rawQUICConfig() *quic.Config {
	return &quic.Config{
		MaxIncomingStreams:         256,
		MaxStreamReceiveWindow:     10 << 20,
		MaxConnectionReceiveWindow: 15 << 20,
		KeepAlivePeriod:            15 * time.Second,
		Versions:                   []quic.Version{quic.Version1},
	}
}

// RawConn is one perf stream over a baseline transport.
type RawConn interface {
	perf.Stream
	Close() error
}

// quicStream adapts a quic-go stream (whose Close closes the write side) to
// perf.Stream, and closes its connection on Close.
type quicStream struct {
	*quic.Stream
	conn *quic.Conn
}

func (s quicStream) CloseWrite() error { return s.Stream.Close() }

func (s quicStream) Close() error {
	s.Stream.CancelRead(0)
	return s.conn.CloseWithError(0, "")
}

// RawServer serves perf over a baseline transport on loopback.
type RawServer struct {
	kind      Raw
	addr      string
	ln        net.Listener
	ql        *quic.Listener
	clientTLS *tls.Config
	chacha    *chachaKeys // RawChaCha only
	ctx       context.Context
	cancel    context.CancelFunc

	mu     sync.Mutex
	closed bool
	conns  map[interface{ Close() error }]struct{}
	wg     sync.WaitGroup
}

// StartRawServer listens on loopback and serves perf on every connection
// (every stream, for QUIC) until Close. It starts an accept goroutine.
func StartRawServer(kind Raw) (*RawServer, error) {
	s := &RawServer{kind: kind, conns: make(map[interface{ Close() error }]struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	var serverTLS *tls.Config
	if kind == RawChaCha {
		var err error
		if s.chacha, err = newChaChaKeys(); err != nil {
			return nil, err
		}
	}
	if kind == RawTLS || kind == RawQUIC {
		var err error
		serverTLS, s.clientTLS, err = selfSignedTLS()
		if err != nil {
			return nil, err
		}
	}
	switch kind {
	case RawTCP, RawTLS, RawChaCha:
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("bench: listen %s: %w", kind, err)
		}
		s.ln, s.addr = ln, ln.Addr().String()
		s.wg.Go(func() { s.acceptTCP(serverTLS) })
	case RawQUIC:
		ql, err := quic.ListenAddr("127.0.0.1:0", serverTLS, rawQUICConfig())
		if err != nil {
			return nil, fmt.Errorf("bench: listen %s: %w", kind, err)
		}
		s.ql, s.addr = ql, ql.Addr().String()
		s.wg.Go(s.acceptQUIC)
	default:
		return nil, fmt.Errorf("bench: unknown baseline %q", kind)
	}
	return s, nil
}

func (s *RawServer) track(c interface{ Close() error }) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *RawServer) untrack(c interface{ Close() error }) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *RawServer) acceptTCP(serverTLS *tls.Config) {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		if !s.track(c) {
			_ = c.Close()
			return
		}
		s.wg.Go(func() {
			defer s.untrack(c)
			defer c.Close()
			var st perf.Stream = c.(*net.TCPConn)
			if serverTLS != nil {
				tc := tls.Server(c, serverTLS)
				if err := tc.HandshakeContext(s.ctx); err != nil {
					return
				}
				st = tc
			}
			if s.chacha != nil {
				cc, err := newChaChaConn(c.(*net.TCPConn), s.chacha, true)
				if err != nil {
					return
				}
				st = cc
			}
			buf := make([]byte, rawBufSize)
			_, _ = perf.ServeStream(st, buf, rawIdleTimeout)
		})
	}
}

func (s *RawServer) acceptQUIC() {
	for {
		conn, err := s.ql.Accept(s.ctx)
		if err != nil {
			return
		}
		cc := quicConnCloser{conn}
		if !s.track(cc) {
			_ = cc.Close()
			return
		}
		s.wg.Go(func() {
			defer s.untrack(cc)
			for {
				st, err := conn.AcceptStream(s.ctx)
				if err != nil {
					return
				}
				s.wg.Go(func() {
					buf := make([]byte, rawBufSize)
					if _, err := perf.ServeStream(quicStream{Stream: st, conn: conn}, buf, rawIdleTimeout); err != nil {
						st.CancelRead(1)
						st.CancelWrite(1)
					}
				})
			}
		})
	}
}

type quicConnCloser struct{ c *quic.Conn }

func (q quicConnCloser) Close() error { return q.c.CloseWithError(0, "") }

// Dial opens a connection (and, for QUIC, one stream) to the server; the
// handshake is complete when it returns.
func (s *RawServer) Dial(ctx context.Context) (RawConn, error) {
	var d net.Dialer
	switch s.kind {
	case RawTCP:
		c, err := d.DialContext(ctx, "tcp", s.addr)
		if err != nil {
			return nil, fmt.Errorf("bench: dial %s %s: %w", s.kind, s.addr, err)
		}
		return c.(*net.TCPConn), nil
	case RawTLS:
		c, err := d.DialContext(ctx, "tcp", s.addr)
		if err != nil {
			return nil, fmt.Errorf("bench: dial %s %s: %w", s.kind, s.addr, err)
		}
		tc := tls.Client(c, s.clientTLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("bench: %s handshake with %s: %w", s.kind, s.addr, err)
		}
		return tc, nil
	case RawChaCha:
		c, err := d.DialContext(ctx, "tcp", s.addr)
		if err != nil {
			return nil, fmt.Errorf("bench: dial %s %s: %w", s.kind, s.addr, err)
		}
		cc, err := newChaChaConn(c.(*net.TCPConn), s.chacha, false)
		if err != nil {
			_ = c.Close()
			return nil, err
		}
		return cc, nil
	case RawQUIC:
		conn, err := s.dialQUIC(ctx)
		if err != nil {
			return nil, err
		}
		st, err := conn.OpenStreamSync(ctx)
		if err != nil {
			_ = conn.CloseWithError(0, "")
			return nil, fmt.Errorf("bench: open %s stream to %s: %w", s.kind, s.addr, err)
		}
		return quicStream{Stream: st, conn: conn}, nil
	}
	return nil, fmt.Errorf("bench: unknown baseline %q", s.kind)
}

func (s *RawServer) dialQUIC(ctx context.Context) (*quic.Conn, error) {
	conn, err := quic.DialAddr(ctx, s.addr, s.clientTLS, rawQUICConfig())
	if err != nil {
		return nil, fmt.Errorf("bench: dial %s %s: %w", s.kind, s.addr, err)
	}
	return conn, nil
}

// quicSession is one raw QUIC connection on which each exchange opens a new
// stream, as libp2p does.
type quicSession struct {
	kind Raw
	conn *quic.Conn
}

// dialSession dials one QUIC connection for repeated exchanges.
func (s *RawServer) dialSession(ctx context.Context) (*quicSession, error) {
	conn, err := s.dialQUIC(ctx)
	if err != nil {
		return nil, err
	}
	return &quicSession{kind: s.kind, conn: conn}, nil
}

// stream opens a new stream; closing it leaves the connection open.
func (q *quicSession) stream(ctx context.Context) (RawConn, error) {
	st, err := q.conn.OpenStreamSync(ctx)
	if err != nil {
		return nil, fmt.Errorf("bench: open %s stream: %w", q.kind, err)
	}
	return quicOnlyStream{st}, nil
}

func (q *quicSession) Close() error { return q.conn.CloseWithError(0, "") }

// quicOnlyStream is a stream whose Close leaves its connection open.
type quicOnlyStream struct{ *quic.Stream }

func (s quicOnlyStream) CloseWrite() error { return s.Stream.Close() }

func (s quicOnlyStream) Close() error {
	s.Stream.CancelRead(0)
	return nil
}

// Close stops accepting, closes open connections and waits for the
// server's goroutines. It is idempotent.
func (s *RawServer) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	conns := make([]interface{ Close() error }, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	s.cancel()
	var err error
	if s.ln != nil {
		err = s.ln.Close()
	}
	if s.ql != nil {
		err = s.ql.Close()
	}
	for _, c := range conns {
		_ = c.Close()
	}
	s.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// selfSignedTLS returns a TLS 1.3 server config with a fresh ECDSA P-256
// certificate and a client config that trusts exactly that certificate.
func selfSignedTLS() (server, client *tls.Config, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("bench: generate key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: benchName},
		DNSNames:              []string{benchName},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("bench: create certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("bench: parse certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	server = &tls.Config{
		Certificates:           []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}},
		MinVersion:             tls.VersionTLS13,
		SessionTicketsDisabled: true,
		NextProtos:             []string{benchALPN},
	}
	client = &tls.Config{
		RootCAs:    pool,
		ServerName: benchName,
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{benchALPN},
	}
	return server, client, nil
}
