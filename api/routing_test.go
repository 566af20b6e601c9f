package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/routing"
)

// routingFake answers from its fields; a nil function panics.
type routingFake struct {
	Routing
	table    []routing.Entry
	status   []routing.Status
	findPeer func(ctx context.Context, p peer.ID) (routing.Found, error)
	closest  func(ctx context.Context, key string) ([]peer.ID, error)
	explore  func(ctx context.Context, opts routing.ExploreOptions) (routing.Report, error)
}

func (f *routingFake) Table() []routing.Entry   { return f.table }
func (f *routingFake) Status() []routing.Status { return f.status }
func (f *routingFake) FindPeer(ctx context.Context, p peer.ID) (routing.Found, error) {
	return f.findPeer(ctx, p)
}
func (f *routingFake) Closest(ctx context.Context, key string) ([]peer.ID, error) {
	return f.closest(ctx, key)
}
func (f *routingFake) Explore(ctx context.Context, opts routing.ExploreOptions) (routing.Report, error) {
	return f.explore(ctx, opts)
}

func TestDHTTable(t *testing.T) {
	p, q := testPeer(t), testPeer(t)
	added := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600))
	f := &routingFake{table: []routing.Entry{
		{Peer: p, Bucket: 0, Addr: ma.StringCast("/ip4/192.0.2.1/tcp/4001"), Connected: true, AddedAt: added, LastUseful: added},
		{Peer: q, Bucket: 3, AddedAt: added},
	}}
	h := newTestAPI(t, func(s *Services) { s.Routing = f }, nil)
	code, body := call(t, h, "GET", "/v1/dht/table", "")
	var rt []wire.RoutingEntry
	decodeJSON(t, body, &rt)
	if code != 200 || len(rt) != 2 {
		t.Fatalf("%d %s", code, body)
	}
	want0 := wire.RoutingEntry{Bucket: 0, PeerID: p.String(), Addr: "/ip4/192.0.2.1/tcp/4001", Connected: true,
		AddedAt: added.UTC(), LastUseful: added.UTC()}
	if rt[0] != want0 || rt[1].Bucket != 3 || rt[1].Addr != "" || !rt[1].LastUseful.IsZero() {
		t.Errorf("table %+v", rt)
	}
	if strings.Count(string(body), `"last_useful"`) != 1 || strings.Count(string(body), `"addr"`) != 1 {
		t.Errorf("empty address or zero last_useful not omitted: %s", body)
	}
	h = newTestAPI(t, func(s *Services) { s.Routing = &routingFake{} }, nil)
	if code, body := call(t, h, "GET", "/v1/dht/table", ""); code != 200 || strings.TrimSpace(string(body)) != "[]" {
		t.Errorf("empty table: %d %s", code, body)
	}
}

func TestDHTFindPeer(t *testing.T) {
	known, unknown, slow := testPeer(t), testPeer(t), testPeer(t)
	a := ma.StringCast("/ip4/192.0.2.1/tcp/4001")
	f := &routingFake{findPeer: func(ctx context.Context, p peer.ID) (routing.Found, error) {
		switch p {
		case known:
			return routing.Found{ID: p, Addrs: []ma.Multiaddr{a}, Via: routing.ViaDHT, Duration: 2500 * time.Microsecond}, nil
		case slow:
			// What routing answers when the lookup outlives the request.
			return routing.Found{}, fmt.Errorf("find peer %s: %w (%w)", p, context.DeadlineExceeded, errors.New("routing: not found"))
		}
		return routing.Found{}, fmt.Errorf("find peer %s: %w: %w", p, routing.ErrNotFound, errors.New("routing: not found"))
	}}
	h := newTestAPI(t, func(s *Services) { s.Routing = f }, nil)
	code, body := call(t, h, "GET", "/v1/dht/findpeer?peer="+known.String(), "")
	var fp wire.FoundPeer
	decodeJSON(t, body, &fp)
	want := wire.FoundPeer{PeerID: known.String(), Addrs: []string{a.String()}, Via: "dht", DurationMS: 2.5}
	if code != 200 || fmt.Sprint(fp) != fmt.Sprint(want) {
		t.Fatalf("%d %+v, want %+v", code, fp, want)
	}
	cases := []struct {
		name, query string
		status      int
		code, msg   string
	}{
		{"unknown", "peer=" + unknown.String(), 404, wire.CodeNotFound, "peer not found"},
		{"timeout", "peer=" + slow.String(), 408, wire.CodeTimeout, "deadline exceeded"},
		{"invalid peer ID", "peer=nope", 400, wire.CodeInvalidArgument, "invalid peer ID"},
		{"no peer", "", 400, wire.CodeInvalidArgument, "empty peer ID"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := call(t, h, "GET", "/v1/dht/findpeer?"+c.query, "")
			wantError(t, code, body, c.status, c.code, c.msg)
		})
	}
}

