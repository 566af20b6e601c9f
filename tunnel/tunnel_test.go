package tunnel_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/tunnel"
)

// TestMain fails the run if a test leaves goroutines behind.
func TestMain(m *testing.M) { testnet.VerifyNoLeaks(m) }

// Two Plexus nodes: one exposes an echo server and an HTTP server, the
// other reaches both through local ports, and each side counts what it
// carried.
func TestEchoAndHTTPBetweenNodes(t *testing.T) {
	nodes := testnet.Start(t, 2, testnet.Options{})
	server, client := nodes[0], nodes[1]

	echoAddr := tcpServer(t, echo)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s from %s", r.URL.Query().Get("name"), r.URL.Path)
	}))
	t.Cleanup(web.Close)

	exEcho, err := server.Tunnels().Expose("/x/echo", echoAddr, []peer.ID{client.ID()})
	if err != nil {
		t.Fatal(err)
	}
	exWeb, err := server.Tunnels().Expose("/x/web", strings.TrimPrefix(web.URL, "http://"), []peer.ID{client.ID()})
	if err != nil {
		t.Fatal(err)
	}
	fwEcho, err := client.Tunnels().Forward("127.0.0.1:0", server.ID(), "/x/echo")
	if err != nil {
		t.Fatal(err)
	}
	fwWeb, err := client.Tunnels().Forward("/ip4/127.0.0.1/tcp/0", server.ID(), "/x/web")
	if err != nil {
		t.Fatal(err)
	}
	if fwEcho.Listen == "127.0.0.1:0" || !strings.HasPrefix(fwEcho.Listen, "127.0.0.1:") {
		t.Fatalf("forward listens on %q, want the port it was given", fwEcho.Listen)
	}

	// Echo: three lines, each answered before the next is sent.
	c := dial(t, fwEcho.Listen)
	r := bufio.NewReader(c)
	sent := 0
	for i := range 3 {
		line := fmt.Sprintf("line %d through the tunnel\n", i)
		sent += len(line)
		if _, err := c.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
		got, err := r.ReadString('\n')
		if err != nil || got != line {
			t.Fatalf("echo: %q, %v; want %q", got, err, line)
		}
	}
	c.CloseWrite()
	if rest, err := io.ReadAll(r); err != nil || len(rest) != 0 {
		t.Fatalf("after half-close: %q, %v; want a clean end", rest, err)
	}

	// HTTP through the second tunnel.
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Get("http://" + fwWeb.Listen + "/greeting?name=plexus")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || string(body) != "hello plexus from /greeting" {
		t.Fatalf("HTTP through the tunnel: %d %q %v", resp.StatusCode, body, err)
	}

	// Each side reports what it carried: the client sent the lines and got
	// them back; the server got them from the client and sent them back.
	fw := waitIdleNode(t, client.Tunnels(), fwEcho.ID)
	ex := waitIdleNode(t, server.Tunnels(), exEcho.ID)
	if fw.Accepted != 1 || fw.BytesOut != uint64(sent) || fw.BytesIn != uint64(sent) || fw.Failed != 0 || fw.LastError != "" {
		t.Fatalf("forwarding tunnel after the echo: %+v, want 1 connection and %d bytes each way", fw, sent)
	}
	if ex.Accepted != 1 || ex.BytesIn != uint64(sent) || ex.BytesOut != uint64(sent) || ex.Kind != tunnel.KindExpose || ex.Target != echoAddr {
		t.Fatalf("exposed tunnel after the echo: %+v, want 1 connection and %d bytes each way", ex, sent)
	}
	web1 := waitIdleNode(t, client.Tunnels(), fwWeb.ID)
	if web1.Accepted != 1 || web1.BytesOut == 0 || web1.BytesIn <= uint64(len(body)) {
		t.Fatalf("forwarding tunnel after the HTTP request: %+v", web1)
	}
	if got := server.Tunnels().List(); len(got) != 2 || got[0].ID != exEcho.ID || got[1].ID != exWeb.ID {
		t.Fatalf("server lists %+v, want its two tunnels in order", got)
	}
}

