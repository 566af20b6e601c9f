package api

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/events"
	"github.com/plexus-p2p/plexus/node"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testPeer(t *testing.T) peer.ID {
	t.Helper()
	sk, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := peer.IDFromPrivateKey(sk)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewRequiresTokenAndEveryService(t *testing.T) {
	if _, err := New(Services{}, Options{}); err == nil || !strings.Contains(err.Error(), "token") {
		t.Fatalf("no token: %v", err)
	}
	_, err := New(Services{Node: &fakeNode{}}, Options{Token: "x"})
	if err == nil || !strings.Contains(err.Error(), "Services.Discovery is required") {
		t.Fatalf("missing service: %v", err)
	}
}

func TestID(t *testing.T) {
	self := testPeer(t)
	info := node.Info{
		ID:           self,
		Addrs:        []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/4101/p2p/" + self.String())},
		ListenAddrs:  []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/4101")},
		Protocols:    []protocol.ID{"/ipfs/ping/1.0.0"},
		AgentVersion: "plexus/test", DHTMode: "server", Reachability: network.ReachabilityUnknown,
	}
	h := newTestAPI(t, func(s *Services) { s.Node = &fakeNode{info: info} }, nil)
	code, body := call(t, h, "GET", "/v1/id", "")
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	var id wire.ID
	decodeJSON(t, body, &id)
	if id.PeerID != self.String() || id.Addrs[0] != info.Addrs[0].String() || id.ListenAddrs[0] != "/ip4/127.0.0.1/tcp/4101" ||
		id.Protocols[0] != "/ipfs/ping/1.0.0" || !id.BootstrapNode || id.Bootstrap == nil || id.DHTMode != "server" {
		t.Fatalf("id %+v", id)
	}
}

func TestPeers(t *testing.T) {
	p := testPeer(t)
	opened := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h := newTestAPI(t, func(s *Services) {
		s.Node = &fakeNode{peers: []node.PeerInfo{{ID: p, Addr: ma.StringCast("/ip4/127.0.0.1/udp/1/quic-v1"),
			Direction: network.DirOutbound, Transport: "quic-v1", Security: "quic (TLS 1.3)", Muxer: "quic",
			Latency: 1500 * time.Microsecond, Opened: opened, Streams: 2, AgentVersion: "plexus/x"}}}
	}, nil)
	code, body := call(t, h, "GET", "/v1/peers", "")
	var peers []wire.Peer
	decodeJSON(t, body, &peers)
	want := wire.Peer{PeerID: p.String(), Addr: "/ip4/127.0.0.1/udp/1/quic-v1", Direction: "outbound", Transport: "quic-v1",
		Security: "quic (TLS 1.3)", Muxer: "quic", LatencyMS: 1.5, OpenedAt: opened, Streams: 2, AgentVersion: "plexus/x"}
	if code != 200 || len(peers) != 1 || peers[0] != want {
		t.Fatalf("%d %+v, want %+v", code, peers, want)
	}
}

func TestConnect(t *testing.T) {
	p := testPeer(t)
	var got peer.AddrInfo
	fn := &fakeNode{connect: func(ctx context.Context, ai peer.AddrInfo) (ma.Multiaddr, error) {
		got = ai
		if len(ai.Addrs) > 0 && strings.Contains(ai.Addrs[0].String(), "/tcp/1") {
			return nil, fmt.Errorf("%w: connect %s: %w", node.ErrUnreachable, ai.ID, errors.New("connection refused"))
		}
		return ai.Addrs[0], nil
	}}
	h := newTestAPI(t, func(s *Services) { s.Node = fn }, nil)
	addr := "/ip4/127.0.0.1/tcp/4101/p2p/" + p.String()
	code, body := call(t, h, "POST", "/v1/connect", `{"addr":" `+addr+` "}`)
	var res wire.ConnectResult
	decodeJSON(t, body, &res)
	if code != 200 || res.PeerID != p.String() || res.Addr != "/ip4/127.0.0.1/tcp/4101" || got.ID != p {
		t.Fatalf("%d %+v (node got %v)", code, res, got)
	}
	cases := []struct {
		name, body string
		status     int
		code, msg  string
	}{
		{"malformed multiaddr", `{"addr":"/ip4/1.2.3"}`, 400, wire.CodeInvalidArgument, "invalid multiaddr"},
		{"no p2p part", `{"addr":"/ip4/127.0.0.1/tcp/1"}`, 400, wire.CodeInvalidArgument, "/p2p/"},
		{"empty", `{"addr":""}`, 400, wire.CodeInvalidArgument, "empty multiaddr"},
		{"unreachable", `{"addr":"/ip4/127.0.0.1/tcp/1/p2p/` + p.String() + `"}`, 404, wire.CodeNotFound, "connection refused"},
		{"bad JSON", `{not json`, 400, wire.CodeInvalidArgument, "invalid JSON body"},
		{"unknown field", `{"address":"x"}`, 400, wire.CodeInvalidArgument, "unknown field"},
		{"trailing data", `{"addr":"x"} {}`, 400, wire.CodeInvalidArgument, "trailing data"},
		{"empty body", ``, 400, wire.CodeInvalidArgument, "empty request body"},
		{"oversized", `{"addr":"` + strings.Repeat("a", 5<<20) + `"}`, 413, wire.CodeTooLarge, "larger than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := call(t, h, "POST", "/v1/connect", c.body)
			wantError(t, code, body, c.status, c.code, c.msg)
		})
	}
}

