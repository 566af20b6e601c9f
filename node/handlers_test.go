package node_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/messaging"
	"github.com/plexus-p2p/plexus/node"
)

// Issue 20 row 11: an HTTP handler registered before a restart is served
// after it, at the same URL, until it is removed; a Go handler is not
// persisted (it lives in the process that registered it).
func TestHTTPHandlersSurviveRestart(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		io.WriteString(w, "backend got "+string(body))
	}))
	defer backend.Close()
	const web, echo = "/app/web/1.0.0", "/app/echo/1.0.0"
	cfg := node.Config{Config: testnet.LocalConfig(), Identity: testnet.NewKey(t), Logger: testnet.Quiet,
		DatastorePath: filepath.Join(t.TempDir(), "datastore")}
	start := func() *node.Node {
		t.Helper()
		n, err := node.New(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}

	first := start()
	if err := first.AddHTTPHandler(web, backend.URL+"/hook"); err != nil {
		t.Fatal(err)
	}
	if err := first.Messaging().Handle(echo, func(_ context.Context, _ peer.ID, req []byte) ([]byte, error) { return req, nil }); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	second := start()
	hs := second.Handlers()
	if len(hs) != 1 || hs[0].Protocol != web || hs[0].Kind != messaging.KindHTTP || hs[0].URL != backend.URL+"/hook" {
		t.Fatalf("handlers after a restart: %+v; want only the HTTP handler %s -> %s/hook", hs, web, backend.URL)
	}
	caller := testnet.Start(t, 1, testnet.Options{})[0]
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if _, err := caller.Connect(ctx, peer.AddrInfo{ID: second.ID(), Addrs: second.Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
	res, err := caller.Send(ctx, second.ID(), web, []byte("hi"))
	if err != nil || string(res.Data) != "backend got hi" {
		t.Fatalf("request to the restored handler: %q, %v", res.Data, err)
	}
	if err := second.RemoveHandler(web); err != nil {
		t.Fatal(err)
	}
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}

	if hs := start().Handlers(); len(hs) != 0 {
		t.Fatalf("handlers after removal and a restart: %+v; want none", hs)
	}
}
