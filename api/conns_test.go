package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexus-p2p/plexus/client"
	"github.com/plexus-p2p/plexus/events"
	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/node"
)

// countingListener counts the connections the server holds open, as the
// process's file descriptors would.
type countingListener struct {
	net.Listener
	open, peak atomic.Int64
}

type countedConn struct {
	net.Conn
	l    *countingListener
	once sync.Once
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	n := l.open.Add(1)
	for p := l.peak.Load(); n > p && !l.peak.CompareAndSwap(p, n); p = l.peak.Load() {
	}
	return &countedConn{Conn: c, l: l}, nil
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// serveTest serves the fake API with o on a loopback listener that counts
// the connections the server holds.
func serveTest(t *testing.T, bus *events.Bus, o ServeOptions) (*countingListener, string) {
	t.Helper()
	h := newTestAPI(t, func(s *Services) { s.Node = &fakeNode{bus: bus} }, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	ctx, stop := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- ServeWith(ctx, cl, h, o) }()
	t.Cleanup(func() {
		stop()
		bus.Publish(node.EventStopping, nil) // ends the event streams
		<-served
	})
	return cl, ln.Addr().String()
}

// Issue 20 row 4: a flood of connections that never authenticate (some
// silent, some sending half a request) is held to the cap: the oldest are
// closed for new ones, while an event stream opened before the flood keeps
// streaming and a real client still gets answers and a new stream.
func TestIdleConnectionFloodIsCappedAndClientsStillServed(t *testing.T) {
	const maxConns, attackers = 32, 300
	bus := events.New()
	cl, addr := serveTest(t, bus, ServeOptions{MaxConns: maxConns, ReadHeaderTimeout: time.Minute, IdleTimeout: time.Minute})
	c := client.New(addr, testToken)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	before, err := c.Events(ctx, "peer.")
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()
	bus.Publish("peer.connected", node.PeerEvent{Peer: testPeer(t)})
	if ev, err := before.NextEvent(); err != nil || ev.Type != "peer.connected" {
		t.Fatalf("stream before the flood: %+v, %v", ev, err)
	}

	var closedByServer atomic.Int64
	var readers sync.WaitGroup
	conns := make([]net.Conn, 0, attackers)
	defer func() {
		for _, a := range conns {
			a.Close()
		}
		readers.Wait()
	}()
	for i := range attackers {
		a, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("attacker connection %d: %v", i, err)
		}
		conns = append(conns, a)
		if i%2 == 1 {
			io.WriteString(a, "GET /v1/id HTTP/1.1\r\nHost: x\r\n") // headers never finished
		}
		readers.Go(func() {
			if _, err := a.Read(make([]byte, 1)); errors.Is(err, io.EOF) || isReset(err) {
				closedByServer.Add(1)
			}
		})
	}
	testnet.Eventually(t, 20*time.Second, func() bool { return closedByServer.Load() >= attackers-maxConns },
		"%s", testnet.Lazy(func() string {
			return fmt.Sprintf("%d of %d attacker connections closed by the server (cap %d), %d open", closedByServer.Load(), attackers, maxConns, cl.open.Load())
		}))
	if p := cl.peak.Load(); p > maxConns+1 { // a new connection is accepted, then the victim closed
		t.Fatalf("the server held %d connections at once; cap %d", p, maxConns)
	}

	if _, err := client.New(addr, testToken).ID(ctx); err != nil {
		t.Fatalf("an authenticated request during the flood: %v", err)
	}
	after, err := client.New(addr, testToken).Events(ctx, "peer.")
	if err != nil {
		t.Fatalf("a new event stream during the flood: %v", err)
	}
	defer after.Close()
	bus.Publish("peer.disconnected", node.PeerEvent{Peer: testPeer(t)})
	for name, st := range map[string]*client.Stream{"opened before the flood": before, "opened during the flood": after} {
		if ev, err := st.NextEvent(); err != nil || ev.Type != "peer.disconnected" {
			t.Fatalf("event stream %s: %+v, %v", name, ev, err)
		}
	}
	if p := cl.peak.Load(); p > maxConns+1 { // a new connection is accepted, then the victim closed
		t.Fatalf("the server held %d connections at once; cap %d", p, maxConns)
	}
}

// The header, idle and write timeouts close silent connections but do not
// end an event stream that stays quiet for longer than all of them.
func TestTimeoutsCloseSilentConnectionsButNotEventStreams(t *testing.T) {
	const timeout = 200 * time.Millisecond
	bus := events.New()
	_, addr := serveTest(t, bus, ServeOptions{ReadHeaderTimeout: timeout, IdleTimeout: timeout, WriteTimeout: timeout})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	st, err := client.New(addr, testToken).Events(ctx, "peer.")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	silent.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := silent.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("a connection that sends nothing: read %v; want it closed by the server", err)
	}

	time.Sleep(5 * timeout) // the stream is quiet for longer than every timeout
	bus.Publish("peer.connected", node.PeerEvent{Peer: testPeer(t)})
	if ev, err := st.NextEvent(); err != nil || ev.Type != "peer.connected" {
		t.Fatalf("event after a quiet %s: %+v, %v", 5*timeout, ev, err)
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}