func TestDisconnect(t *testing.T) {
	p := testPeer(t)
	fn := &fakeNode{disconnect: func(q peer.ID) error {
		if q != p {
			return fmt.Errorf("%w: not connected to peer %s", node.ErrNotFound, q)
		}
		return nil
	}}
	h := newTestAPI(t, func(s *Services) { s.Node = fn }, nil)
	code, body := call(t, h, "POST", "/v1/disconnect", `{"peer":"`+p.String()+`"}`)
	var res wire.DisconnectResult
	decodeJSON(t, body, &res)
	if code != 200 || res.PeerID != p.String() {
		t.Fatalf("%d %s", code, body)
	}
	code, body = call(t, h, "POST", "/v1/disconnect", `{"peer":"`+testPeer(t).String()+`"}`)
	wantError(t, code, body, 404, wire.CodeNotFound, "not connected")
	code, body = call(t, h, "POST", "/v1/disconnect", `{"peer":"xyz"}`)
	wantError(t, code, body, 400, wire.CodeInvalidArgument, "invalid peer ID")
}

func TestPing(t *testing.T) {
	p := testPeer(t)
	var gotCount int
	fn := &fakeNode{ping: func(ctx context.Context, target peer.AddrInfo, count int) ([]time.Duration, error) {
		gotCount = count
		switch {
		case count == 99:
			// What the node answers when the request's deadline passes.
			return nil, fmt.Errorf("%w: ping %s: %w", node.ErrUnreachable, target.ID, context.DeadlineExceeded)
		case count > node.MaxPingCount:
			return nil, fmt.Errorf("%w: count %d is outside 1..%d", node.ErrInvalidArgument, count, node.MaxPingCount)
		}
		out := make([]time.Duration, count)
		for i := range out {
			out[i] = time.Duration(i+1) * time.Millisecond
		}
		return out, nil
	}}
	h := newTestAPI(t, func(s *Services) { s.Node = fn }, nil)
	code, body := call(t, h, "POST", "/v1/ping", `{"target":"`+p.String()+`"}`)
	var res wire.PingResult
	decodeJSON(t, body, &res)
	if code != 200 || gotCount != defaultPingCount || len(res.RTTsMS) != 3 || res.RTTsMS[2] != 3 || res.PeerID != p.String() {
		t.Fatalf("%d %+v (count %d)", code, res, gotCount)
	}
	code, body = call(t, h, "POST", "/v1/ping", `{"target":"/ip4/127.0.0.1/tcp/4101/p2p/`+p.String()+`","count":2}`)
	if code != 200 || gotCount != 2 {
		t.Fatalf("multiaddr target: %d %s", code, body)
	}
	code, body = call(t, h, "POST", "/v1/ping", `{"target":"`+p.String()+`","count":99}`)
	wantError(t, code, body, 408, wire.CodeTimeout, "deadline exceeded")
	// Out of range counts, an explicit 0 included, are refused before the
	// node is asked; only a missing count means the default.
	for _, bad := range []string{"0", "-1", "101", "1000"} {
		gotCount = -7
		code, body = call(t, h, "POST", "/v1/ping", `{"target":"`+p.String()+`","count":`+bad+`}`)
		wantError(t, code, body, 400, wire.CodeInvalidArgument, "invalid count "+bad)
		if gotCount != -7 {
			t.Errorf("count %s reached the node as %d", bad, gotCount)
		}
	}
	code, body = call(t, h, "POST", "/v1/ping", `{"target":"`+p.String()+`","count":null}`)
	if code != 200 || gotCount != defaultPingCount {
		t.Fatalf("count null: %d %s (count %d)", code, body, gotCount)
	}
	code, body = call(t, h, "POST", "/v1/ping", `{"target":"nope"}`)
	wantError(t, code, body, 400, wire.CodeInvalidArgument, "invalid peer ID")
	code, body = call(t, h, "POST", "/v1/ping", `{"target":""}`)
	wantError(t, code, body, 400, wire.CodeInvalidArgument, "empty target")
}

