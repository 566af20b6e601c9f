package tunnel

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	relayclient "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	ma "github.com/multiformats/go-multiaddr"
	msmux "github.com/multiformats/go-multistream"
)

// conn is one TCP connection carried over one stream.
type conn struct {
	t       *tunnel
	peer    peer.ID
	start   time.Time
	in, out atomic.Uint64 // bytes from and to the peer

	mu    sync.Mutex
	str   network.Stream
	tcp   net.Conn
	ended bool  // aborted or finished: both ends closed
	err   error // why it was aborted
}

// setStream attaches the stream of a forwarded connection; it reports
// false (and resets str) when the connection was aborted meanwhile.
func (c *conn) setStream(str network.Stream) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		_ = str.ResetWithError(network.StreamShutdown)
		return false
	}
	c.str = str
	return true
}

// setTCP attaches the target connection of an exposed connection; it
// reports false (and closes tc) when the connection was aborted meanwhile.
func (c *conn) setTCP(tc net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		resetTCP(tc)
		return false
	}
	c.tcp = tc
	return true
}

// abort ends the connection with reason: the stream is reset with code,
// the TCP connection closed with a RST. Only the first call counts.
func (c *conn) abort(code network.StreamErrorCode, reason error) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended, c.err = true, reason
	str, tc := c.str, c.tcp
	c.mu.Unlock()
	if str != nil {
		_ = str.ResetWithError(code)
	}
	if tc != nil {
		resetTCP(tc)
	}
}

// finish closes both ends after both directions ended cleanly.
func (c *conn) finish() {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended = true
	str, tc := c.str, c.tcp
	c.mu.Unlock()
	_ = str.Close()
	_ = tc.Close()
}

func (c *conn) reason() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// relayed reports whether the stream runs over a relayed connection.
func (c *conn) relayed() bool {
	c.mu.Lock()
	str := c.str
	c.mu.Unlock()
	return str != nil && str.Conn().Stat().Limited
}

// pipe copies both directions until both ended: the peer's bytes to the
// local connection on this goroutine, the local bytes to the peer on
// another. An end of stream on one side closes the write half of the other
// side; an error aborts the whole connection.
func (c *conn) pipe() {
	local := c.localName()
	done := make(chan struct{})
	go func() {
		defer close(done)
		bp := c.t.svc.bufs.Get().(*[]byte)
		defer c.t.svc.bufs.Put(bp)
		err := copyHalf(c.str, c.tcp, *bp, &c.out, &c.t.bytesOut,
			func(err error) error { return c.streamError("write to", err) },
			func(err error) error { return fmt.Errorf("read from %s: %w", local, err) })
		if err == nil {
			if cerr := c.str.CloseWrite(); cerr != nil {
				err = c.streamError("close the write side to", cerr)
			}
		}
		if err != nil {
			c.abort(0, err)
		}
	}()

	bp := c.t.svc.bufs.Get().(*[]byte)
	err := copyHalf(c.tcp, c.str, *bp, &c.in, &c.t.bytesIn,
		func(err error) error { return fmt.Errorf("write to %s: %w", local, err) },
		func(err error) error { return c.streamError("read from", err) })
	c.t.svc.bufs.Put(bp)
	if err == nil {
		if cerr := closeWrite(c.tcp); cerr != nil {
			err = fmt.Errorf("close the write side to %s: %w", local, cerr)
		}
	}
	if err != nil {
		c.abort(0, err)
	}
	<-done
	c.finish()
}

// localName names the local end for errors.
func (c *conn) localName() string {
	if c.t.kind == KindExpose {
		return "the target " + c.t.target
	}
	return "the local connection from " + c.tcp.RemoteAddr().String()
}

