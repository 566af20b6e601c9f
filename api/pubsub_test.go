package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/pubsub"
)

// pubsubFake is a PubSub whose methods are the functions a test sets; the
// others panic (nil embedded interface).
type pubsubFake struct {
	pubsubAPI
	publish   func(ctx context.Context, topic string, data []byte) (pubsub.PublishResult, error)
	join      func(topic string) error
	leave     func(topic string) error
	topics    []pubsub.TopicInfo
	peers     func(topic string) []peer.ID
	subscribe func(topic string, buf int) (Subscription, error)
	stats     []pubsub.PeerStat
}

func (f *pubsubFake) PeerStats() []pubsub.PeerStat { return f.stats }

func (f *pubsubFake) Publish(ctx context.Context, topic string, data []byte) (pubsub.PublishResult, error) {
	return f.publish(ctx, topic, data)
}
func (f *pubsubFake) Join(topic string) error      { return f.join(topic) }
func (f *pubsubFake) Leave(topic string) error     { return f.leave(topic) }
func (f *pubsubFake) Topics() []pubsub.TopicInfo   { return f.topics }
func (f *pubsubFake) Peers(topic string) []peer.ID { return f.peers(topic) }
func (f *pubsubFake) Subscribe(topic string, buf int) (Subscription, error) {
	return f.subscribe(topic, buf)
}

// fakeSubscription is a Subscription fed by the test.
type fakeSubscription struct {
	ch      chan pubsub.Message
	dropped uint64
	closed  chan struct{}
}

func (s *fakeSubscription) C() <-chan pubsub.Message { return s.ch }
func (s *fakeSubscription) Dropped() uint64          { return s.dropped }
func (s *fakeSubscription) Close()                   { close(s.closed) }

func withPubSub(f *pubsubFake) func(*Services) { return func(s *Services) { s.PubSub = f } }

// badTopics are topic names every pub/sub route refuses with 400 before
// asking the service.
var badTopics = map[string]string{
	"empty":    "",
	"newline":  "chat\nroom",
	"bidi":     "app\u202ex",
	"nbsp":     "no\u00a0break",
	"too long": strings.Repeat("t", pubsub.MaxTopicLen+1),
}

// topicJSON is a TopicRequest body.
func topicJSON(topic string) string {
	b, _ := json.Marshal(wire.TopicRequest{Topic: topic})
	return string(b)
}

func TestPublish(t *testing.T) {
	var gotTopic string
	var gotData []byte
	f := &pubsubFake{publish: func(ctx context.Context, topic string, data []byte) (pubsub.PublishResult, error) {
		gotTopic, gotData = topic, data
		switch topic {
		case "big":
			return pubsub.PublishResult{Topic: topic}, fmt.Errorf("publish to %q: payload of %d bytes exceeds the maximum message size of %d bytes: %w",
				topic, len(data), 3, pubsub.ErrTooLarge)
		case "slow":
			<-ctx.Done()
			return pubsub.PublishResult{Topic: topic}, fmt.Errorf("publish to %q: waiting for peers: %w", topic, ctx.Err())
		case "closed":
			return pubsub.PublishResult{}, fmt.Errorf("publish: %w", pubsub.ErrClosed)
		}
		return pubsub.PublishResult{Topic: topic, Peers: 2, MeshPeers: 1, Waited: 1500 * time.Microsecond,
			Warning: "no mesh peer yet"}, nil
	}}
	h := newTestAPI(t, withPubSub(f), nil)
	code, body := call(t, h, "POST", "/v1/pubsub/publish", `{"topic":"news","data":"AP94"}`)
	var res wire.PublishResult
	decodeJSON(t, body, &res)
	want := wire.PublishResult{Topic: "news", Peers: 2, MeshPeers: 1, WaitedMS: 1.5, Warning: "no mesh peer yet"}
	if code != 200 || res != want || gotTopic != "news" || string(gotData) != "\x00\xffx" {
		t.Fatalf("%d %+v, want %+v (service got %q %q)", code, res, want, gotTopic, gotData)
	}

	cases := []struct {
		name, path, body string
		status           int
		code, msg        string
	}{
		{"too large", "/v1/pubsub/publish", `{"topic":"big","data":"eHh4eA=="}`, 413, wire.CodeTooLarge, "maximum message size"},
		{"timeout", "/v1/pubsub/publish?timeout=20ms", `{"topic":"slow"}`, 408, wire.CodeTimeout, "deadline exceeded"},
		{"closed", "/v1/pubsub/publish", `{"topic":"closed"}`, 503, wire.CodeUnavailable, "closed"},
		{"bad base64", "/v1/pubsub/publish", `{"topic":"news","data":"!!!"}`, 400, wire.CodeInvalidArgument, "invalid JSON body"},
		{"data not a string", "/v1/pubsub/publish", `{"topic":"news","data":5}`, 400, wire.CodeInvalidArgument, "invalid JSON body"},
		{"unknown field", "/v1/pubsub/publish", `{"topic":"news","payload":"eA=="}`, 400, wire.CodeInvalidArgument, "unknown field"},
		{"body over the limit", "/v1/pubsub/publish", `{"topic":"news","data":"` + strings.Repeat("A", 5<<20) + `"}`, 413, wire.CodeTooLarge, "larger than"},
	}
	for name, topic := range badTopics {
		cases = append(cases, struct {
			name, path, body string
			status           int
			code, msg        string
		}{"topic " + name, "/v1/pubsub/publish", topicJSON(topic), 400, wire.CodeInvalidArgument, "invalid topic"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := call(t, h, "POST", c.path, c.body)
			wantError(t, code, body, c.status, c.code, c.msg)
		})
	}
}

