// Package perf implements the libp2p perf protocol, /perf/1.0.0
// (libp2p/specs perf/perf.md), used to measure throughput and latency
// between two peers.
//
// On a new stream the client sends the number of bytes it wants back as a
// big-endian uint64, uploads any number of bytes and closes its write side.
// The server reads the number, drains the upload until EOF, then sends the
// requested number of bytes and closes the stream.
//
// The protocol lets a client make the server do a lot of work, so the spec
// says it should not be enabled by default on public nodes (a Plexus node
// serves it only when perf.enabled is set, as in the local profile). A
// Service caps its concurrent streams and the bytes of one exchange
// (WithMaxBytes), resets streams that stall, and can be restricted to a set
// of peers with WithAllowPeer.
package perf

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/plexus-p2p/plexus/config"
)

// ID is the protocol ID of perf.
const ID protocol.ID = "/perf/1.0.0"

// ServiceName is the resource-manager service perf streams are attached to.
const ServiceName = "plexus.perf"

// EventServed is the type of the event published when the server side of a
// perf stream ends, successfully or not. Its data is a Served.
const EventServed = "perf.served"

const (
	minBufferSize         = 64 << 10
	maxBufferSize         = 16 << 20
	defaultBufferSize     = 256 << 10
	defaultMaxStreams     = config.DefaultPerfMaxStreams
	defaultMaxPerPeer     = 2
	defaultIdleTimeout    = 30 * time.Second
	defaultRunBufferSize  = 256 << 10
	publishedErrorMaxSize = 200
)

// Publisher receives the events this package emits; the node passes its event bus.
type Publisher interface{ Publish(typ string, data any) }

// Served is the data of an EventServed event.
type Served struct {
	// Peer is the client.
	Peer     peer.ID
	Transfer // byte counts
	// Duration runs from the stream's arrival to the end of the exchange.
	Duration time.Duration
	// Error is empty when the exchange completed.
	Error string
}

type options struct {
	logger     *slog.Logger
	publisher  Publisher
	maxStreams int
	idle       time.Duration
	bufSize    int
	allow      func(peer.ID) bool
	maxBytes   uint64
	perPeer    int
}

// Option configures a Service.
type Option func(*options) error

// WithLogger sets the logger. Default: slog.Default() with component=perf.
func WithLogger(l *slog.Logger) Option {
	return func(c *options) error {
		if l == nil {
			return errors.New("perf: nil logger")
		}
		c.logger = l
		return nil
	}
}

// WithPublisher sets where EventServed events go. Default: none.
func WithPublisher(p Publisher) Option {
	return func(c *options) error {
		c.publisher = p
		return nil
	}
}

// WithMaxStreams caps how many perf streams the server handles at once;
// streams beyond the cap are reset. Default: config.DefaultPerfMaxStreams (16).
func WithMaxStreams(n int) Option {
	return func(c *options) error {
		if n < 1 {
			return fmt.Errorf("perf: max streams %d: must be at least 1", n)
		}
		c.maxStreams = n
		return nil
	}
}

// WithIdleTimeout sets how long the server waits on any single read or
// write before resetting the stream. Transfers of any size are allowed as
// long as they keep moving. Default: 30s.
func WithIdleTimeout(d time.Duration) Option {
	return func(c *options) error {
		if d <= 0 {
			return fmt.Errorf("perf: idle timeout %v: must be positive", d)
		}
		c.idle = d
		return nil
	}
}

// WithBufferSize sets the server's per-stream read and write chunk size.
// Default: 256 KiB; allowed 64 KiB to 16 MiB.
func WithBufferSize(n int) Option {
	return func(c *options) error {
		if n < minBufferSize || n > maxBufferSize {
			return fmt.Errorf("perf: buffer size %d: must be between %d and %d", n, minBufferSize, maxBufferSize)
		}
		c.bufSize = n
		return nil
	}
}

// WithAllowPeer restricts the server to peers for which allow reports
// true; streams from other peers are reset. Default: every peer.
func WithAllowPeer(allow func(peer.ID) bool) Option {
	return func(c *options) error {
		if allow == nil {
			return errors.New("perf: nil allow function")
		}
		c.allow = allow
		return nil
	}
}

// WithMaxBytes caps one exchange: a request for more than n bytes is reset
// (StreamResourceLimitExceeded) before anything is sent, and so is an upload
// longer than n. Default 0: no cap.
func WithMaxBytes(n uint64) Option {
	return func(c *options) error {
		c.maxBytes = n
		return nil
	}
}

// WithMaxStreamsPerPeer caps how many of the service's streams one peer
// may hold at once, so that one peer cannot take every slot of
// WithMaxStreams; more are reset. Default 2.
func WithMaxStreamsPerPeer(n int) Option {
	return func(c *options) error {
		if n < 1 {
			return fmt.Errorf("perf: max streams per peer %d: must be at least 1", n)
		}
		c.perPeer = n
		return nil
	}
}

