package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/plexus-p2p/plexus/api/wire"
)

// Issue 20 rows 10 and 11 through the binary: a daemon with an HTTP handler
// restarts (on new ports: the local profile listens on port 0); the handler
// is still registered, and a peer's "plexus send" reaches it.
func TestHandlerSurvivesDaemonRestart(t *testing.T) {
	base := t.TempDir()
	boot, a, b := filepath.Join(base, "boot"), filepath.Join(base, "a"), filepath.Join(base, "b")
	startDaemon(t, boot)
	var idBoot wire.ID
	okJSON(t, boot, &idBoot, "id")
	first := startDaemon(t, a, "--bootstrap", idBoot.Addrs[0])
	startDaemon(t, b, "--bootstrap", idBoot.Addrs[0])

	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Write(append([]byte("app: "), body...))
	}))
	defer app.Close()
	ok(t, a, "handler", "add", "/app/echo/1.0.0", app.URL)
	var idA wire.ID
	okJSON(t, a, &idA, "id")
	if out := ok(t, b, "send", idA.PeerID, "/app/echo/1.0.0", "before"); out != "app: before" {
		t.Fatalf("send before the restart: %q", out)
	}

	if err := first.stop(t); err != nil {
		t.Fatalf("stop: %v", err)
	}
	startDaemon(t, a, "--bootstrap", idBoot.Addrs[0])
	var hs []wire.Handler
	okJSON(t, a, &hs, "handler", "ls")
	if len(hs) != 1 || hs[0].Protocol != "/app/echo/1.0.0" || hs[0].URL != app.URL {
		t.Fatalf("handlers after a restart: %+v; want /app/echo/1.0.0 -> %s", hs, app.URL)
	}
	if out := ok(t, b, "send", idA.PeerID, "/app/echo/1.0.0", "after", "--timeout", "30s"); out != "app: after" {
		t.Fatalf("send after the restart: %q", out)
	}
}
