package api

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/messaging"
	"github.com/plexus-p2p/plexus/node"
	"github.com/plexus-p2p/plexus/pubsub"
)

// messagingFake is a Messaging whose methods are the functions a test sets;
// the others panic (nil embedded interface).
type messagingFake struct {
	messagingAPI
	send     func(ctx context.Context, p peer.ID, proto protocol.ID, data []byte) (node.SendResult, error)
	handlers []messaging.HandlerInfo
	add      func(proto protocol.ID, url string) error
	remove   func(proto protocol.ID) error
}

func (f *messagingFake) Send(ctx context.Context, p peer.ID, proto protocol.ID, data []byte) (node.SendResult, error) {
	return f.send(ctx, p, proto, data)
}
func (f *messagingFake) Handlers() []messaging.HandlerInfo { return f.handlers }
func (f *messagingFake) AddHTTPHandler(proto protocol.ID, url string) error {
	return f.add(proto, url)
}
func (f *messagingFake) RemoveHandler(proto protocol.ID) error { return f.remove(proto) }

func withMessaging(f *messagingFake) func(*Services) { return func(s *Services) { s.Messaging = f } }

func TestSend(t *testing.T) {
	known, unknown := testPeer(t), testPeer(t)
	var got struct {
		p     peer.ID
		proto protocol.ID
		data  []byte
	}
	f := &messagingFake{send: func(ctx context.Context, p peer.ID, proto protocol.ID, data []byte) (node.SendResult, error) {
		got.p, got.proto, got.data = p, proto, data
		if p == unknown {
			return node.SendResult{}, fmt.Errorf("%w: peer %s is not connected and was not found in the DHT: %w", node.ErrNotFound, p, errors.New("routing: not found"))
		}
		switch proto {
		case "/app/slow/1.0.0":
			<-ctx.Done()
			return node.SendResult{}, fmt.Errorf("send %s to %s: %w (%w): %w", proto, p, messaging.ErrTimeout, context.DeadlineExceeded, ctx.Err())
		case "/app/none/1.0.0":
			return node.SendResult{}, fmt.Errorf("send %s to %s: %w: %w", proto, p, messaging.ErrProtocolNotSupported, errors.New("protocols not supported"))
		case "/app/big/1.0.0":
			return node.SendResult{}, fmt.Errorf("send %s to %s: request of %d bytes exceeds limit of %d: %w", proto, p, len(data), 2, messaging.ErrTooLarge)
		case "/app/busy/1.0.0":
			return node.SendResult{}, fmt.Errorf("send %s to %s: %w: handling 256 requests already", proto, p, messaging.ErrBusy)
		case "/app/fail/1.0.0":
			return node.SendResult{}, fmt.Errorf("send %s to %s: %w", proto, p, &messaging.HandlerError{Message: "the recipe book is closed"})
		case "/ipfs/id/1.0.0":
			return node.SendResult{}, fmt.Errorf("send to %s: protocol %q is outside the application prefix %q: %w", p, proto, "/app/", messaging.ErrInvalidProtocol)
		}
		return node.SendResult{Peer: p, Protocol: proto, Data: append([]byte("re: "), data...), Duration: 2500 * time.Microsecond}, nil
	}}
	h := newTestAPI(t, withMessaging(f), nil)
	code, body := call(t, h, "POST", "/v1/send", `{"peer":" `+known.String()+` ","protocol":"/app/echo/1.0.0","data":"AP8="}`)
	var res wire.SendResult
	decodeJSON(t, body, &res)
	if code != 200 || res.PeerID != known.String() || res.Protocol != "/app/echo/1.0.0" || string(res.Data) != "re: \x00\xff" || res.DurationMS != 2.5 {
		t.Fatalf("%d %+v", code, res)
	}
	if got.p != known || got.proto != "/app/echo/1.0.0" || string(got.data) != "\x00\xff" {
		t.Fatalf("service got %+v", got)
	}

	send := func(p peer.ID, proto string) string {
		return `{"peer":"` + p.String() + `","protocol":"` + proto + `","data":"eHh4"}`
	}
	cases := []struct {
		name, path, body string
		status           int
		code, msg        string
	}{
		{"invalid peer", "/v1/send", `{"peer":"bogus","protocol":"/app/echo/1.0.0"}`, 400, wire.CodeInvalidArgument, "invalid peer ID"},
		{"empty peer", "/v1/send", `{"protocol":"/app/echo/1.0.0"}`, 400, wire.CodeInvalidArgument, "empty peer ID"},
		{"missing protocol", "/v1/send", `{"peer":"` + known.String() + `"}`, 400, wire.CodeInvalidArgument, "missing protocol"},
		{"protocol outside the prefix", "/v1/send", send(known, "/ipfs/id/1.0.0"), 400, wire.CodeInvalidArgument, "invalid protocol"},
		{"unknown peer", "/v1/send", send(unknown, "/app/echo/1.0.0"), 404, wire.CodeNotFound, "not found in the DHT"},
		{"protocol not supported", "/v1/send", send(known, "/app/none/1.0.0"), 404, wire.CodeNotFound, "not supported"},
		{"timeout", "/v1/send?timeout=20ms", send(known, "/app/slow/1.0.0"), 408, wire.CodeTimeout, "timed out"},
		{"too large", "/v1/send", send(known, "/app/big/1.0.0"), 413, wire.CodeTooLarge, "exceeds limit"},
		{"busy", "/v1/send", send(known, "/app/busy/1.0.0"), 503, wire.CodeUnavailable, "busy"},
		{"remote handler failed", "/v1/send", send(known, "/app/fail/1.0.0"), 502, wire.CodeBadGateway, "the recipe book is closed"},
		{"bad base64", "/v1/send", `{"peer":"` + known.String() + `","protocol":"/app/echo/1.0.0","data":"%%%"}`, 400, wire.CodeInvalidArgument, "invalid JSON body"},
		{"bad JSON", "/v1/send", `{"peer":`, 400, wire.CodeInvalidArgument, "invalid JSON body"},
		{"unknown field", "/v1/send", `{"peer_id":"x"}`, 400, wire.CodeInvalidArgument, "unknown field"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := call(t, h, "POST", c.path, c.body)
			wantError(t, code, body, c.status, c.code, c.msg)
		})
	}
}