func TestDHTClosest(t *testing.T) {
	p, q := testPeer(t), testPeer(t)
	var gotKey string
	f := &routingFake{closest: func(ctx context.Context, key string) ([]peer.ID, error) {
		gotKey = key
		if key == "lonely" {
			return nil, fmt.Errorf("closest peers to %q: %w", key, errors.New("failed to find any peer in table"))
		}
		return []peer.ID{p, q}, nil
	}}
	h := newTestAPI(t, func(s *Services) { s.Routing = f }, nil)
	code, body := call(t, h, "GET", "/v1/dht/closest?key=some%20key", "")
	var cp wire.ClosestPeers
	decodeJSON(t, body, &cp)
	if code != 200 || gotKey != "some key" || cp.Key != "some key" || len(cp.Peers) != 2 || cp.Peers[1] != q.String() || cp.DurationMS < 0 {
		t.Fatalf("%d %s", code, body)
	}
	code, body = call(t, h, "GET", "/v1/dht/closest", "")
	wantError(t, code, body, 400, wire.CodeInvalidArgument, "empty key")
	code, body = call(t, h, "GET", "/v1/dht/closest?key=lonely", "")
	wantError(t, code, body, 500, wire.CodeInternal, "failed to find any peer")
	if got := statusOf(fmt.Errorf("closest peers: %w: empty", routing.ErrInvalidKey)); got != 400 {
		t.Errorf("routing.ErrInvalidKey answers %d, want 400", got)
	}
}

func TestExplore(t *testing.T) {
	self, other := testPeer(t), testPeer(t)
	a := ma.StringCast("/ip4/192.0.2.1/tcp/4001")
	started := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rep := routing.Report{Self: self, StartedAt: started, Duration: 1234567 * time.Microsecond, Complete: true,
		Total: 2, Dialable: 1, Undialable: 1, Nodes: []routing.Node{
			{ID: self, Self: true, Dialable: true, Addrs: []ma.Multiaddr{a}, AgentVersion: "plexus/x",
				Protocols: []protocol.ID{routing.DefaultProtocol}, Neighbours: []peer.ID{other}},
			{ID: other, Error: "dial backoff"},
		}}
	f := &routingFake{explore: func(ctx context.Context, opts routing.ExploreOptions) (routing.Report, error) {
		if _, ok := ctx.Deadline(); ok {
			return routing.Report{}, fmt.Errorf("explore: %w", context.DeadlineExceeded)
		}
		return rep, nil
	}}
	h := newTestAPI(t, func(s *Services) { s.Routing = f }, nil)
	code, body := call(t, h, "GET", "/v1/explore", "")
	var er wire.ExploreReport
	decodeJSON(t, body, &er)
	if code != 200 || er.Self != self.String() || er.DurationMS != 1234.567 || !er.Complete || er.Total != 2 || len(er.Nodes) != 2 {
		t.Fatalf("%d %s", code, body)
	}
	n0, n1 := er.Nodes[0], er.Nodes[1]
	if !n0.Self || n0.PeerID != self.String() || n0.Addrs[0] != a.String() || n0.Protocols[0] != string(routing.DefaultProtocol) ||
		n0.Neighbours[0] != other.String() || n1.Dialable || n1.Error != "dial backoff" || len(n1.Addrs) != 0 {
		t.Errorf("nodes %+v", er.Nodes)
	}
	code, body = call(t, h, "GET", "/v1/explore?timeout=1s", "")
	wantError(t, code, body, 408, wire.CodeTimeout, "deadline exceeded")
}

func TestRoutingEventsConvert(t *testing.T) {
	p := testPeer(t)
	for _, c := range []routing.Change{{Peer: p, Added: true, Size: 3}, {Peer: p, Size: 2}} {
		got, ok := eventWire(c).(wire.RoutingEvent)
		if !ok || got != (wire.RoutingEvent{PeerID: p.String(), Size: c.Size}) {
			t.Errorf("%+v converts to %+v", c, got)
		}
	}
	if _, ok := routingEventWire(42); ok {
		t.Error("a foreign payload converted")
	}
}

func TestDHTStatus(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status []routing.Status
		want   string
	}{
		{"plexus only", []routing.Status{{Protocol: routing.DefaultProtocol, Mode: routing.ModeServer, Size: 3}},
			`{"amino":false,"dhts":[{"name":"plexus","protocol":"/plexus/kad/1.0.0","mode":"server","table_size":3}]}`},
		{"with amino", []routing.Status{
			{Protocol: routing.DefaultProtocol, Mode: routing.ModeServer, Size: 3},
			{Amino: true, Protocol: routing.AminoProtocol, Mode: routing.ModeClient, Size: 187},
		}, `{"amino":true,"dhts":[{"name":"plexus","protocol":"/plexus/kad/1.0.0","mode":"server","table_size":3},` +
			`{"name":"amino","protocol":"/ipfs/kad/1.0.0","mode":"client","table_size":187}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestAPI(t, func(s *Services) { s.Routing = &routingFake{status: tc.status} }, nil)
			code, body := call(t, h, "GET", "/v1/dht/status", "")
			var compact bytes.Buffer
			if err := json.Compact(&compact, body); err != nil || code != 200 || compact.String() != tc.want {
				t.Fatalf("%d %s, want %s", code, body, tc.want)
			}
		})
	}
}