func waitIdleNode(t *testing.T, svc *tunnel.Service, id string) tunnel.Info {
	t.Helper()
	var info tunnel.Info
	testnet.Eventually(t, 10*time.Second, func() bool {
		var err error
		info, err = svc.Get(id)
		return err == nil && info.Conns == 0
	}, "tunnel %s still has open connections: %+v", id, &info)
	return info
}

// Many connections at once, each with its own data, all echoed intact.
func TestManyConcurrentConnections(t *testing.T) {
	server, client := pair(t, nil, nil)
	expose(t, server, "/x/echo", tcpServer(t, echo), client.h.ID())
	fw := forward(t, client, server.h.ID(), "/x/echo")

	const conns, size = 64, 64 << 10
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		wg.Go(func() {
			data := make([]byte, size)
			newPattern(byte(i)).Read(data)
			c, err := net.Dial("tcp", fw.Listen)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			go func() {
				c.Write(data)
				c.(*net.TCPConn).CloseWrite()
			}()
			got, err := io.ReadAll(c)
			if err != nil || !bytes.Equal(got, data) {
				errs <- fmt.Errorf("connection %d: %d bytes back (%v), want its %d bytes", i, len(got), err, size)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	info := waitIdle(t, client, fw.ID)
	if info.Accepted != conns || info.Failed != 0 || info.BytesOut != conns*size || info.BytesIn != conns*size {
		t.Fatalf("after %d connections of %d bytes: %+v", conns, size, info)
	}
}

// patterned is a seeded stream of pseudo-random bytes.
type patterned struct{ r *rand.ChaCha8 }

func newPattern(seed byte) *patterned {
	var s [32]byte
	s[0] = seed
	return &patterned{rand.NewChaCha8(s)}
}

func (p *patterned) Read(b []byte) (int, error) { return p.r.Read(b) }

// A large transfer arrives byte for byte, in both directions at once.
func TestLargeTransfer(t *testing.T) {
	size := int64(48 << 20)
	if testing.Short() {
		size = 4 << 20
	}
	server, client := pair(t, nil, nil)
	expose(t, server, "/x/echo", tcpServer(t, echo), client.h.ID())
	fw := forward(t, client, server.h.ID(), "/x/echo")

	c := dial(t, fw.Listen)
	werr := make(chan error, 1)
	go func() {
		_, err := io.Copy(c, io.LimitReader(newPattern(7), size))
		c.CloseWrite()
		werr <- err
	}()
	want := bufio.NewReaderSize(io.LimitReader(newPattern(7), size), 64<<10)
	got := bufio.NewReaderSize(c, 64<<10)
	var off int64
	for {
		g, gerr := got.ReadByte()
		w, werr := want.ReadByte()
		if gerr != nil || werr != nil {
			if gerr == io.EOF && werr == io.EOF {
				break
			}
			t.Fatalf("at byte %d: received %v, expected %v", off, gerr, werr)
		}
		if g != w {
			t.Fatalf("byte %d differs: got %#x, want %#x", off, g, w)
		}
		off++
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	info := waitIdle(t, client, fw.ID)
	if info.BytesOut != uint64(size) || info.BytesIn != uint64(size) || info.Failed != 0 {
		t.Fatalf("after %d bytes each way: %+v", size, info)
	}
}

// A peer that is not on the allow list is refused; both sides say so.
func TestNotAllowedPeerIsRefused(t *testing.T) {
	server, client := pair(t, nil, nil)
	other := testnet.Host(t).ID()
	ex := expose(t, server, "/x/echo", tcpServer(t, echo), other)
	nobody := expose(t, server, "/x/nobody", tcpServer(t, echo))
	if nobody.DefaultAllow || len(nobody.Allow) != 0 || len(ex.Allow) != 1 || ex.Allow[0] != other {
		t.Fatalf("allow lists: %+v and %+v", ex, nobody)
	}

	// The refusal reads the same whether the stream negotiated the protocol
	// before carrying data (the peer's protocols unknown) or lazily with
	// the first bytes (known from identify).
	for _, proto := range []protocol.ID{"/x/echo", "/x/nobody"} {
		for _, lazy := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s lazy=%v", proto, lazy), func(t *testing.T) {
				fw := forward(t, client, server.h.ID(), proto)
				ps := client.h.Peerstore()
				if lazy {
					ps.AddProtocols(server.h.ID(), proto)
				} else {
					ps.RemoveProtocols(server.h.ID(), proto)
				}
				if err := cut(t, fw.Listen); err == nil {
					t.Fatal("a refused connection ended cleanly, want a reset")
				}
				info := waitError(t, client, fw.ID, "refused the connection", "not allowed", client.h.ID().String())
				if info.Failed != 1 || info.BytesIn != 0 {
					t.Fatalf("forwarding tunnel: %+v", info)
				}
			})
		}
	}
	info := waitError(t, server, ex.ID, "refused a connection from "+client.h.ID().String(), "allow list")
	if info.Refused != 2 || info.Accepted != 0 {
		t.Fatalf("exposed tunnel: %+v, want two refusals", info)
	}
	// The client can see its last refusal before the server has published
	// its event for it.
	testnet.Eventually(t, 10*time.Second, func() bool { return len(server.ev.Data(tunnel.EventRefused)) >= 4 },
		"the server never published its 4th refused event")
	if refused := server.ev.Data(tunnel.EventRefused); len(refused) != 4 || refused[0].(tunnel.Refused).Peer != client.h.ID() {
		t.Fatalf("refused events: %+v", refused)
	}
}

// The default policy (a private network's membership) applies only to a
// tunnel exposed without an allow list.
func TestDefaultAllow(t *testing.T) {
	var members sync.Map
	server, client := pair(t, []tunnel.Option{tunnel.WithDefaultAllow(func(p peer.ID) bool {
		_, ok := members.Load(p)
		return ok
	})}, nil)
	open := expose(t, server, "/x/members", tcpServer(t, echo))
	listed := expose(t, server, "/x/listed", tcpServer(t, echo), testnet.Host(t).ID())
	if !open.DefaultAllow || listed.DefaultAllow {
		t.Fatalf("DefaultAllow: %v for the tunnel without a list, %v with one", open.DefaultAllow, listed.DefaultAllow)
	}
	fwOpen := forward(t, client, server.h.ID(), "/x/members")
	fwListed := forward(t, client, server.h.ID(), "/x/listed")

	roundTrip := func(addr string) error {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		c.Write([]byte("ping"))
		c.(*net.TCPConn).CloseWrite()
		got, err := readErr(c)
		if err != nil || string(got) != "ping" {
			return fmt.Errorf("read %q, %v", got, err)
		}
		return nil
	}
	if err := roundTrip(fwOpen.Listen); err == nil {
		t.Fatal("a peer that is not a member got through")
	}
	members.Store(client.h.ID(), true)
	if err := roundTrip(fwOpen.Listen); err != nil {
		t.Fatalf("a member: %v", err)
	}
	if err := roundTrip(fwListed.Listen); err == nil {
		t.Fatal("a member got through a tunnel whose allow list does not name it")
	}
}

// Closing a tunnel cuts its open connections and stops its listener; the
// peer's side of a closed exposed tunnel says so.
func TestCloseWithOpenConnections(t *testing.T) {
	server, client := pair(t, nil, nil)
	ex := expose(t, server, "/x/echo", tcpServer(t, echo), client.h.ID())
	fw := forward(t, client, server.h.ID(), "/x/echo")

	open := func(n int, addr string) []*net.TCPConn {
		var cs []*net.TCPConn
		for i := range n {
			c := dial(t, addr)
			msg := fmt.Sprintf("hello %d\n", i)
			c.Write([]byte(msg))
			if got, err := bufio.NewReader(c).ReadString('\n'); err != nil || got != msg {
				t.Fatalf("echo %d: %q %v", i, got, err)
			}
			cs = append(cs, c)
		}
		return cs
	}
	cs := open(3, fw.Listen)
	if info := get(t, client, fw.ID); info.Conns != 3 {
		t.Fatalf("open connections: %d, want 3", info.Conns)
	}
	closed, err := client.svc.CloseTunnel(fw.ID)
	if err != nil || closed.Conns != 3 || closed.ID != fw.ID {
		t.Fatalf("close: %+v, %v; want 3 connections cut", closed, err)
	}
	for i, c := range cs {
		if _, err := readErr(c); err == nil {
			t.Fatalf("connection %d ended cleanly after its tunnel closed, want a reset", i)
		}
	}
	if c, err := net.Dial("tcp", fw.Listen); err == nil {
		c.Close()
		t.Fatalf("%s still accepts after the tunnel closed", fw.Listen)
	}
	if _, err := client.svc.Get(fw.ID); !errors.Is(err, tunnel.ErrNotFound) || len(client.svc.List()) != 0 {
		t.Fatalf("closed tunnel still listed: %v %+v", err, client.svc.List())
	}
	if closed := client.ev.Data(tunnel.EventClosed); len(closed) != 1 || closed[0].(tunnel.Info).Conns != 3 {
		t.Fatalf("closed events: %+v", closed)
	}
	// The connections cut by the close are not failures.
	if info := closed; info.Failed != 0 || info.LastError != "" {
		t.Fatalf("closed tunnel reports failures: %+v", info)
	}
	if info := waitIdle(t, server, ex.ID); info.Failed != 0 || info.LastError != "" {
		t.Fatalf("the exposing side counts the forwarding side's close as a failure: %+v", info)
	}

	// Closing the exposed side: the forwarding side sees it in its error.
	fw2 := forward(t, client, server.h.ID(), "/x/echo")
	cs = open(2, fw2.Listen)
	if info, err := server.svc.CloseTunnel(ex.ID); err != nil || info.Conns != 2 {
		t.Fatalf("close the exposed tunnel: %+v %v", info, err)
	}
	for _, c := range cs {
		if _, err := readErr(c); err == nil {
			t.Fatal("a connection ended cleanly after the exposed tunnel closed, want a reset")
		}
	}
	waitError(t, client, fw2.ID, "closed its tunnel /x/echo")
	if err := cut(t, fw2.Listen); err == nil {
		t.Fatal("after the exposed tunnel closed, a new connection ended cleanly")
	}
	waitError(t, client, fw2.ID, "does not expose /x/echo")
}

// Half-close carries over both ways: the client's FIN reaches the server,
// which still answers; the server's FIN reaches the client, which still
// sends.
func TestHalfClose(t *testing.T) {
	server, client := pair(t, nil, nil)
	// Request then answer: the server reads to EOF before it answers.
	expose(t, server, "/x/upper", tcpServer(t, func(c *net.TCPConn) {
		req, err := io.ReadAll(c)
		if err != nil {
			return
		}
		c.Write(bytes.ToUpper(req))
		c.CloseWrite()
	}), client.h.ID())
	// Banner first: the server half-closes at once and then reads.
	got := make(chan string, 1)
	expose(t, server, "/x/banner", tcpServer(t, func(c *net.TCPConn) {
		c.Write([]byte("welcome\n"))
		c.CloseWrite()
		b, _ := io.ReadAll(c)
		got <- string(b)
	}), client.h.ID())

	fw := forward(t, client, server.h.ID(), "/x/upper")
	c := dial(t, fw.Listen)
	c.Write([]byte("request after which the client closes its write side"))
	c.CloseWrite()
	if b, err := readErr(c); err != nil || string(b) != "REQUEST AFTER WHICH THE CLIENT CLOSES ITS WRITE SIDE" {
		t.Fatalf("answer after half-close: %q %v", b, err)
	}

	fw = forward(t, client, server.h.ID(), "/x/banner")
	c = dial(t, fw.Listen)
	banner, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || banner != "welcome\n" {
		t.Fatalf("banner: %q %v", banner, err)
	}
	// The server has half-closed; the client reads EOF and still sends.
	var one [1]byte
	if n, err := c.Read(one[:]); n != 0 || err != io.EOF {
		t.Fatalf("after the server's half-close: %d bytes, %v; want EOF", n, err)
	}
	c.Write([]byte("sent after the server closed its write side"))
	c.CloseWrite()
	select {
	case s := <-got:
		if s != "sent after the server closed its write side" {
			t.Fatalf("server read %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server never read the client's data after its half-close")
	}
}

// A target that does not answer, a protocol the peer does not expose: the
// error says which.
func TestUnreachableTargetAndUnknownProtocol(t *testing.T) {
	server, client := pair(t, nil, nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	ex := expose(t, server, "/x/dead", dead, client.h.ID())

	fw := forward(t, client, server.h.ID(), "/x/dead")
	if err := cut(t, fw.Listen); err == nil {
		t.Fatal("a connection to an unreachable target ended cleanly")
	}
	waitError(t, client, fw.ID, "could not connect to the service it exposes as /x/dead")
	waitError(t, server, ex.ID, "connect to the target "+dead)

	fw = forward(t, client, server.h.ID(), "/x/missing")
	if err := cut(t, fw.Listen); err == nil {
		t.Fatal("a connection to a protocol nobody exposes ended cleanly")
	}
	waitError(t, client, fw.ID, "does not expose /x/missing", "plexus tunnel expose /x/missing")
}

// Each tunnel carries at most its limit of connections: the exposing side
// refuses streams beyond it, the forwarding side closes local connections
// beyond it.
func TestConnectionLimits(t *testing.T) {
	hold := func(t *testing.T, addr string) *net.TCPConn {
		c := dial(t, addr)
		c.Write([]byte("x"))
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			t.Fatalf("a connection under the limit: %v", err)
		}
		return c
	}
	t.Run("exposing side", func(t *testing.T) {
		server, client := pair(t, []tunnel.Option{tunnel.WithMaxConns(2)}, nil)
		ex := expose(t, server, "/x/echo", tcpServer(t, echo), client.h.ID())
		fw := forward(t, client, server.h.ID(), "/x/echo")
		if ex.MaxConns != 2 || fw.MaxConns != tunnel.DefaultMaxConns {
			t.Fatalf("limits %d and %d, want 2 and the default", ex.MaxConns, fw.MaxConns)
		}
		hold(t, fw.Listen)
		hold(t, fw.Listen)
		if err := cut(t, fw.Listen); err == nil {
			t.Fatal("a connection over the peer's limit ended cleanly, want a reset")
		}
		waitError(t, client, fw.ID, "refused the connection", "connection limit")
		if info := waitError(t, server, ex.ID, "2 connections already, its limit"); info.Refused != 1 || info.Conns != 2 {
			t.Fatalf("exposed tunnel: %+v", info)
		}
	})
	t.Run("forwarding side", func(t *testing.T) {
		server, client := pair(t, nil, []tunnel.Option{tunnel.WithMaxConns(1)})
		expose(t, server, "/x/echo", tcpServer(t, echo), client.h.ID())
		fw := forward(t, client, server.h.ID(), "/x/echo")
		hold(t, fw.Listen)
		if err := cut(t, fw.Listen); err == nil {
			t.Fatal("a connection over the local limit ended cleanly, want a reset")
		}
		info := waitError(t, client, fw.ID, "refused a local connection", "1 connections already, its limit")
		if info.Refused != 1 || info.Accepted != 1 || info.Conns != 1 {
			t.Fatalf("forwarding tunnel: %+v", info)
		}
	})
}