func TestHandlers(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	handled := map[protocol.ID]string{}
	f := &messagingFake{
		handlers: []messaging.HandlerInfo{
			{Protocol: "/app/go/1.0.0", Kind: messaging.KindGo, Registered: at, Handled: 3, Failed: 1},
			{Protocol: "/app/web/1.0.0", Kind: messaging.KindHTTP, URL: "http://127.0.0.1:8080/", Registered: at},
		},
		add: func(proto protocol.ID, target string) error {
			if _, err := url.Parse(target); err != nil || target == "ftp://x/" {
				return fmt.Errorf("handle %q: %w %q: scheme must be http or https", proto, messaging.ErrInvalidURL, target)
			}
			if _, ok := handled[proto]; ok {
				return fmt.Errorf("handle %q: %w", proto, messaging.ErrAlreadyHandled)
			}
			handled[proto] = target
			return nil
		},
		remove: func(proto protocol.ID) error {
			if _, ok := handled[proto]; !ok {
				return fmt.Errorf("unhandle %q: %w", proto, messaging.ErrNotHandled)
			}
			delete(handled, proto)
			return nil
		},
	}
	h := newTestAPI(t, withMessaging(f), nil)

	code, body := call(t, h, "GET", "/v1/handlers", "")
	var hs []wire.Handler
	decodeJSON(t, body, &hs)
	want := []wire.Handler{
		{Protocol: "/app/go/1.0.0", Kind: "go", Registered: at, Handled: 3, Failed: 1},
		{Protocol: "/app/web/1.0.0", Kind: "http", URL: "http://127.0.0.1:8080/", Registered: at},
	}
	if code != 200 || len(hs) != 2 || hs[0] != want[0] || hs[1] != want[1] {
		t.Fatalf("%d %+v, want %+v", code, hs, want)
	}

	code, body = call(t, h, "POST", "/v1/handlers", `{"protocol":"/app/x/1.0.0","url":"http://127.0.0.1:1/"}`)
	var added wire.HandlerRequest
	decodeJSON(t, body, &added)
	if code != 201 || added != (wire.HandlerRequest{Protocol: "/app/x/1.0.0", URL: "http://127.0.0.1:1/"}) || handled["/app/x/1.0.0"] != "http://127.0.0.1:1/" {
		t.Fatalf("add: %d %s", code, body)
	}
	code, body = call(t, h, "POST", "/v1/handlers", `{"protocol":"/app/x/1.0.0","url":"http://127.0.0.1:1/"}`)
	wantError(t, code, body, 409, wire.CodeConflict, "already handled")
	code, body = call(t, h, "POST", "/v1/handlers", `{"protocol":"/app/y/1.0.0","url":"ftp://x/"}`)
	wantError(t, code, body, 400, wire.CodeInvalidArgument, "invalid handler url")
	code, body = call(t, h, "POST", "/v1/handlers", `{"url":"http://127.0.0.1:1/"}`)
	wantError(t, code, body, 400, wire.CodeInvalidArgument, "missing protocol")

	code, body = call(t, h, "DELETE", "/v1/handlers?protocol="+url.QueryEscape("/app/x/1.0.0"), "")
	var removed wire.HandlerRequest
	decodeJSON(t, body, &removed)
	if code != 200 || removed.Protocol != "/app/x/1.0.0" || len(handled) != 0 {
		t.Fatalf("remove: %d %s", code, body)
	}
	code, body = call(t, h, "DELETE", "/v1/handlers?protocol="+url.QueryEscape("/app/x/1.0.0"), "")
	wantError(t, code, body, 404, wire.CodeNotFound, "not handled")
	code, body = call(t, h, "DELETE", "/v1/handlers", "")
	wantError(t, code, body, 400, wire.CodeInvalidArgument, "missing protocol")
}

