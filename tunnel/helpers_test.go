package tunnel_test

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/plexus-p2p/plexus/events"
	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/tunnel"
)

// side is one host with its tunnel service and the events it published.
type side struct {
	h   host.Host
	svc *tunnel.Service
	ev  *events.Recorder
}

func newSide(t testing.TB, h host.Host, opts ...tunnel.Option) *side {
	t.Helper()
	ev := &events.Recorder{}
	svc, err := tunnel.New(h, append([]tunnel.Option{tunnel.WithLogger(testnet.Quiet), tunnel.WithPublisher(ev)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return &side{h: h, svc: svc, ev: ev}
}

// pair returns two connected loopback hosts with tunnel services: server
// exposes, client forwards.
func pair(t testing.TB, serverOpts, clientOpts []tunnel.Option) (server, client *side) {
	t.Helper()
	hs, hc := testnet.Host(t), testnet.Host(t)
	testnet.Connect(t, hc, hs)
	return newSide(t, hs, serverOpts...), newSide(t, hc, clientOpts...)
}

// tcpServer serves each accepted connection with handle on loopback until
// the test ends; it waits for the handlers at cleanup.
func tcpServer(t testing.TB, handle func(c *net.TCPConn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				handle(c.(*net.TCPConn))
			})
		}
	})
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String()
}

// echo copies what it reads back, and half-closes when the reader did.
func echo(c *net.TCPConn) {
	if _, err := io.Copy(c, c); err == nil {
		c.CloseWrite()
	}
}

// expose exposes target on s under proto for the given peers.
func expose(t testing.TB, s *side, proto protocol.ID, target string, allow ...peer.ID) tunnel.Info {
	t.Helper()
	info, err := s.svc.Expose(proto, target, allow)
	if err != nil {
		t.Fatalf("expose %s %s: %v", proto, target, err)
	}
	return info
}

// forward forwards a free loopback port of s to p's proto and returns the
// tunnel; its Listen is the address to dial.
func forward(t testing.TB, s *side, p peer.ID, proto protocol.ID) tunnel.Info {
	t.Helper()
	info, err := s.svc.Forward("127.0.0.1:0", p, proto)
	if err != nil {
		t.Fatalf("forward to %s %s: %v", p, proto, err)
	}
	return info
}

func dial(t testing.TB, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// get returns the tunnel id of s.
func get(t testing.TB, s *side, id string) tunnel.Info {
	t.Helper()
	info, err := s.svc.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// waitIdle waits until tunnel id of s has no open connection and returns it.
func waitIdle(t testing.TB, s *side, id string) tunnel.Info {
	t.Helper()
	var info tunnel.Info
	testnet.Eventually(t, 10*time.Second, func() bool {
		info = get(t, s, id)
		return info.Conns == 0
	}, "tunnel %s still has open connections: %+v", id, &info)
	return info
}

// waitError waits until tunnel id of s reports a last error containing
// every part and returns the tunnel.
func waitError(t testing.TB, s *side, id string, parts ...string) tunnel.Info {
	t.Helper()
	var info tunnel.Info
	testnet.Eventually(t, 10*time.Second, func() bool {
		info = get(t, s, id)
		for _, p := range parts {
			if !strings.Contains(info.LastError, p) {
				return false
			}
		}
		return true
	}, "tunnel %s: last error %q, want one containing %q", id, testnet.Lazy(func() string { return info.LastError }), parts)
	return info
}

// readErr reads from c until it ends and returns what ended it (nil for
// EOF).
func readErr(c net.Conn) ([]byte, error) {
	b, err := io.ReadAll(c)
	return b, err
}

// cut connects to addr, sends a little, and returns the error that ended
// the connection: a refused connection fails with a reset, which may
// already arrive during the connect. Reading data fails the test.
func cut(t testing.TB, addr string) error {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.Write([]byte("let me in"))
	b, err := io.ReadAll(c)
	if len(b) > 0 {
		t.Fatalf("read %q from a connection that should have been refused", b)
	}
	return err
}