func TestPubSubJoinLeave(t *testing.T) {
	joined := map[string]bool{}
	f := &pubsubFake{
		join: func(topic string) error { joined[topic] = true; return nil },
		leave: func(topic string) error {
			if !joined[topic] {
				return fmt.Errorf("leave topic %q: %w", topic, pubsub.ErrNotJoined)
			}
			delete(joined, topic)
			return nil
		},
	}
	h := newTestAPI(t, withPubSub(f), nil)
	for _, path := range []string{"/v1/pubsub/join", "/v1/pubsub/leave"} {
		code, body := call(t, h, "POST", path, `{"topic":"chat room"}`)
		var res wire.TopicRequest
		decodeJSON(t, body, &res)
		if code != 200 || res.Topic != "chat room" {
			t.Fatalf("%s: %d %s", path, code, body)
		}
	}
	code, body := call(t, h, "POST", "/v1/pubsub/leave", `{"topic":"never"}`)
	wantError(t, code, body, 404, wire.CodeNotFound, "not joined")
	for name, topic := range badTopics {
		for _, path := range []string{"/v1/pubsub/join", "/v1/pubsub/leave"} {
			code, body := call(t, h, "POST", path, topicJSON(topic))
			if code != 400 {
				t.Errorf("%s %s: %d %s", path, name, code, body)
			}
		}
	}
	code, body = call(t, h, "POST", "/v1/pubsub/join", "")
	wantError(t, code, body, 400, wire.CodeInvalidArgument, "empty request body")
}

func TestPubSubTopicsAndPeers(t *testing.T) {
	p := testPeer(t)
	f := &pubsubFake{
		topics: []pubsub.TopicInfo{{Name: "a", MeshPeers: 1, Peers: 2, LocalSubscribers: 3}},
		peers:  func(topic string) []peer.ID { return []peer.ID{p} },
	}
	h := newTestAPI(t, withPubSub(f), nil)
	code, body := call(t, h, "GET", "/v1/pubsub/topics", "")
	var ts []wire.TopicInfo
	decodeJSON(t, body, &ts)
	if code != 200 || len(ts) != 1 || ts[0] != (wire.TopicInfo{Name: "a", MeshPeers: 1, Peers: 2, LocalSubscribers: 3}) {
		t.Fatalf("%d %s", code, body)
	}
	code, body = call(t, h, "GET", "/v1/pubsub/peers?topic=a", "")
	var peers []string
	decodeJSON(t, body, &peers)
	if code != 200 || len(peers) != 1 || peers[0] != p.String() {
		t.Fatalf("%d %s", code, body)
	}
	for _, topic := range badTopics {
		code, body = call(t, h, "GET", "/v1/pubsub/peers?topic="+url.QueryEscape(topic), "")
		wantError(t, code, body, 400, wire.CodeInvalidArgument, "invalid topic")
	}

	f.topics = nil
	if code, body := call(t, newTestAPI(t, withPubSub(f), nil), "GET", "/v1/pubsub/topics", ""); code != 200 || strings.TrimSpace(string(body)) != "[]" {
		t.Fatalf("no topics: %d %s, want []", code, body)
	}
}

