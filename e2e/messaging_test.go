package e2e

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexus-p2p/plexus/api/wire"
)

// An application in another language serves /app/upper/1.0.0 through the
// daemon's HTTP forwarding; another daemon calls it with "plexus send".
func TestRequestResponseThroughDaemons(t *testing.T) {
	base := t.TempDir()
	a, b := filepath.Join(base, "a"), filepath.Join(base, "b")
	startDaemon(t, a)
	var idA wire.ID
	okJSON(t, a, &idA, "id")
	startDaemon(t, b, "--bootstrap", idA.Addrs[0])

	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if string(body) == "fail" {
			http.Error(w, "the recipe book is closed", http.StatusInternalServerError)
			return
		}
		w.Write(append([]byte(r.Header.Get("X-Plexus-Protocol")+" from "+r.Header.Get("X-Plexus-Peer")+": "), asciiUpper(body)...))
	}))
	defer app.Close()

	ok(t, a, "handler", "add", "/app/upper/1.0.0", app.URL)
	var idB wire.ID
	okJSON(t, b, &idB, "id")
	out := ok(t, b, "send", idA.PeerID, "/app/upper/1.0.0", "hello")
	if want := "/app/upper/1.0.0 from " + idB.PeerID + ": HELLO"; out != want {
		t.Fatalf("send output %q, want %q", out, want)
	}
	// Binary data from stdin round-trips through JSON/base64.
	cmd := exec.Command(binary, "--repo", b, "send", idA.PeerID, "/app/upper/1.0.0", "-")
	cmd.Env = env()
	cmd.Stdin = bytes.NewReader([]byte{0, 1, 2, 'a', 0xff})
	got, err := cmd.Output()
	if err != nil || !bytes.HasSuffix(got, []byte{0, 1, 2, 'A', 0xff}) {
		t.Fatalf("stdin send: %q %v", got, err)
	}
	var hs []wire.Handler
	okJSON(t, a, &hs, "handler", "ls")
	if len(hs) != 1 || hs[0].Protocol != "/app/upper/1.0.0" || hs[0].Kind != "http" || hs[0].Handled != 2 {
		t.Fatalf("handlers: %+v", hs)
	}

	fails(t, b, "the recipe book is closed", "send", idA.PeerID, "/app/upper/1.0.0", "fail")
	fails(t, b, "not supported", "send", idA.PeerID, "/app/nothing/1.0.0", "x")
	fails(t, b, "invalid protocol", "send", idA.PeerID, "/ipfs/id/1.0.0", "x")
	fails(t, b, "invalid peer ID", "send", "bogus", "/app/upper/1.0.0", "x")
	fails(t, a, "invalid", "handler", "add", "/app/x/1.0.0", "ftp://127.0.0.1/")
	fails(t, a, "already", "handler", "add", "/app/upper/1.0.0", app.URL)

	// Oversized request: refused with the limit named.
	big := exec.Command(binary, "--repo", b, "send", idA.PeerID, "/app/upper/1.0.0", "-")
	big.Env = env()
	big.Stdin = strings.NewReader(strings.Repeat("x", 1<<20+1))
	var stderr bytes.Buffer
	big.Stderr = &stderr
	if err := big.Run(); err == nil || !strings.Contains(stderr.String(), "too large") {
		t.Fatalf("oversized send: err %v stderr %q", err, stderr.String())
	}

	// A dead URL gives the caller a clear error, not a hang.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + l.Addr().String() + "/"
	l.Close()
	ok(t, a, "handler", "add", "/app/dead/1.0.0", dead)
	fails(t, b, "connection refused", "send", idA.PeerID, "/app/dead/1.0.0", "x", "--timeout", "20s")

	ok(t, a, "handler", "rm", "/app/upper/1.0.0")
	fails(t, a, "not handled", "handler", "rm", "/app/upper/1.0.0")
	fails(t, b, "not supported", "send", idA.PeerID, "/app/upper/1.0.0", "x")
}

// asciiUpper upper-cases ASCII letters and leaves every other byte alone.
func asciiUpper(b []byte) []byte {
	out := bytes.Clone(b)
	for i, c := range out {
		if 'a' <= c && c <= 'z' {
			out[i] = c - 32
		}
	}
	return out
}