func TestShutdown(t *testing.T) {
	done := make(chan struct{}, 1)
	h := newTestAPI(t, nil, func() { done <- struct{}{} })
	if code, body := call(t, h, "POST", "/v1/shutdown", ""); code != 202 {
		t.Fatalf("%d %s", code, body)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("shutdown callback not called")
	}
	h = newTestAPI(t, nil, nil)
	code, body := call(t, h, "POST", "/v1/shutdown", "")
	wantError(t, code, body, 501, wire.CodeNotImplemented, "cannot be shut down")
}

func TestAuthAndRouting(t *testing.T) {
	h := newTestAPI(t, nil, nil)
	req := httptest.NewRequest("GET", "/healthz", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "ok") {
		t.Fatalf("healthz without token: %d %s", rec.Code, rec.Body)
	}
	for _, c := range []struct{ name, auth, msg string }{
		{"no token", "", "missing API token"},
		{"wrong token", "Bearer nope", "wrong API token"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/v1/id", nil)
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			wantError(t, rec.Code, rec.Body.Bytes(), 401, wire.CodeUnauthorized, c.msg)
		})
	}
	code, body := call(t, h, "GET", "/v1/nope", "")
	wantError(t, code, body, 404, wire.CodeNotFound, "no route GET /v1/nope")
	code, body = call(t, h, "GET", "/v1/peers?timeout=banana", "")
	wantError(t, code, body, 400, wire.CodeInvalidArgument, "invalid timeout")
	code, body = call(t, h, "GET", "/v1/peers?timeout=", "")
	wantError(t, code, body, 400, wire.CodeInvalidArgument, "invalid timeout")
	code, body = call(t, h, "GET", "/v1/peers?timeout=-1s", "")
	wantError(t, code, body, 400, wire.CodeInvalidArgument, "invalid timeout")

	req = httptest.NewRequest("POST", "/v1/connect", strings.NewReader(`{"addr":"x"}`))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	wantError(t, rec.Code, rec.Body.Bytes(), 403, wire.CodeForbidden, "cross-origin")
}

// A ?timeout= reaches the service as the request's deadline.
func TestTimeoutBoundsTheRequest(t *testing.T) {
	fn := &fakeNode{ping: func(ctx context.Context, target peer.AddrInfo, count int) ([]time.Duration, error) {
		<-ctx.Done()
		return nil, fmt.Errorf("%w: ping %s: %w", node.ErrUnreachable, target.ID, ctx.Err())
	}}
	h := newTestAPI(t, func(s *Services) { s.Node = fn }, nil)
	code, body := call(t, h, "POST", "/v1/ping?timeout=50ms", `{"target":"`+testPeer(t).String()+`"}`)
	wantError(t, code, body, 408, wire.CodeTimeout, "deadline exceeded")
}

func TestEventStream(t *testing.T) {
	bus := events.New()
	h := newTestAPI(t, func(s *Services) { s.Node = &fakeNode{bus: bus} }, nil)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/events?types=peer.", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	p := testPeer(t)
	bus.Publish("node.started", node.StartedEvent{Peer: p}) // filtered out by ?types=peer.
	bus.Publish("peer.connected", node.PeerEvent{Peer: p, Addr: ma.StringCast("/ip4/127.0.0.1/tcp/1"),
		Direction: network.DirInbound, Transport: "tcp"})
	sc := bufio.NewScanner(resp.Body)
	var typ, data string
	for sc.Scan() && data == "" {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "event: "); ok {
			typ = v
		}
		if v, ok := strings.CutPrefix(line, "data: "); ok {
			data = v
		}
	}
	if typ != "peer.connected" {
		t.Fatalf("first event %q (%s), want peer.connected", typ, data)
	}
	var ev wire.Event
	decodeJSON(t, []byte(data), &ev)
	var pe wire.PeerEvent
	decodeJSON(t, ev.Data, &pe)
	want := wire.PeerEvent{PeerID: p.String(), Addr: "/ip4/127.0.0.1/tcp/1", Direction: "inbound", Transport: "tcp"}
	if pe != want || ev.Seq == 0 {
		t.Fatalf("event %+v data %+v, want %+v", ev, pe, want)
	}
}

