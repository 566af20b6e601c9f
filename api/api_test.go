package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/api"
	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/auth"
	"github.com/plexus-p2p/plexus/client"
	"github.com/plexus-p2p/plexus/daemon"
	"github.com/plexus-p2p/plexus/internal/testnet"
)

const token = "test-token"

func start(t *testing.T) (*httptest.Server, *client.Client, chan struct{}) {
	t.Helper()
	nodes := testnet.Start(t, 2, testnet.Options{})
	shut := make(chan struct{}, 1)
	accounts, err := auth.New(nodes[0].Datastore(), auth.WithParams(auth.Params{Memory: 64, Time: 1, Threads: 1}), auth.WithLogger(testnet.Quiet))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(daemon.Services(nodes[0], accounts), api.Options{Token: token, Logger: testnet.Quiet, Registry: nodes[0].Registry(),
		Shutdown: func() { shut <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts, client.New(ts.URL, token), shut
}

func do(t *testing.T, method, url string, hdr map[string]string, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestErrorsAreJSONWithStatus(t *testing.T) {
	ts, _, _ := start(t)
	auth := map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"}
	cases := []struct {
		name, method, path, body string
		hdr                      map[string]string
		code                     int
		msg                      string
	}{
		{"no token", "GET", "/v1/id", "", nil, 401, "missing API token"},
		{"wrong token", "GET", "/v1/id", "", map[string]string{"Authorization": "Bearer nope"}, 401, "wrong API token"},
		{"bad JSON", "POST", "/v1/connect", "{not json", auth, 400, "invalid JSON body"},
		{"unknown field", "POST", "/v1/connect", `{"address":"x"}`, auth, 400, "unknown field"},
		{"empty body", "POST", "/v1/connect", "", auth, 400, "empty request body"},
		{"malformed multiaddr", "POST", "/v1/connect", `{"addr":"/ip4/1.2.3"}`, auth, 400, "invalid multiaddr"},
		{"no p2p part", "POST", "/v1/connect", `{"addr":"/ip4/127.0.0.1/tcp/1"}`, auth, 400, "/p2p/"},
		{"invalid peer", "POST", "/v1/disconnect", `{"peer":"xyz"}`, auth, 400, "invalid peer ID"},
		{"bad timeout", "GET", "/v1/id?timeout=banana", "", auth, 400, "invalid timeout"},
		{"unknown route", "GET", "/v1/nope", "", auth, 404, "no route"},
		{"oversized body", "POST", "/v1/connect", `{"addr":"` + strings.Repeat("a", 5<<20) + `"}`, auth, 413, "larger than"},
		{"cross-origin", "POST", "/v1/connect", `{"addr":"x"}`, map[string]string{"Authorization": "Bearer " + token,
			"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, 403, "cross-origin request refused"},
		{"lower-case bearer, wrong token", "GET", "/v1/id", "", map[string]string{"Authorization": "bearer nope"}, 401, "wrong API token"},
		{"unsupported scheme", "GET", "/v1/id", "", map[string]string{"Authorization": "Token " + token}, 401, "unsupported authorization scheme"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := do(t, c.method, ts.URL+c.path, c.hdr, c.body)
			if code != c.code {
				t.Fatalf("status %d, want %d (body %s)", code, c.code, body)
			}
			if c.msg == "" {
				return
			}
			var e wire.Error
			if err := json.Unmarshal([]byte(body), &e); err != nil || !strings.Contains(e.Error, c.msg) {
				t.Fatalf("body %q: want JSON error containing %q", body, c.msg)
			}
		})
	}
}

func TestHealthzNeedsNoToken(t *testing.T) {
	ts, _, _ := start(t)
	if code, body := do(t, "GET", ts.URL+"/healthz", nil, ""); code != 200 || !strings.Contains(body, "ok") {
		t.Fatalf("healthz: %d %s", code, body)
	}
}

func TestClientRoutes(t *testing.T) {
	ts, c, shut := start(t)
	_ = ts
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	id, err := c.ID(ctx)
	if err != nil || id.PeerID == "" || len(id.Addrs) == 0 {
		t.Fatalf("id: %+v %v", id, err)
	}
	peers, err := c.Peers(ctx)
	if err != nil || len(peers) != 1 {
		t.Fatalf("peers: %+v %v", peers, err)
	}
	other := peers[0].PeerID
	res, err := c.Ping(ctx, other, 2)
	if err != nil || len(res.RTTsMS) != 2 {
		t.Fatalf("ping: %+v %v", res, err)
	}

	st, err := c.Events(ctx, "peer.")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := c.Disconnect(ctx, other); err != nil {
		t.Fatalf("disconnect: %v", err)
	}
	ev, err := st.NextEvent()
	if err != nil || ev.Type != "peer.disconnected" || !bytes.Contains(ev.Data, []byte(other)) {
		t.Fatalf("event: %+v %v", ev, err)
	}
	if err := c.Disconnect(ctx, other); client.StatusOf(err) != 404 {
		t.Fatalf("second disconnect: %v (status %d), want 404", err, client.StatusOf(err))
	}

	m, err := c.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"plexus_peers_connected", "plexus_api_requests_total", "libp2p_"} {
		if !strings.Contains(m, want) {
			t.Fatalf("metrics lack %s", want)
		}
	}
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-shut:
	case <-time.After(5 * time.Second):
		t.Fatal("shutdown callback not called")
	}
}

// Errors keep their class from the node to the client: a dial that hangs
// until the deadline is a timeout (408), not "unreachable".
func TestClientTypedErrors(t *testing.T) {
	_, c, _ := start(t)
	// A TCP listener that accepts and never speaks: the libp2p handshake
	// hangs until the request's deadline.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { conn.Close() })
		}
	}()
	sk, _, _ := crypto.GenerateEd25519Key(nil)
	silent, _ := peer.IDFromPrivateKey(sk)
	target := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", l.Addr().(*net.TCPAddr).Port, silent)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	_, err = c.Ping(ctx, target, 1)
	if !errors.Is(err, client.ErrTimeout) || client.StatusOf(err) != 408 {
		t.Fatalf("ping of a silent peer: %v (status %d), want a timeout (408)", err, client.StatusOf(err))
	}

	ctx, cancel = context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := c.Ping(ctx, "nonsense", 1); !errors.Is(err, client.ErrInvalidArgument) {
		t.Fatalf("ping nonsense: %v, want ErrInvalidArgument", err)
	}
	if err := c.Disconnect(ctx, silent.String()); !errors.Is(err, client.ErrNotFound) || errors.Is(err, client.ErrTimeout) {
		t.Fatalf("disconnect of a peer not connected: %v, want ErrNotFound", err)
	}
}
