package api

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/discovery"
)

// discoveryFake answers from its fields; a nil function panics.
type discoveryFake struct {
	Discovery
	known  []discovery.KnownPeer
	boot   []discovery.BootstrapStatus
	topics []string
	join   func(ctx context.Context, topic string) error
	leave  func(topic string) error
	peers  func(ctx context.Context, topic string) ([]peer.AddrInfo, error)
}

func (f *discoveryFake) KnownPeers() []discovery.KnownPeer            { return f.known }
func (f *discoveryFake) BootstrapStatus() []discovery.BootstrapStatus { return f.boot }
func (f *discoveryFake) RendezvousTopics() []string                   { return f.topics }
func (f *discoveryFake) JoinRendezvous(ctx context.Context, topic string) error {
	return f.join(ctx, topic)
}
func (f *discoveryFake) LeaveRendezvous(topic string) error { return f.leave(topic) }
func (f *discoveryFake) RendezvousPeers(ctx context.Context, topic string) ([]peer.AddrInfo, error) {
	return f.peers(ctx, topic)
}

func TestKnownPeersAndBootstrap(t *testing.T) {
	p, q := testPeer(t), testPeer(t)
	a := ma.StringCast("/ip4/192.0.2.1/tcp/4001")
	seen := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600))
	retry := time.Date(2026, 1, 2, 3, 5, 0, 0, time.UTC)
	f := &discoveryFake{
		known: []discovery.KnownPeer{{ID: p, Addrs: []ma.Multiaddr{a},
			Sources: []discovery.Source{discovery.SourceBootstrap, discovery.SourceDHT}, FirstSeen: seen, LastSeen: seen, Connected: true}},
		boot: []discovery.BootstrapStatus{
			{Peer: p, Addrs: []ma.Multiaddr{a}, Connected: true, LastConnected: seen},
			{Peer: q, Attempts: 3, LastError: "connection refused", LastAttempt: seen, NextRetry: retry},
		},
	}
	h := newTestAPI(t, func(s *Services) { s.Discovery = f }, nil)

	code, body := call(t, h, "GET", "/v1/peers/known", "")
	var known []wire.KnownPeer
	decodeJSON(t, body, &known)
	if code != 200 || len(known) != 1 {
		t.Fatalf("%d %s", code, body)
	}
	k := known[0]
	if k.PeerID != p.String() || k.Addrs[0] != a.String() || strings.Join(k.Sources, ",") != "bootstrap,dht" ||
		!k.FirstSeen.Equal(seen) || k.LastSeen.Location() != time.UTC || !k.Connected {
		t.Errorf("known peer %+v", k)
	}
	if !strings.Contains(string(body), `"peer_id"`) || !strings.Contains(string(body), `"first_seen"`) {
		t.Errorf("field names changed: %s", body)
	}

	code, body = call(t, h, "GET", "/v1/bootstrap", "")
	var st []wire.BootstrapStatus
	decodeJSON(t, body, &st)
	if code != 200 || len(st) != 2 {
		t.Fatalf("%d %s", code, body)
	}
	if st[0].Peer != p.String() || !st[0].Connected || !st[0].NextRetry.IsZero() || !st[0].LastConnected.Equal(seen) {
		t.Errorf("bootstrap[0] %+v", st[0])
	}
	if st[1].Attempts != 3 || st[1].LastError != "connection refused" || !st[1].NextRetry.Equal(retry) || len(st[1].Addrs) != 0 {
		t.Errorf("bootstrap[1] %+v", st[1])
	}
	if strings.Count(string(body), `"next_retry"`) != 1 || strings.Count(string(body), `"last_attempt"`) != 1 {
		t.Errorf("zero times are not omitted: %s", body)
	}

	// Nothing known: empty lists, not null.
	h = newTestAPI(t, func(s *Services) { s.Discovery = &discoveryFake{} }, nil)
	for _, path := range []string{"/v1/peers/known", "/v1/bootstrap", "/v1/discover/topics"} {
		if code, body := call(t, h, "GET", path, ""); code != 200 || strings.TrimSpace(string(body)) != "[]" {
			t.Errorf("%s: %d %s", path, code, body)
		}
	}
}