// Every event payload messaging publishes has a wire form.
func TestMessagingEventsConvert(t *testing.T) {
	p := testPeer(t)
	cases := map[any]any{
		messaging.RequestHandled{Protocol: "/app/x", Peer: p, BytesIn: 1, BytesOut: 2, Duration: 1500 * time.Microsecond}: wire.RequestHandledEvent{
			Protocol: "/app/x", Peer: p.String(), BytesIn: 1, BytesOut: 2, DurationMS: 1.5},
		messaging.RequestFailed{Protocol: "/app/x", Peer: p, Error: "boom", Direction: messaging.DirectionOutbound}: wire.RequestFailedEvent{
			Protocol: "/app/x", Peer: p.String(), Error: "boom", Direction: "outbound"},
	}
	for in, want := range cases {
		if got := eventWire(in); got != want {
			t.Errorf("%T converts to %#v, want %#v", in, got, want)
		}
	}
	if _, ok := messagingEventWire(42); ok {
		t.Error("messagingEventWire claims an int")
	}
}

func TestMessagingStatuses(t *testing.T) {
	for err, want := range map[error]int{
		fmt.Errorf("x: %w", messaging.ErrClosed): 503,
		fmt.Errorf("x: %w", pubsub.ErrClosed):    503,
		fmt.Errorf("send: %w (%w): %w", messaging.ErrTimeout, context.DeadlineExceeded, errors.New("i/o")): 408,
		fmt.Errorf("%w: %w", messaging.ErrProtocolNotSupported, errors.New("na")):                          404,
		fmt.Errorf("%w: malformed", messaging.ErrBadRequest):                                               502,
	} {
		if got := statusOf(err); got != want {
			t.Errorf("statusOf(%v) = %d, want %d", err, got, want)
		}
	}
}
