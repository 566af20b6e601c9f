package messaging

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// ServiceName is the resource manager service name of inbound streams.
const ServiceName = "plexus.messaging"

// HandlerFunc answers one request from peer from. ctx is cancelled after the
// handler timeout or when the service closes; a handler must return then.
// A returned error (or a panic) reaches the caller as a *HandlerError.
type HandlerFunc func(ctx context.Context, from peer.ID, req []byte) ([]byte, error)

// Handler kinds reported in HandlerInfo.Kind.
const (
	KindGo   = "go"
	KindHTTP = "http"
)

// HandlerInfo describes a registered handler.
type HandlerInfo struct {
	Protocol protocol.ID
	// Kind is KindGo or KindHTTP.
	Kind string
	// URL is the target of a KindHTTP handler, "" for KindGo.
	URL        string
	Registered time.Time
	// Handled counts the requests answered with StatusOK.
	Handled uint64
	// Failed counts the requests that failed in any way.
	Failed uint64
}

// handler is one registered protocol.
type handler struct {
	proto      protocol.ID
	kind       string
	url        string
	registered time.Time
	fn         HandlerFunc
	handled    atomic.Uint64
	failed     atomic.Uint64
}

// Service answers and sends requests for application protocols on a host.
// It starts no goroutines of its own: inbound requests run on the host's
// stream handler goroutines.
type Service struct {
	host    host.Host
	cfg     config
	log     *slog.Logger
	sem     chan struct{}
	peerMu  sync.Mutex
	perPeer map[peer.ID]int // inbound requests being handled, by peer
	ctx     context.Context // cancelled by Close; parent of handler contexts
	cancel  context.CancelFunc
	http    *http.Client

	mu       sync.RWMutex
	closed   bool
	handlers map[protocol.ID]*handler
	inflight sync.WaitGroup // inbound requests being served
}

// New returns a service on h. It registers no protocol until Handle is called.
func New(h host.Host, opts ...Option) (*Service, error) {
	if h == nil {
		return nil, errors.New("messaging: host is nil")
	}
	cfg := defaultConfig()
	for _, opt := range opts {
		if err := opt(&cfg); err != nil {
			return nil, fmt.Errorf("messaging: %w", err)
		}
	}
	log := cfg.logger
	if log == nil {
		log = slog.Default().With(slog.String("component", "messaging"))
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{
		host:     h,
		cfg:      cfg,
		log:      log,
		sem:      make(chan struct{}, cfg.maxConcurrent),
		perPeer:  make(map[peer.ID]int),
		ctx:      ctx,
		cancel:   cancel,
		http:     newHTTPClient(),
		handlers: make(map[protocol.ID]*handler),
	}, nil
}

// Prefix returns the prefix protocol IDs must start with.
func (s *Service) Prefix() string { return s.cfg.prefix }

// MaxMessageSize returns the largest request or response payload in bytes.
func (s *Service) MaxMessageSize() int { return s.cfg.maxSize }

// Handle registers fn as the handler of proto, which must be under the
// service's prefix and not already handled.
func (s *Service) Handle(proto protocol.ID, fn HandlerFunc) error {
	if fn == nil {
		return fmt.Errorf("handle %q: handler is nil", proto)
	}
	return s.register(&handler{proto: proto, kind: KindGo, fn: fn})
}

func (s *Service) register(hd *handler) error {
	if err := checkProtocol(hd.proto, s.cfg.prefix); err != nil {
		return fmt.Errorf("handle: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("handle %q: %w", hd.proto, ErrClosed)
	}
	if _, ok := s.handlers[hd.proto]; ok {
		return fmt.Errorf("handle %q: %w", hd.proto, ErrAlreadyHandled)
	}
	hd.registered = time.Now()
	s.handlers[hd.proto] = hd
	s.host.SetStreamHandler(hd.proto, func(str network.Stream) { s.serve(hd, str) })
	s.log.Info("handler registered", "protocol", hd.proto, "kind", hd.kind, "url", hd.url)
	return nil
}

// Unhandle removes the handler of proto. Requests already being served finish.
func (s *Service) Unhandle(proto protocol.ID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.handlers[proto]; !ok {
		return fmt.Errorf("unhandle %q: %w", proto, ErrNotHandled)
	}
	delete(s.handlers, proto)
	s.host.RemoveStreamHandler(proto)
	s.log.Info("handler removed", "protocol", proto)
	return nil
}

// Handlers lists the registered handlers, sorted by protocol.
func (s *Service) Handlers() []HandlerInfo {
	s.mu.RLock()
	out := make([]HandlerInfo, 0, len(s.handlers))
	for _, hd := range s.handlers {
		out = append(out, HandlerInfo{
			Protocol:   hd.proto,
			Kind:       hd.kind,
			URL:        hd.url,
			Registered: hd.registered,
			Handled:    hd.handled.Load(),
			Failed:     hd.failed.Load(),
		})
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b HandlerInfo) int { return cmp.Compare(a.Protocol, b.Protocol) })
	return out
}

// Close removes every stream handler, cancels the contexts of running
// handlers and waits for them to return. It is idempotent.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for proto := range s.handlers {
		s.host.RemoveStreamHandler(proto)
	}
	s.handlers = nil
	s.mu.Unlock()

	s.cancel()
	s.inflight.Wait()
	s.http.CloseIdleConnections()
	return nil
}

// begin registers an inbound request unless the service is closed.
func (s *Service) begin() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return false
	}
	s.inflight.Add(1)
	return true
}

