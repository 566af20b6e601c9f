package tunnel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// tunnel is one exposed service or one forwarding listener.
type tunnel struct {
	svc     *Service
	id      string
	kind    Kind
	proto   protocol.ID
	created time.Time
	ctx     context.Context // cancelled by close: ends dials and opens
	cancel  context.CancelFunc

	// KindExpose
	target    string
	allow     map[peer.ID]struct{}
	allowList []peer.ID

	// KindForward
	listener net.Listener
	listen   string
	peer     peer.ID

	bytesIn, bytesOut         atomic.Uint64
	accepted, failed, refused atomic.Uint64
	wg                        sync.WaitGroup // the accept loop and every admitted connection

	mu        sync.Mutex
	closed    bool
	openAtEnd int // connections cut by close
	conns     map[*conn]struct{}
	lastErr   string
	lastErrAt time.Time
}

func (t *tunnel) info() Info {
	t.mu.Lock()
	open := len(t.conns)
	if t.closed {
		open = t.openAtEnd
	}
	lastErr, lastErrAt := t.lastErr, t.lastErrAt
	t.mu.Unlock()
	return Info{
		ID:           t.id,
		Kind:         t.kind,
		Protocol:     t.proto,
		Target:       t.target,
		Allow:        slices.Clone(t.allowList),
		DefaultAllow: t.kind == KindExpose && len(t.allowList) == 0 && t.svc.cfg.defaultAllow != nil,
		Listen:       t.listen,
		Peer:         t.peer,
		Created:      t.created,
		Conns:        open,
		MaxConns:     t.svc.cfg.maxConns,
		Accepted:     t.accepted.Load(),
		Failed:       t.failed.Load(),
		Refused:      t.refused.Load(),
		BytesIn:      t.bytesIn.Load(),
		BytesOut:     t.bytesOut.Load(),
		LastError:    lastErr,
		LastErrorAt:  lastErrAt,
	}
}

// allowed reports whether p may connect to an exposed tunnel.
func (t *tunnel) allowed(p peer.ID) bool {
	if len(t.allow) > 0 {
		_, ok := t.allow[p]
		return ok
	}
	return t.svc.cfg.defaultAllow != nil && t.svc.cfg.defaultAllow(p)
}

// errTunnelClosed is the reason of connections cut by close; it is not a
// failure.
var errTunnelClosed = errors.New("tunnel closed")

// admit registers c unless the tunnel is closed or full. An admitted
// connection must be released.
func (t *tunnel) admit(c *conn) (network.StreamErrorCode, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.closed:
		return network.StreamShutdown, errTunnelClosed
	case len(t.conns) >= t.svc.cfg.maxConns:
		return network.StreamResourceLimitExceeded, fmt.Errorf("the tunnel carries %d connections already, its limit", len(t.conns))
	}
	t.conns[c] = struct{}{}
	t.wg.Add(1)
	t.accepted.Add(1)
	return 0, nil
}

func (t *tunnel) release(c *conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
	t.wg.Done()
}

// refuse records a connection turned away before it was carried.
func (t *tunnel) refuse(p peer.ID, reason error) {
	if errors.Is(reason, errTunnelClosed) {
		return
	}
	t.refused.Add(1)
	err := fmt.Errorf("refused a connection from %s: %w", p, reason)
	if t.kind == KindForward {
		err = fmt.Errorf("refused a local connection: %w", reason)
	}
	t.setLastError(err)
	t.svc.log.Debug("tunnel connection refused", "id", t.id, "protocol", t.proto, "peer", p, "reason", reason)
	t.svc.publish(EventRefused, Refused{Tunnel: t.id, Kind: t.kind, Protocol: t.proto, Peer: p, Reason: reason.Error()})
}

func (t *tunnel) setLastError(err error) {
	t.mu.Lock()
	t.lastErr, t.lastErrAt = err.Error(), time.Now()
	t.mu.Unlock()
}

// close stops accepting, cuts the open connections, waits for every
// goroutine of the tunnel and returns its final state.
func (t *tunnel) close() Info {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return t.info()
	}
	t.closed = true
	t.openAtEnd = len(t.conns)
	open := make([]*conn, 0, len(t.conns))
	for c := range t.conns {
		open = append(open, c)
	}
	t.mu.Unlock()

	t.cancel()
	if t.listener != nil {
		_ = t.listener.Close()
	}
	for _, c := range open {
		c.abort(network.StreamShutdown, errTunnelClosed)
	}
	t.wg.Wait()
	return t.info()
}