// copyHalf copies src to dst until src ends (nil) or either fails, adding
// what it wrote to the counters. wErr and rErr wrap write and read errors.
func copyHalf(dst io.Writer, src io.Reader, buf []byte, conn, total *atomic.Uint64, wErr, rErr func(error) error) error {
	for {
		n, err := src.Read(buf)
		if n > 0 {
			w, werr := dst.Write(buf[:n])
			conn.Add(uint64(w))
			total.Add(uint64(w))
			if werr != nil {
				return wErr(werr)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return rErr(err)
		}
	}
}

// streamError explains a failed operation on the stream: the peer's
// refusal by its reset code, a protocol the peer does not serve, or the
// limits of the relay the stream ran through.
func (c *conn) streamError(op string, err error) error {
	t := c.t
	if refused := t.refusal(c.peer, err); refused != nil {
		return refused
	}
	if isNotSupported(err) {
		return t.notExposed()
	}
	err = fmt.Errorf("%s peer %s: %w", op, c.peer, err)
	c.mu.Lock()
	str := c.str
	c.mu.Unlock()
	if str != nil {
		if note := relayNote(str.Conn(), time.Since(c.start), c.in.Load(), c.out.Load()); note != "" {
			err = fmt.Errorf("%s: %w", note, err)
		}
	}
	return err
}

// refusal explains a stream reset by the peer p, by its code, or returns
// nil when err is not one. On an exposed tunnel the only such reset is the
// forwarding side closing its tunnel, which is not a failure.
func (t *tunnel) refusal(p peer.ID, err error) error {
	var se *network.StreamError
	if !errors.As(err, &se) || !se.Remote {
		return nil
	}
	if t.kind == KindExpose {
		if se.ErrorCode == network.StreamShutdown {
			return fmt.Errorf("peer %s closed its end: %w", p, errTunnelClosed)
		}
		return nil
	}
	switch se.ErrorCode {
	case network.StreamGated:
		return fmt.Errorf("peer %s refused the connection: this node (%s) is not allowed on its tunnel %s (on that peer: plexus tunnel expose %s HOST:PORT --allow %s)",
			p, t.svc.h.ID(), t.proto, t.proto, t.svc.h.ID())
	case network.StreamResourceLimitExceeded:
		return fmt.Errorf("peer %s refused the connection: its tunnel %s is at its connection limit, or its resource manager's limits for %s are reached", p, t.proto, ServiceName)
	case network.StreamShutdown:
		return fmt.Errorf("peer %s closed its tunnel %s", p, t.proto)
	case CodeTargetUnreachable:
		return fmt.Errorf("peer %s could not connect to the service it exposes as %s", p, t.proto)
	}
	return nil
}

// isNotSupported reports whether err says the peer does not speak the
// protocol (multistream-select's "na", eager or lazy).
func isNotSupported(err error) bool {
	var ns msmux.ErrNotSupported[protocol.ID]
	return errors.As(err, &ns) || strings.Contains(err.Error(), "protocols not supported")
}

// relayNote describes the limits of a relayed connection for an error, or
// "" for a direct one.
func relayNote(c network.Conn, lasted time.Duration, in, out uint64) string {
	st := c.Stat()
	if !st.Limited {
		return ""
	}
	relay := "a relay"
	var prev string
	for _, comp := range c.RemoteMultiaddr() {
		if comp.Protocol().Code == ma.P_CIRCUIT && prev != "" {
			relay = "relay " + prev
		}
		if comp.Protocol().Code == ma.P_P2P {
			prev = comp.Value()
		}
	}
	var limits []string
	if d, ok := st.Extra[relayclient.StatLimitDuration].(time.Duration); ok && d > 0 {
		limits = append(limits, d.String())
	}
	if n, ok := st.Extra[relayclient.StatLimitData].(uint64); ok && n > 0 {
		limits = append(limits, byteCount(n)+" each way")
	}
	limit := "limits relayed connections (it did not say how)"
	if len(limits) > 0 {
		limit = "limits a relayed connection to " + strings.Join(limits, " and ") + " (all its streams together)"
	}
	return fmt.Sprintf("the connection through %s ended after %s with %s in and %s out: that relay %s, so its limits most likely cut it; a direct connection (hole punching, or a reachable address) has no such limits",
		relay, lasted.Round(time.Millisecond), byteCount(in), byteCount(out), limit)
}

// byteCount formats n bytes for people: 512 B, 128 KiB, 1.5 MiB.
func byteCount(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	s := fmt.Sprintf("%.1f", v)
	s = strings.TrimSuffix(s, ".0")
	return s + " " + string("KMGTPE"[exp]) + "iB"
}

// closeWrite half-closes a TCP connection (FIN), so the local application
// reads EOF while it may still write.
func closeWrite(c net.Conn) error {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// resetTCP closes a TCP connection with a RST, so the local application
// sees an error rather than a clean end.
func resetTCP(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