// Service is the server side of perf on one host.
type Service struct {
	h   host.Host
	cfg options
	log *slog.Logger

	bufs sync.Pool // of *[]byte, each cfg.bufSize long

	mu      sync.Mutex
	closed  bool
	active  map[network.Stream]struct{}
	perPeer map[peer.ID]int
	handles sync.WaitGroup
}

// New registers the perf stream handler on h. It starts no goroutines; the
// host runs one per incoming stream. Close removes the handler.
func New(h host.Host, opts ...Option) (*Service, error) {
	cfg := options{
		maxStreams: defaultMaxStreams,
		perPeer:    defaultMaxPerPeer,
		idle:       defaultIdleTimeout,
		bufSize:    defaultBufferSize,
	}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default().With(slog.String("component", "perf"))
	}
	s := &Service{
		h:       h,
		cfg:     cfg,
		log:     cfg.logger,
		active:  make(map[network.Stream]struct{}),
		perPeer: make(map[peer.ID]int),
	}
	s.bufs.New = func() any {
		b := make([]byte, s.cfg.bufSize)
		return &b
	}
	h.SetStreamHandler(ID, s.handle)
	return s, nil
}

// Close removes the stream handler, resets the streams being served and
// waits for their handlers to return. It is idempotent.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	active := make([]network.Stream, 0, len(s.active))
	for st := range s.active {
		active = append(active, st)
	}
	s.mu.Unlock()

	s.h.RemoveStreamHandler(ID)
	for _, st := range active {
		_ = st.ResetWithError(network.StreamShutdown)
	}
	s.handles.Wait()
	return nil
}

// admit registers st as active, or reports why it may not be served.
func (s *Service) admit(st network.Stream) (network.StreamErrorCode, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return network.StreamShutdown, errors.New("service closed")
	case len(s.active) >= s.cfg.maxStreams:
		return network.StreamResourceLimitExceeded, fmt.Errorf("%d streams already active", len(s.active))
	case s.perPeer[st.Conn().RemotePeer()] >= s.cfg.perPeer:
		return network.StreamResourceLimitExceeded, fmt.Errorf("%d streams of this peer already active", s.perPeer[st.Conn().RemotePeer()])
	}
	s.active[st] = struct{}{}
	s.perPeer[st.Conn().RemotePeer()]++
	s.handles.Add(1)
	return 0, nil
}

func (s *Service) release(st network.Stream) {
	s.mu.Lock()
	delete(s.active, st)
	if p := st.Conn().RemotePeer(); s.perPeer[p] <= 1 {
		delete(s.perPeer, p)
	} else {
		s.perPeer[p]--
	}
	s.mu.Unlock()
	s.handles.Done()
}

func (s *Service) handle(st network.Stream) {
	start := time.Now()
	remote := st.Conn().RemotePeer()
	ev := Served{Peer: remote}
	defer func() {
		ev.Duration = time.Since(start)
		s.publish(ev)
	}()

	if s.cfg.allow != nil && !s.cfg.allow(remote) {
		_ = st.ResetWithError(network.StreamGated)
		ev.Error = "peer not allowed"
		s.log.Debug("perf stream refused", slog.Any("peer", ev.Peer), slog.String("reason", ev.Error))
		return
	}
	if code, err := s.admit(st); err != nil {
		_ = st.ResetWithError(code)
		ev.Error = err.Error()
		s.log.Debug("perf stream refused", slog.Any("peer", ev.Peer), slog.String("reason", ev.Error))
		return
	}
	defer s.release(st)

	t, err := s.serve(st)
	ev.Transfer = t
	if err != nil {
		code := network.StreamErrorCode(0)
		switch {
		case errors.Is(err, ErrShortHeader):
			code = network.StreamProtocolViolation
		case errors.Is(err, ErrOverLimit):
			code = network.StreamResourceLimitExceeded
		}
		_ = st.ResetWithError(code)
		ev.Error = truncate(err.Error(), publishedErrorMaxSize)
		s.log.Debug("perf stream failed", slog.Any("peer", ev.Peer), slog.Any("err", err))
		return
	}
	_ = st.Close()
}

func (s *Service) serve(st network.Stream) (Transfer, error) {
	if err := st.Scope().SetService(ServiceName); err != nil {
		return Transfer{}, fmt.Errorf("perf: attach stream to service %s: %w", ServiceName, err)
	}
	if err := st.Scope().ReserveMemory(s.cfg.bufSize, network.ReservationPriorityAlways); err != nil {
		return Transfer{}, fmt.Errorf("perf: reserve %d bytes: %w", s.cfg.bufSize, err)
	}
	defer st.Scope().ReleaseMemory(s.cfg.bufSize)

	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	return serveStream(st, *bp, s.cfg.idle, s.cfg.maxBytes)
}

func (s *Service) publish(ev Served) {
	if s.cfg.publisher != nil {
		s.cfg.publisher.Publish(EventServed, ev)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