// Every event payload the node publishes has a wire form.
func TestNodeEventsConvert(t *testing.T) {
	p := testPeer(t)
	a := ma.StringCast("/ip4/127.0.0.1/tcp/1")
	for _, data := range []any{
		node.PeerEvent{Peer: p}, node.StartedEvent{Peer: p},
		node.IdentifiedEvent{Peer: p, Protocols: []protocol.ID{"/x"}, Addrs: []ma.Multiaddr{a}},
		node.AddrsEvent{Addrs: []ma.Multiaddr{a}, Added: []ma.Multiaddr{a}},
	} {
		v, ok := nodeEventWire(data)
		if !ok || !strings.Contains(fmt.Sprintf("%T", v), "wire.") {
			t.Fatalf("%T converts to %T (%v)", data, v, ok)
		}
	}
	if v := eventWire(nil); v != nil {
		t.Fatalf("nil payload: %v", v)
	}
}

func TestStatusOf(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{errors.New("boom"), 500},
		{invalid("x"), 400},
		{fmt.Errorf("%w: ping: %w", node.ErrUnreachable, context.DeadlineExceeded), 408},
		{fmt.Errorf("%w: x", node.ErrUnreachable), 404},
		{fmt.Errorf("%w: x", node.ErrClosed), 503},
	}
	for _, c := range cases {
		if got := statusOf(c.err); got != c.want {
			t.Errorf("statusOf(%v) = %d, want %d", c.err, got, c.want)
		}
	}
	for status, code := range map[int]string{400: "invalid_argument", 401: "unauthorized", 403: "forbidden", 404: "not_found",
		408: "timeout", 409: "conflict", 413: "too_large", 500: "internal", 501: "not_implemented", 502: "bad_gateway", 503: "unavailable"} {
		if got := codeOf(status); got != code {
			t.Errorf("codeOf(%d) = %q, want %q", status, got, code)
		}
	}
}

func TestStats(t *testing.T) {
	started := time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC)
	h := newTestAPI(t, func(s *Services) {
		s.Node = &fakeNode{bus: events.New(), stats: node.Stats{Started: started, Uptime: 90*time.Second + 500*time.Millisecond,
			Peers: 2, Connections: 3, Streams: 7, BytesIn: 1234, BytesOut: 5678, RateIn: 10.5, RateOut: 20.25}}
	}, nil)
	code, body := call(t, h, "GET", "/v1/stats", "")
	if code != 200 {
		t.Fatalf("GET /v1/stats: %d %s", code, body)
	}
	var st wire.Stats
	decodeJSON(t, body, &st)
	want := wire.Stats{StartedAt: started, UptimeMS: 90500, Peers: 2, Connections: 3, Streams: 7, BytesIn: 1234, BytesOut: 5678, RateIn: 10.5, RateOut: 20.25}
	if st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
}

// TestUI checks that the dashboard's files are served without credentials
// when Options.UI is set, that / leads a browser there, and that the API's
// routes still need credentials.
func TestUI(t *testing.T) {
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "dashboard "+r.URL.Path) })
	s, err := New(Services{Node: &fakeNode{bus: events.New()}, Discovery: fakeDiscovery{}, Routing: fakeRouting{},
		Records: fakeRecords{}, Perf: fakePerf{}, PubSub: fakePubSub{}, Messaging: fakeMessaging{}, NAT: fakeNAT{},
		Auth: newTestAuth(t), Tunnels: fakeTunnels{}, ACL: fakeACL{}, Files: fakeFiles{}}, Options{Token: testToken, Logger: quietLogger(), UI: ui})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{"/ui/": "dashboard /ui/", "/ui/app.js": "dashboard /ui/app.js"} {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 200 || rec.Body.String() != want {
			t.Errorf("GET %s without credentials: %d %q", path, rec.Code, rec.Body)
		}
	}
	for path, loc := range map[string]string{"/": "/ui/", "/ui": "/ui/"} {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code/100 != 3 || rec.Header().Get("Location") != loc {
			t.Errorf("GET %s: %d to %q, want a redirect to %s", path, rec.Code, rec.Header().Get("Location"), loc)
		}
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/v1/stats", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("GET /v1/stats without credentials: %d", rec.Code)
	}
	// Without Options.UI there is no dashboard.
	rec = httptest.NewRecorder()
	newTestAPI(t, nil, nil).ServeHTTP(rec, httptest.NewRequest("GET", "/ui/", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("GET /ui/ without a UI: %d, want the API's 401", rec.Code)
	}
}