func TestRendezvous(t *testing.T) {
	p := testPeer(t)
	a := ma.StringCast("/ip4/192.0.2.1/tcp/4001")
	joined := map[string]bool{}
	f := &discoveryFake{
		join: func(ctx context.Context, topic string) error {
			if err := discovery.ValidateTopic(topic); err != nil {
				return fmt.Errorf("rendezvous join: %w", err)
			}
			if joined[topic] {
				return fmt.Errorf("rendezvous join %q: %w", topic, discovery.ErrAlreadyJoined)
			}
			joined[topic] = true
			return nil
		},
		leave: func(topic string) error {
			if !joined[topic] {
				return fmt.Errorf("rendezvous leave %q: %w", topic, discovery.ErrNotJoined)
			}
			delete(joined, topic)
			return nil
		},
		peers: func(ctx context.Context, topic string) ([]peer.AddrInfo, error) {
			switch topic {
			case "slow":
				return nil, fmt.Errorf("rendezvous peers %q: %w", topic, context.DeadlineExceeded)
			case "closed":
				return nil, fmt.Errorf("rendezvous find peers %q: %w", topic, discovery.ErrClosed)
			}
			if err := discovery.ValidateTopic(topic); err != nil {
				return nil, fmt.Errorf("rendezvous find peers: %w", err)
			}
			return []peer.AddrInfo{{ID: p, Addrs: []ma.Multiaddr{a}}}, nil
		},
		topics: []string{"app-x"},
	}
	h := newTestAPI(t, func(s *Services) { s.Discovery = f }, nil)

	code, body := call(t, h, "POST", "/v1/discover/join", `{"topic":"app-x"}`)
	var tr wire.TopicRequest
	decodeJSON(t, body, &tr)
	if code != 200 || tr.Topic != "app-x" || !joined["app-x"] {
		t.Fatalf("join: %d %s", code, body)
	}
	code, body = call(t, h, "POST", "/v1/discover/join", `{"topic":"app-x"}`)
	wantError(t, code, body, 409, wire.CodeConflict, "already joined")
	code, body = call(t, h, "POST", "/v1/discover/join", `{"topic":""}`)
	wantError(t, code, body, 400, wire.CodeInvalidArgument, "invalid rendezvous topic")
	code, body = call(t, h, "POST", "/v1/discover/join", `{"topic":"`+strings.Repeat("x", 300)+`"}`)
	wantError(t, code, body, 400, wire.CodeInvalidArgument, "256")
	code, body = call(t, h, "POST", "/v1/discover/join", `{"name":"app-x"}`)
	wantError(t, code, body, 400, wire.CodeInvalidArgument, "unknown field")

	if code, body = call(t, h, "POST", "/v1/discover/leave", `{"topic":"app-x"}`); code != 200 || joined["app-x"] {
		t.Fatalf("leave: %d %s", code, body)
	}
	code, body = call(t, h, "POST", "/v1/discover/leave", `{"topic":"app-x"}`)
	wantError(t, code, body, 404, wire.CodeNotFound, "not joined")
	code, body = call(t, h, "POST", "/v1/discover/leave", ``)
	wantError(t, code, body, 400, wire.CodeInvalidArgument, "empty request body")

	code, body = call(t, h, "GET", "/v1/discover/peers?topic=app-x", "")
	var rp wire.RendezvousPeers
	decodeJSON(t, body, &rp)
	if code != 200 || rp.Topic != "app-x" || len(rp.Peers) != 1 || rp.Peers[0].PeerID != p.String() || rp.Peers[0].Addrs[0] != a.String() {
		t.Fatalf("peers: %d %s", code, body)
	}
	code, body = call(t, h, "GET", "/v1/discover/peers", "")
	wantError(t, code, body, 400, wire.CodeInvalidArgument, "empty")
	code, body = call(t, h, "GET", "/v1/discover/peers?topic=slow", "")
	wantError(t, code, body, 408, wire.CodeTimeout, "deadline exceeded")
	code, body = call(t, h, "GET", "/v1/discover/peers?topic=closed", "")
	wantError(t, code, body, 503, wire.CodeUnavailable, "closed")

	code, body = call(t, h, "GET", "/v1/discover/topics", "")
	var topics []string
	decodeJSON(t, body, &topics)
	if code != 200 || len(topics) != 1 || topics[0] != "app-x" {
		t.Fatalf("topics: %d %s", code, body)
	}
}

// Every event payload of package discovery has a wire form.
func TestDiscoveryEventsConvert(t *testing.T) {
	p := testPeer(t)
	a := ma.StringCast("/ip4/192.0.2.1/tcp/4001")
	next := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		data any
		want any
	}{
		{discovery.PeerDiscovered{Peer: p, Source: discovery.SourceMDNS, Addrs: []ma.Multiaddr{a}},
			wire.PeerDiscoveredEvent{Peer: p.String(), Source: "mdns", Addrs: []string{a.String()}}},
		{discovery.BootstrapFailed{Peer: p, Error: "refused", Attempts: 2, NextRetry: next},
			wire.BootstrapFailedEvent{Peer: p.String(), Error: "refused", Attempts: 2, NextRetry: next}},
		{discovery.RendezvousTopic{Topic: "t"}, wire.RendezvousEvent{Topic: "t"}},
	}
	for _, c := range cases {
		got := eventWire(c.data)
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%T converts to %+v, want %+v", c.data, got, c.want)
		}
	}
	if _, ok := discoveryEventWire("something else"); ok {
		t.Error("a foreign payload converted")
	}
}