// serve answers one inbound stream for hd.
func (s *Service) serve(hd *handler, str network.Stream) {
	start := time.Now()
	from := str.Conn().RemotePeer()
	if !s.begin() {
		_ = str.Reset()
		return
	}
	defer s.inflight.Done()

	fail := func(err error) {
		hd.failed.Add(1)
		s.log.Debug("inbound request failed", "protocol", hd.proto, "peer", from, "err", err)
		s.publishFailed(hd.proto, from, DirectionInbound, err)
	}
	if err := str.Scope().SetService(ServiceName); err != nil {
		_ = str.Reset()
		fail(fmt.Errorf("attach stream to resource manager service: %w", err))
		return
	}

	if n, ok := s.acquirePeer(from); !ok {
		s.respond(str, StatusBusy, []byte(fmt.Sprintf("handling %d requests of this peer already", n)))
		fail(fmt.Errorf("refused: %w: %d requests of the peer in flight", ErrBusy, n))
		return
	}
	defer s.releasePeer(from)
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	default:
		s.respond(str, StatusBusy, []byte(fmt.Sprintf("handling %d requests already", s.cfg.maxConcurrent)))
		fail(fmt.Errorf("refused: %w", ErrBusy))
		return
	}

	// One deadline for the whole request, so that a peer sending slowly
	// cannot hold its slot longer.
	_ = str.SetReadDeadline(time.Now().Add(min(s.cfg.readTimeout, s.cfg.requestTimeout)))
	var reserved int
	defer func() {
		if reserved > 0 {
			str.Scope().ReleaseMemory(reserved)
		}
	}()
	req, err := s.readRequest(str, &reserved)
	switch {
	case errors.Is(err, errFrameTooLarge):
		s.respond(str, StatusRequestTooLarge, []byte(err.Error()))
		fail(fmt.Errorf("request refused: %w", err))
		return
	case errors.Is(err, errMalformedFrame):
		s.respond(str, StatusBadRequest, []byte(err.Error()))
		fail(fmt.Errorf("request refused: %w", err))
		return
	case errors.Is(err, errReserve):
		s.respond(str, StatusBusy, []byte(truncate(err.Error(), maxErrorMessage)))
		fail(fmt.Errorf("request refused: %w: %w", ErrBusy, err))
		return
	case err != nil:
		_ = str.Reset()
		fail(fmt.Errorf("read request: %w", err))
		return
	}

	resp, err := s.call(hd, from, req)
	status := StatusOK
	switch {
	case err != nil:
		status, resp = StatusHandlerError, []byte(truncate(err.Error(), maxErrorMessage))
	case len(resp) > s.cfg.maxSize:
		err = fmt.Errorf("response of %d bytes exceeds limit of %d: %w", len(resp), s.cfg.maxSize, ErrTooLarge)
		status, resp = StatusResponseTooLarge, []byte(err.Error())
	}
	if werr := s.respond(str, status, resp); werr != nil {
		fail(fmt.Errorf("write response: %w", werr))
		return
	}
	if err != nil {
		fail(err)
		return
	}
	hd.handled.Add(1)
	s.publishHandled(hd.proto, from, len(req), len(resp), time.Since(start))
}

// readRequest reads the request frame of str, reserving its memory in the
// stream's resource manager scope as the bytes arrive; *reserved counts the
// bytes reserved, for the caller to release.
func (s *Service) readRequest(str network.Stream, reserved *int) ([]byte, error) {
	n, err := readFrameLength(str, s.cfg.maxSize)
	if err != nil {
		return nil, err
	}
	scope := str.Scope()
	return readBody(str, n, func(grow int) error {
		if err := scope.ReserveMemory(grow, network.ReservationPriorityMedium); err != nil {
			return err
		}
		*reserved += grow
		return nil
	})
}

// acquirePeer takes one of p's slots unless p has maxPerPeer requests in
// flight; it returns how many p has.
func (s *Service) acquirePeer(p peer.ID) (int, bool) {
	s.peerMu.Lock()
	defer s.peerMu.Unlock()
	n := s.perPeer[p]
	if n >= s.cfg.maxPerPeer {
		return n, false
	}
	s.perPeer[p] = n + 1
	return n + 1, true
}

// releasePeer gives back one of p's slots.
func (s *Service) releasePeer(p peer.ID) {
	s.peerMu.Lock()
	defer s.peerMu.Unlock()
	if s.perPeer[p] <= 1 {
		delete(s.perPeer, p)
		return
	}
	s.perPeer[p]--
}

// respond writes one response and closes the stream, resetting it if the
// write fails. Unread request bytes are discarded, never read.
func (s *Service) respond(str network.Stream, st Status, payload []byte) error {
	_ = str.SetWriteDeadline(time.Now().Add(s.cfg.requestTimeout))
	if _, err := str.Write(encodeResponse(st, payload)); err != nil {
		_ = str.Reset()
		return err
	}
	if err := str.Close(); err != nil {
		s.log.Debug("close stream after response", "protocol", str.Protocol(), "err", err)
	}
	return nil
}

// call runs the handler with the handler timeout, turning a panic or an
// expired context into an error.
func (s *Service) call(hd *handler, from peer.ID, req []byte) (resp []byte, err error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.handlerTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("handler panicked", "protocol", hd.proto, "peer", from, "panic", r, "stack", string(debug.Stack()))
			resp, err = nil, fmt.Errorf("handler panicked: %v", r)
		}
	}()
	resp, err = hd.fn(ctx, from, req)
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("handler timed out after %s", s.cfg.handlerTimeout)
		}
		return nil, errors.New("handler cancelled: service closing")
	}
	return resp, err
}
