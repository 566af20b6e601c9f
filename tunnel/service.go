package tunnel

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// ServiceName is the resource manager service of tunnel streams.
const ServiceName = "plexus.tunnel"

// Kind says which end of a tunnel a node holds.
type Kind string

// Kinds of tunnel.
const (
	// KindExpose serves a local TCP address to peers under a protocol.
	KindExpose Kind = "expose"
	// KindForward listens locally and carries connections to a peer.
	KindForward Kind = "forward"
)

// Info describes a tunnel.
type Info struct {
	// ID names the tunnel for CloseTunnel: "1", "2", ... in creation order.
	ID       string
	Kind     Kind
	Protocol protocol.ID
	// Target is the TCP address an exposed tunnel connects to ("" for a
	// forwarding one).
	Target string
	// Allow lists the peers an exposed tunnel accepts. When it is empty,
	// DefaultAllow reports whether the service's default policy (in a
	// private network: its members) decides instead; otherwise nobody may
	// connect.
	Allow        []peer.ID
	DefaultAllow bool
	// Listen is the local address a forwarding tunnel listens on, with the
	// port it was given when asked for port 0 ("" for an exposed one).
	Listen string
	// Peer is the peer a forwarding tunnel carries connections to.
	Peer    peer.ID
	Created time.Time
	// Conns is how many connections are open (for a closed tunnel: were
	// open when it closed); MaxConns is the limit.
	Conns, MaxConns int
	// Accepted counts the connections carried since the tunnel opened;
	// Failed those of them that ended with an error; Refused the ones
	// turned away before being carried (not allowed, over the limit).
	Accepted, Failed, Refused uint64
	// BytesIn came from peers, BytesOut went to peers, over every
	// connection of the tunnel.
	BytesIn, BytesOut uint64
	// LastError is the last failure of a connection, with its time.
	LastError   string
	LastErrorAt time.Time
}

// Service holds the tunnels of one host. Expose registers a stream handler
// (the host runs it); Forward starts one accept loop per listener. Every
// connection runs on two goroutines, one per direction, owned by its
// tunnel: CloseTunnel and Close stop them and wait.
type Service struct {
	h    host.Host
	cfg  config
	log  *slog.Logger
	bufs sync.Pool // of *[]byte, cfg.bufSize long

	mu      sync.Mutex
	closed  bool
	next    uint64
	tunnels map[string]*tunnel
	exposed map[protocol.ID]*tunnel
}

// New returns a service on h with no tunnels. It starts no goroutines.
func New(h host.Host, opts ...Option) (*Service, error) {
	if h == nil {
		return nil, errors.New("tunnel: host is nil")
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("tunnel: %w", err)
		}
	}
	log := cfg.logger
	if log == nil {
		log = slog.Default()
	}
	s := &Service{
		h:       h,
		cfg:     cfg,
		log:     log.With(slog.String("component", "tunnel")),
		tunnels: make(map[string]*tunnel),
		exposed: make(map[protocol.ID]*tunnel),
	}
	s.bufs.New = func() any {
		b := make([]byte, s.cfg.bufSize)
		return &b
	}
	return s, nil
}

// Expose serves the TCP address target (host:port, or a multiaddr
// /ip4/HOST/tcp/PORT) to peers under proto, which must start with "/x/".
// Only the peers in allow may connect; with none, the service's default
// policy decides (WithDefaultAllow), and without one nobody may. The
// target is dialled for each connection, so it need not be up yet.
func (s *Service) Expose(proto protocol.ID, target string, allow []peer.ID) (Info, error) {
	if err := CheckProtocol(string(proto)); err != nil {
		return Info{}, fmt.Errorf("expose: %w", err)
	}
	addr, err := parseAddr(target, false)
	if err != nil {
		return Info{}, fmt.Errorf("expose %s: %w", proto, err)
	}
	set := make(map[peer.ID]struct{}, len(allow))
	var list []peer.ID
	for _, p := range allow {
		if err := checkPeer(p); err != nil {
			return Info{}, fmt.Errorf("expose %s: %w: allowed peer %q: %w", proto, ErrInvalidPeer, p, err)
		}
		if _, dup := set[p]; !dup {
			set[p] = struct{}{}
			list = append(list, p)
		}
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return Info{}, fmt.Errorf("expose %s: %w", proto, ErrClosed)
	}
	if other, ok := s.exposed[proto]; ok {
		s.mu.Unlock()
		return Info{}, fmt.Errorf("expose %s: %w by tunnel %s (to %s)", proto, ErrProtocolInUse, other.id, other.target)
	}
	if slices.Contains(s.h.Mux().Protocols(), proto) {
		s.mu.Unlock()
		return Info{}, fmt.Errorf("expose %s: %w: the node serves it already", proto, ErrProtocolInUse)
	}
	t := s.newTunnel(KindExpose, proto)
	t.target = addr
	t.allow = set
	t.allowList = list
	s.exposed[proto] = t
	s.tunnels[t.id] = t
	s.h.SetStreamHandler(proto, t.handleStream)
	s.mu.Unlock()

	info := t.info()
	s.log.Info("tunnel exposed", "id", t.id, "protocol", proto, "target", addr, "allow", len(list), "default_allow", info.DefaultAllow)
	s.publish(EventOpened, info)
	return info, nil
}

