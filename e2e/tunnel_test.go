package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/internal/testnet"
)

// Two daemons: one exposes an echo server and a web server, the other
// reaches them through local ports. The CLI returns at once and the daemon
// keeps the tunnels; a peer that is not allowed is refused; closing a
// tunnel cuts its connections.
func TestTunnelsThroughDaemons(t *testing.T) {
	base := t.TempDir()
	a, b := filepath.Join(base, "a"), filepath.Join(base, "b")
	startDaemon(t, a)
	var idA, idB wire.ID
	okJSON(t, a, &idA, "id")
	startDaemon(t, b, "--bootstrap", idA.Addrs[0])
	okJSON(t, b, &idB, "id")

	echoAddr := echoServer(t)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "served %s", r.URL.Path)
	}))
	t.Cleanup(web.Close)

	var ex wire.Tunnel
	okJSON(t, a, &ex, "tunnel", "expose", "/x/echo", echoAddr, "--allow", idB.PeerID)
	if ex.Kind != "expose" || ex.Target != echoAddr || len(ex.Allow) != 1 || ex.Allow[0] != idB.PeerID {
		t.Fatalf("expose: %+v", ex)
	}
	out := ok(t, a, "tunnel", "expose", "/x/web", strings.TrimPrefix(web.URL, "http://"), "--allow", idB.PeerID)
	if !strings.Contains(out, "exposing "+strings.TrimPrefix(web.URL, "http://")+" as /x/web to "+idB.PeerID) {
		t.Fatalf("expose output: %q", out)
	}
	var fw, fwWeb wire.Tunnel
	okJSON(t, b, &fw, "tunnel", "forward", "127.0.0.1:0", idA.PeerID, "/x/echo")
	okJSON(t, b, &fwWeb, "tunnel", "forward", "127.0.0.1:0", idA.PeerID, "/x/web")
	if fw.Kind != "forward" || fw.Peer != idA.PeerID || !strings.HasPrefix(fw.Listen, "127.0.0.1:") || fw.Listen == "127.0.0.1:0" {
		t.Fatalf("forward: %+v", fw)
	}

	// The CLI processes have exited; the daemons carry the connections.
	c, err := net.Dial("tcp", fw.Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	fmt.Fprint(c, "hello through the tunnel\n")
	if line, err := r.ReadString('\n'); err != nil || line != "hello through the tunnel\n" {
		t.Fatalf("echo: %q %v", line, err)
	}
	resp, err := http.Get("http://" + fwWeb.Listen + "/page")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "served /page" {
		t.Fatalf("web through the tunnel: %q", body)
	}

	// Both daemons count the open echo connection and its bytes (a counter
	// moves just after the bytes do, so the check may need a second look).
	var ts []wire.Tunnel
	testnet.Eventually(t, 20*time.Second, func() bool {
		okJSON(t, b, &ts, "tunnel", "ls")
		return len(ts) == 2 && ts[0].ID == fw.ID && ts[0].Conns == 1 && ts[0].BytesOut == 25 && ts[0].BytesIn == 25
	}, "b's tunnels: %+v", &ts)
	testnet.Eventually(t, 20*time.Second, func() bool {
		okJSON(t, a, &ts, "tunnel", "ls")
		return len(ts) == 2 && ts[0].Conns == 1 && ts[0].BytesIn == 25 && ts[0].BytesOut == 25 && ts[1].Accepted == 1
	}, "a's tunnels: %+v", &ts)
	if out := ok(t, b, "tunnel", "ls"); !strings.Contains(out, "PROTOCOL") || !strings.Contains(out, fw.Listen) || !strings.Contains(out, "1/128") {
		t.Fatalf("tunnel ls:\n%s", out)
	}

	// Closing the tunnel cuts the open connection.
	out = ok(t, b, "tunnel", "close", fw.ID)
	if !strings.Contains(out, "closed tunnel "+fw.ID) || !strings.Contains(out, "1 open connections cut") {
		t.Fatalf("close output: %q", out)
	}
	if _, err := io.ReadAll(r); err == nil {
		t.Fatal("the connection ended cleanly after its tunnel closed, want a reset")
	}
	if c, err := net.Dial("tcp", fw.Listen); err == nil {
		c.Close()
		t.Fatalf("%s still accepts after the tunnel closed", fw.Listen)
	}

	// A tunnel nobody is allowed on: the exposing side warns, the other is
	// refused and says why.
	r2 := plexus(t, a, "tunnel", "expose", "/x/secret", echoAddr)
	if r2.code != 0 || !strings.Contains(r2.stderr, "nobody may connect") {
		t.Fatalf("expose without --allow: exit %d, stderr %q", r2.code, r2.stderr)
	}
	var secret wire.Tunnel
	okJSON(t, b, &secret, "tunnel", "forward", "127.0.0.1:0", idA.PeerID, "/x/secret")
	if c, err := net.Dial("tcp", secret.Listen); err == nil {
		// The reset is reported once, to whichever call meets it first: the
		// write when it arrived before it, else the read.
		_, werr := c.Write([]byte("let me in"))
		if got, rerr := io.ReadAll(c); len(got) != 0 || werr == nil && rerr == nil {
			t.Fatalf("a refused connection read %q (write error %v, read error %v), want a reset", got, werr, rerr)
		}
		c.Close()
	}
	testnet.Eventually(t, 20*time.Second, func() bool {
		var ts []wire.Tunnel
		okJSON(t, b, &ts, "tunnel", "ls")
		return len(ts) == 2 && strings.Contains(ts[1].LastError, "is not allowed on its tunnel /x/secret")
	}, "b does not report the refusal")

	// Bad input: a clear one-line error and a non-zero exit.
	fails(t, b, "address already in use", "tunnel", "forward", fwWeb.Listen, idA.PeerID, "/x/web")
	fails(t, a, `must start with "/x/"`, "tunnel", "expose", "/app/echo", echoAddr)
	fails(t, a, "protocol already exposed", "tunnel", "expose", "/x/echo", echoAddr)
	fails(t, b, "invalid peer ID", "tunnel", "forward", "127.0.0.1:0", "bogus", "/x/echo")
	fails(t, b, "want HOST:PORT", "tunnel", "forward", "2222", idA.PeerID, "/x/echo")
	fails(t, b, "no such tunnel", "tunnel", "close", "99")
}

// echoServer echoes each connection on loopback until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
	})
	return l.Addr().String()
}