// readEvent returns the type and data of the next Server-Sent Event.
func readEvent(t *testing.T, sc *bufio.Scanner) (string, string) {
	t.Helper()
	var typ string
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "event: "); ok {
			typ = v
		}
		if v, ok := strings.CutPrefix(line, "data: "); ok {
			return typ, v
		}
	}
	t.Fatalf("stream ended: %v", sc.Err())
	return "", ""
}

func TestPubSubSubscribe(t *testing.T) {
	sub := &fakeSubscription{ch: make(chan pubsub.Message, 1), closed: make(chan struct{})}
	var gotBuf int
	f := &pubsubFake{subscribe: func(topic string, buf int) (Subscription, error) {
		if topic == "closed" {
			return nil, fmt.Errorf("subscribe: %w", pubsub.ErrClosed)
		}
		gotBuf = buf
		return sub, nil
	}}
	h := newTestAPI(t, withPubSub(f), nil)
	for _, topic := range badTopics {
		code, body := call(t, h, "GET", "/v1/pubsub/subscribe?topic="+url.QueryEscape(topic), "")
		wantError(t, code, body, 400, wire.CodeInvalidArgument, "invalid topic")
	}
	code, body := call(t, h, "GET", "/v1/pubsub/subscribe?topic=closed", "")
	wantError(t, code, body, 503, wire.CodeUnavailable, "closed")

	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/pubsub/subscribe?topic=news", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" || gotBuf != subscribeBuffer {
		t.Fatalf("status %d, content type %q, buffer %d", resp.StatusCode, resp.Header.Get("Content-Type"), gotBuf)
	}
	sc := bufio.NewScanner(resp.Body)

	from, via := testPeer(t), testPeer(t)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sub.dropped = 3
	// go-libp2p-pubsub seqnos start at the clock in nanoseconds: above 2^53.
	const seqno = 1<<63 + 1
	sub.ch <- pubsub.Message{From: from, Seqno: seqno, Topic: "news", Data: []byte{0, 0xff}, ReceivedAt: at,
		ID: from.String() + "/9223372036854775809", ReceivedFrom: via}
	if typ, data := readEvent(t, sc); typ != "dropped" || data != `{"dropped":3}` {
		t.Fatalf("first event %s %s, want dropped 3", typ, data)
	}
	typ, data := readEvent(t, sc)
	// The seqno is a decimal string, exact in any JSON reader (JavaScript's
	// numbers would round it), and the same decimal as in the ID.
	var raw map[string]any
	decodeJSON(t, []byte(data), &raw)
	if raw["seqno"] != "9223372036854775809" {
		t.Fatalf("seqno on the wire: %#v, want the string \"9223372036854775809\"", raw["seqno"])
	}
	var m wire.Message
	decodeJSON(t, []byte(data), &m)
	want := wire.Message{From: from.String(), Seqno: seqno, Topic: "news", Data: []byte{0, 0xff}, ReceivedAt: at,
		ID: from.String() + "/9223372036854775809", ReceivedFrom: via.String()}
	if typ != "message" || m.From != want.From || m.Seqno != seqno || string(m.Data) != string(want.Data) ||
		!m.ReceivedAt.Equal(at) || m.ID != want.ID || m.ReceivedFrom != want.ReceivedFrom || m.Topic != "news" {
		t.Fatalf("event %s %+v, want message %+v", typ, m, want)
	}
	close(sub.ch) // the topic was left
	if typ, data := readEvent(t, sc); typ != "closed" || data != "{}" {
		t.Fatalf("last event %s %s, want closed", typ, data)
	}
	select {
	case <-sub.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the subscription was not closed when the stream ended")
	}
}