// Forward listens on the local TCP address listen (host:port, port 0 for
// any free port, or a multiaddr /ip4/HOST/tcp/PORT) and carries each
// accepted connection over a new stream to p's service exposed under
// proto. It does not contact p: each connection does, and a failure is the
// tunnel's LastError.
func (s *Service) Forward(listen string, p peer.ID, proto protocol.ID) (Info, error) {
	if err := CheckProtocol(string(proto)); err != nil {
		return Info{}, fmt.Errorf("forward: %w", err)
	}
	addr, err := parseAddr(listen, true)
	if err != nil {
		return Info{}, fmt.Errorf("forward %s: %w", proto, err)
	}
	switch {
	case p == "":
		return Info{}, fmt.Errorf("forward %s: %w: no peer given", proto, ErrInvalidPeer)
	case p == s.h.ID():
		return Info{}, fmt.Errorf("forward %s: %w: %s is this node itself", proto, ErrInvalidPeer, p)
	}
	if err := checkPeer(p); err != nil {
		return Info{}, fmt.Errorf("forward %s: %w %q: %w", proto, ErrInvalidPeer, p, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Info{}, fmt.Errorf("forward %s: %w", proto, ErrClosed)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return Info{}, fmt.Errorf("forward %s: %w", proto, listenError(addr, err))
	}
	t := s.newTunnel(KindForward, proto)
	t.listener = l
	t.listen = l.Addr().String()
	t.peer = p
	s.tunnels[t.id] = t
	t.wg.Add(1)
	go t.acceptLoop()

	info := t.info()
	s.log.Info("tunnel forwarding", "id", t.id, "listen", t.listen, "peer", p, "protocol", proto)
	s.publish(EventOpened, info)
	return info, nil
}

// checkPeer reports why p is not a peer ID (a multihash of a public key).
func checkPeer(p peer.ID) error {
	_, err := peer.IDFromBytes([]byte(p))
	return err
}

// listenError classifies a failed net.Listen.
func listenError(addr string, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("listen on %s: %w (by another tunnel or program): %w", addr, ErrAddrInUse, err)
	case errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EACCES):
		return fmt.Errorf("%w: listen on %s: %w", ErrInvalidAddress, addr, err)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return fmt.Errorf("%w: listen on %s: %w", ErrInvalidAddress, addr, err)
	}
	return fmt.Errorf("listen on %s: %w", addr, err)
}

// List returns every open tunnel, oldest first.
func (s *Service) List() []Info {
	s.mu.Lock()
	ts := make([]*tunnel, 0, len(s.tunnels))
	for _, t := range s.tunnels {
		ts = append(ts, t)
	}
	s.mu.Unlock()
	out := make([]Info, len(ts))
	for i, t := range ts {
		out[i] = t.info()
	}
	slices.SortFunc(out, func(a, b Info) int { return cmp.Compare(idNumber(a.ID), idNumber(b.ID)) })
	return out
}

// Get returns the tunnel with the given ID.
func (s *Service) Get(id string) (Info, error) {
	s.mu.Lock()
	t, ok := s.tunnels[id]
	s.mu.Unlock()
	if !ok {
		return Info{}, fmt.Errorf("tunnel %q: %w", id, ErrNotFound)
	}
	return t.info(), nil
}

func idNumber(id string) uint64 {
	n, _ := strconv.ParseUint(id, 10, 64)
	return n
}

// CloseTunnel closes the tunnel with the given ID: an exposed one stops
// accepting streams, a forwarding one stops listening, and the connections
// it carries are cut (reset on the peer's side, RST on the local one). It
// returns the tunnel's last state.
func (s *Service) CloseTunnel(id string) (Info, error) {
	s.mu.Lock()
	t, ok := s.tunnels[id]
	if !ok {
		s.mu.Unlock()
		return Info{}, fmt.Errorf("close tunnel %q: %w", id, ErrNotFound)
	}
	s.forget(t)
	s.mu.Unlock()
	info := t.close()
	s.log.Info("tunnel closed", "id", id, "protocol", t.proto, "connections_cut", info.Conns)
	s.publish(EventClosed, info)
	return info, nil
}

// forget removes t from the service; s.mu is held.
func (s *Service) forget(t *tunnel) {
	delete(s.tunnels, t.id)
	if t.kind == KindExpose {
		delete(s.exposed, t.proto)
		s.h.RemoveStreamHandler(t.proto)
	}
}

// Close closes every tunnel and waits for their goroutines. It is
// idempotent; Expose and Forward fail with ErrClosed afterwards.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	ts := make([]*tunnel, 0, len(s.tunnels))
	for _, t := range s.tunnels {
		ts = append(ts, t)
		s.forget(t)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, t := range ts {
		wg.Go(func() { s.publish(EventClosed, t.close()) })
	}
	wg.Wait()
	return nil
}

func (s *Service) newTunnel(kind Kind, proto protocol.ID) *tunnel {
	s.next++
	t := &tunnel{
		svc:     s,
		id:      strconv.FormatUint(s.next, 10),
		kind:    kind,
		proto:   proto,
		created: time.Now(),
		conns:   make(map[*conn]struct{}),
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	return t
}