// handleStream serves one inbound stream of an exposed tunnel: check the
// peer, attach the stream to the resource manager, dial the target, pipe.
func (t *tunnel) handleStream(str network.Stream) {
	remote := str.Conn().RemotePeer()
	if !t.allowed(remote) {
		_ = str.ResetWithError(network.StreamGated)
		t.refuse(remote, errors.New("the peer is not on the tunnel's allow list"))
		return
	}
	release, err := t.attach(str)
	if err != nil {
		_ = str.ResetWithError(network.StreamResourceLimitExceeded)
		t.refuse(remote, err)
		return
	}
	defer release()
	c := &conn{t: t, peer: remote, start: time.Now(), str: str}
	if code, err := t.admit(c); err != nil {
		_ = str.ResetWithError(code)
		t.refuse(remote, err)
		return
	}
	defer t.release(c)

	ctx, cancel := context.WithTimeout(t.ctx, t.svc.cfg.dialTimeout)
	var d net.Dialer
	tc, err := d.DialContext(ctx, "tcp", t.target)
	cancel()
	if err != nil {
		c.abort(CodeTargetUnreachable, fmt.Errorf("connect to the target %s: %w", t.target, err))
		t.done(c)
		return
	}
	if c.setTCP(tc) {
		c.pipe()
	}
	t.done(c)
}

// acceptLoop accepts the local connections of a forwarding tunnel until
// the listener closes.
func (t *tunnel) acceptLoop() {
	defer t.wg.Done()
	var delay time.Duration
	for {
		tc, err := t.listener.Accept()
		if err != nil {
			if t.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors or a similar passing failure: back off.
			t.setLastError(fmt.Errorf("accept on %s: %w", t.listen, err))
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			select {
			case <-t.ctx.Done():
				return
			case <-time.After(delay):
			}
			continue
		}
		delay = 0
		c := &conn{t: t, peer: t.peer, start: time.Now(), tcp: tc}
		if _, err := t.admit(c); err != nil {
			resetTCP(tc)
			t.refuse(t.peer, err)
			continue
		}
		go t.forward(c)
	}
}

// forward carries one admitted local connection to the peer.
func (t *tunnel) forward(c *conn) {
	defer t.release(c)
	ctx, cancel := context.WithTimeout(t.ctx, t.svc.cfg.openTimeout)
	str, err := t.open(ctx)
	cancel()
	if err != nil {
		c.abort(0, err)
		t.done(c)
		return
	}
	release, err := t.attach(str)
	if err != nil {
		_ = str.ResetWithError(network.StreamResourceLimitExceeded)
		c.abort(0, err)
		t.done(c)
		return
	}
	defer release()
	if c.setStream(str) {
		c.pipe()
	}
	t.done(c)
}

// open connects to the tunnel's peer and opens a stream, over a relayed
// connection when there is no direct one.
func (t *tunnel) open(ctx context.Context) (network.Stream, error) {
	if connect := t.svc.cfg.connect; connect != nil {
		if err := connect(ctx, t.peer); err != nil {
			return nil, fmt.Errorf("connect to %s: %w", t.peer, err)
		}
	}
	ctx = network.WithAllowLimitedConn(ctx, "tunnel")
	str, err := t.svc.h.NewStream(ctx, t.peer, t.proto)
	if err != nil {
		if refused := t.refusal(t.peer, err); refused != nil {
			return nil, refused
		}
		if isNotSupported(err) {
			return nil, t.notExposed()
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("open a stream to %s: %w (%w)", t.peer, ctx.Err(), err)
		}
		return nil, fmt.Errorf("open a stream to %s: %w", t.peer, err)
	}
	return str, nil
}

// attach puts a stream in the tunnel service's resource scope and reserves
// its two copy buffers there; release gives the memory back.
func (t *tunnel) attach(str network.Stream) (release func(), err error) {
	scope := str.Scope()
	if err := scope.SetService(ServiceName); err != nil {
		return nil, fmt.Errorf("resource manager refused a stream of service %s: %w", ServiceName, err)
	}
	n := 2 * t.svc.cfg.bufSize
	if err := scope.ReserveMemory(n, network.ReservationPriorityHigh); err != nil {
		return nil, fmt.Errorf("resource manager refused %d bytes of buffers: %w", n, err)
	}
	return func() { scope.ReleaseMemory(n) }, nil
}

// done publishes the end of a carried connection and records its failure.
func (t *tunnel) done(c *conn) {
	err := c.reason()
	ev := ConnClosed{
		Tunnel:   t.id,
		Kind:     t.kind,
		Protocol: t.proto,
		Peer:     c.peer,
		BytesIn:  c.in.Load(),
		BytesOut: c.out.Load(),
		Duration: time.Since(c.start),
		Relayed:  c.relayed(),
	}
	if err != nil && !errors.Is(err, errTunnelClosed) {
		ev.Error = err.Error()
		t.failed.Add(1)
		t.setLastError(err)
		t.svc.log.Debug("tunnel connection failed", "id", t.id, "protocol", t.proto, "peer", c.peer, "err", err)
	}
	t.svc.publish(EventConnClosed, ev)
}

// notExposed is the error for a peer that does not serve the protocol.
func (t *tunnel) notExposed() error {
	return fmt.Errorf("peer %s does not expose %s (on that peer: plexus tunnel expose %s HOST:PORT --allow %s)",
		t.peer, t.proto, t.proto, t.svc.h.ID())
}