// PubSubService serves a real *pubsub.Service; a failed Subscribe is a nil
// Subscription, not a nil pointer in an interface.
func TestPubSubService(t *testing.T) {
	mn := mocknet.New()
	t.Cleanup(func() { _ = mn.Close() })
	host, err := mn.GenPeer()
	if err != nil {
		t.Fatal(err)
	}
	svc, err := pubsub.New(t.Context(), host, pubsub.WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	ps := PubSubService(svc)
	if sub, err := ps.Subscribe("", 1); err == nil || sub != nil {
		t.Fatalf("Subscribe(\"\") = %v, %v; want a nil Subscription and an error", sub, err)
	}
	sub, err := ps.Subscribe("x", 1)
	if err != nil {
		t.Fatal(err)
	}
	sub.Close()
	if ts := ps.Topics(); len(ts) != 1 || ts[0].Name != "x" {
		t.Fatalf("topics %+v", ts)
	}
}

// Every event payload pubsub publishes has a wire form.
func TestPubSubEventsConvert(t *testing.T) {
	p := testPeer(t)
	cases := map[any]any{
		pubsub.MessageEvent{Topic: "t", From: p, Seqno: 1, Size: 2, ID: "i"}:  wire.PubSubMessageEvent{Topic: "t", From: p.String(), Seqno: 1, Size: 2, ID: "i"},
		pubsub.PublishedEvent{Topic: "t", Size: 1, Peers: 2, MeshPeers: 3}:    wire.PubSubPublishedEvent{Topic: "t", Size: 1, Peers: 2, MeshPeers: 3},
		pubsub.TopicEvent{Topic: "t"}:                                         wire.PubSubTopicEvent{Topic: "t"},
		pubsub.PeerThrottledEvent{Peer: p, Dropped: 5, Total: 9, Penalty: -9}: wire.PubSubPeerThrottledEvent{Peer: p.String(), Dropped: 5, Total: 9, Penalty: -9},
	}
	for in, want := range cases {
		if got := eventWire(in); got != want {
			t.Errorf("%T converts to %#v, want %#v", in, got, want)
		}
	}
	b, _ := json.Marshal(wire.PubSubMessageEvent{Seqno: 1<<63 + 1})
	if !strings.Contains(string(b), `"seqno":"9223372036854775809"`) {
		t.Errorf("pubsub.message event on the wire: %s, want the seqno as a decimal string", b)
	}
	if _, ok := pubsubEventWire("not a pubsub event"); ok {
		t.Error("pubsubEventWire claims a string")
	}
}

// Issue 20 row 7: the peers' scores and rate-limit drops, lowest score first.
func TestPubSubScores(t *testing.T) {
	p, q := testPeer(t), testPeer(t)
	f := &pubsubFake{stats: []pubsub.PeerStat{{Peer: p, Score: -3000, RateLimited: 4000}, {Peer: q, Score: 1.5}}}
	code, body := call(t, newTestAPI(t, withPubSub(f), nil), "GET", "/v1/pubsub/scores", "")
	var got []wire.PubSubPeerScore
	decodeJSON(t, body, &got)
	want := []wire.PubSubPeerScore{{Peer: p.String(), Score: -3000, RateLimited: 4000}, {Peer: q.String(), Score: 1.5}}
	if code != 200 || !slices.Equal(got, want) {
		t.Fatalf("%d %s, want %+v", code, body, want)
	}
	f.stats = nil
	if code, body := call(t, newTestAPI(t, withPubSub(f), nil), "GET", "/v1/pubsub/scores", ""); code != 200 || strings.TrimSpace(string(body)) != "[]" {
		t.Fatalf("no peers: %d %s, want []", code, body)
	}
}
