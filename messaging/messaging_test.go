package messaging_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/messaging"
)

const recipes = "/app/recipes/1.0.0"

func TestRoundTrip(t *testing.T) {
	hs := testnet.Mocknet(t, 2)
	server, client := newService(t, hs[0]), newService(t, hs[1])
	handle(t, server, recipes, func(_ context.Context, from peer.ID, req []byte) ([]byte, error) {
		return fmt.Appendf(nil, "%s asked for %s", from, req), nil
	})

	cases := []struct {
		name string
		send func(req []byte) ([]byte, error)
	}{
		{"service", func(req []byte) ([]byte, error) {
			return client.Send(t.Context(), hs[0].ID(), recipes, req)
		}},
		{"free function", func(req []byte) ([]byte, error) {
			return messaging.Send(t.Context(), hs[1], hs[0].ID(), recipes, req, 0)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, req := range []string{"pancakes", ""} {
				resp, err := tc.send([]byte(req))
				if err != nil {
					t.Fatalf("send %q: %v", req, err)
				}
				if want := fmt.Sprintf("%s asked for %s", hs[1].ID(), req); string(resp) != want {
					t.Fatalf("response %q, want %q", resp, want)
				}
			}
		})
	}
	waitCounters(t, server, recipes, 4, 0)
	if hi := handlerInfo(t, server, recipes); hi.Kind != messaging.KindGo || hi.URL != "" || hi.Registered.IsZero() {
		t.Fatalf("handler info %+v", hi)
	}
}

func TestConcurrentPeers(t *testing.T) {
	const clients, perClient = 10, 20
	hs := testnet.Mocknet(t, clients+1)
	// Every request of a client may be in flight at once: this test is about
	// answers reaching the right caller; TestPerPeerLimit covers the limit.
	server := newService(t, hs[0], messaging.WithMaxPerPeer(perClient))
	handle(t, server, recipes, func(_ context.Context, from peer.ID, req []byte) ([]byte, error) {
		return append([]byte(from.String()+":"), req...), nil
	})

	var wg sync.WaitGroup
	errs := make(chan error, clients*perClient)
	for c := 1; c <= clients; c++ {
		cs := newService(t, hs[c])
		for i := range perClient {
			wg.Go(func() {
				req := fmt.Appendf(nil, "client %d request %d", c, i)
				resp, err := cs.Send(t.Context(), hs[0].ID(), recipes, req)
				if err != nil {
					errs <- err
					return
				}
				if want := hs[c].ID().String() + ":" + string(req); string(resp) != want {
					errs <- fmt.Errorf("response %q, want %q", resp, want)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	waitCounters(t, server, recipes, clients*perClient, 0)
}

// waitForCtx is a handler that answers only when its context ends.
func waitForCtx(ctx context.Context, _ peer.ID, _ []byte) ([]byte, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestTimeout(t *testing.T) {
	hs := testnet.Mocknet(t, 2)
	server := newService(t, hs[0])
	events := newRecorder()
	client := newService(t, hs[1], messaging.WithRequestTimeout(100*time.Millisecond), messaging.WithPublisher(events))
	handle(t, server, recipes, waitForCtx)

	t.Run("context deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		_, err := client.Send(ctx, hs[0].ID(), recipes, []byte("slow"))
		if !errors.Is(err, messaging.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want ErrTimeout and context.DeadlineExceeded", err)
		}
		ev := events.next(t, messaging.EventRequestFailed).(messaging.RequestFailed)
		if ev.Direction != messaging.DirectionOutbound || ev.Protocol != recipes || ev.Peer != hs[0].ID() {
			t.Fatalf("event %+v", ev)
		}
	})
	t.Run("default request timeout", func(t *testing.T) {
		_, err := client.Send(context.Background(), hs[0].ID(), recipes, []byte("slow"))
		if !errors.Is(err, messaging.ErrTimeout) {
			t.Fatalf("err = %v, want ErrTimeout", err)
		}
	})
	t.Run("free function", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		_, err := messaging.Send(ctx, hs[1], hs[0].ID(), recipes, []byte("slow"), 0)
		if !errors.Is(err, messaging.ErrTimeout) {
			t.Fatalf("err = %v, want ErrTimeout", err)
		}
	})
	t.Run("cancelled is not a timeout", func(t *testing.T) {
		// The free function with no deadline in ctx waits for the default
		// request timeout (seconds), so only the cancel can end it, however
		// late the timer fires on a busy machine.
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(50*time.Millisecond, cancel)
		_, err := messaging.Send(ctx, hs[1], hs[0].ID(), recipes, []byte("slow"), 0)
		if !errors.Is(err, context.Canceled) || errors.Is(err, messaging.ErrTimeout) {
			t.Fatalf("err = %v, want context.Canceled and not ErrTimeout", err)
		}
	})
}

func TestHandlerTimeoutIsHandlerError(t *testing.T) {
	hs := testnet.Mocknet(t, 2)
	server := newService(t, hs[0], messaging.WithHandlerTimeout(50*time.Millisecond))
	handle(t, server, recipes, waitForCtx)
	_, err := newService(t, hs[1]).Send(t.Context(), hs[0].ID(), recipes, nil)
	var he *messaging.HandlerError
	if !errors.As(err, &he) || !strings.Contains(he.Message, "timed out") {
		t.Fatalf("err = %v, want HandlerError saying the handler timed out", err)
	}
}

func TestProtocolNotSupported(t *testing.T) {
	hs := testnet.Mocknet(t, 2)
	server, client := newService(t, hs[0]), newService(t, hs[1])

	_, err := client.Send(t.Context(), hs[0].ID(), "/app/unknown/1.0.0", []byte("x"))
	if !errors.Is(err, messaging.ErrProtocolNotSupported) {
		t.Fatalf("err = %v, want ErrProtocolNotSupported", err)
	}
	if !strings.Contains(err.Error(), "/app/unknown/1.0.0") {
		t.Fatalf("error %q does not name the protocol", err)
	}

	// A protocol the client saw the peer support, then removed.
	handle(t, server, recipes, echo)
	if _, err := client.Send(t.Context(), hs[0].ID(), recipes, []byte("x")); err != nil {
		t.Fatalf("send before Unhandle: %v", err)
	}
	if err := server.Unhandle(recipes); err != nil {
		t.Fatalf("Unhandle: %v", err)
	}
	if err := server.Unhandle(recipes); !errors.Is(err, messaging.ErrNotHandled) {
		t.Fatalf("second Unhandle: %v, want ErrNotHandled", err)
	}
	if len(server.Handlers()) != 0 {
		t.Fatalf("handlers after Unhandle: %+v", server.Handlers())
	}
	for range 3 {
		_, err = client.Send(t.Context(), hs[0].ID(), recipes, []byte("x"))
		if !errors.Is(err, messaging.ErrProtocolNotSupported) {
			t.Fatalf("after Unhandle: err = %v, want ErrProtocolNotSupported", err)
		}
	}
}

func TestHandlerError(t *testing.T) {
	hs := testnet.Mocknet(t, 2)
	events := newRecorder()
	server := newService(t, hs[0], messaging.WithPublisher(events))
	handle(t, server, recipes, func(context.Context, peer.ID, []byte) ([]byte, error) {
		return nil, errors.New("no recipe named borscht")
	})
	_, err := newService(t, hs[1]).Send(t.Context(), hs[0].ID(), recipes, []byte("borscht"))
	var he *messaging.HandlerError
	if !errors.As(err, &he) || he.Message != "no recipe named borscht" {
		t.Fatalf("err = %v, want HandlerError with the handler's message", err)
	}
	ev := events.next(t, messaging.EventRequestFailed).(messaging.RequestFailed)
	if ev.Direction != messaging.DirectionInbound || ev.Peer != hs[1].ID() || !strings.Contains(ev.Error, "borscht") {
		t.Fatalf("event %+v", ev)
	}
	waitCounters(t, server, recipes, 0, 1)
}

func TestHandlerPanic(t *testing.T) {
	hs := testnet.Mocknet(t, 2)
	server, client := newService(t, hs[0]), newService(t, hs[1])
	handle(t, server, recipes, func(_ context.Context, _ peer.ID, req []byte) ([]byte, error) {
		if string(req) == "boom" {
			panic("kitchen on fire")
		}
		return req, nil
	})
	_, err := client.Send(t.Context(), hs[0].ID(), recipes, []byte("boom"))
	var he *messaging.HandlerError
	if !errors.As(err, &he) || !strings.Contains(he.Message, "kitchen on fire") {
		t.Fatalf("err = %v, want HandlerError carrying the panic", err)
	}
	resp, err := client.Send(t.Context(), hs[0].ID(), recipes, []byte("still alive"))
	if err != nil || string(resp) != "still alive" {
		t.Fatalf("after panic: %q, %v", resp, err)
	}
}

func TestHandledEvent(t *testing.T) {
	hs := testnet.Mocknet(t, 2)
	events := newRecorder()
	server := newService(t, hs[0], messaging.WithPublisher(events))
	handle(t, server, recipes, func(context.Context, peer.ID, []byte) ([]byte, error) {
		return bytes.Repeat([]byte("x"), 10), nil
	})
	if _, err := newService(t, hs[1]).Send(t.Context(), hs[0].ID(), recipes, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	ev := events.next(t, messaging.EventRequestHandled).(messaging.RequestHandled)
	if ev.Protocol != recipes || ev.Peer != hs[1].ID() || ev.BytesIn != 3 || ev.BytesOut != 10 || ev.Duration < 0 {
		t.Fatalf("event %+v", ev)
	}
}

func TestInvalidProtocols(t *testing.T) {
	hs := testnet.Mocknet(t, 2)
	s := newService(t, hs[0])
	for _, p := range []string{"/other/x/1.0.0", "/app/", "/app", "app/x", "/app/a b", "/app//x", "/app/x/", "/app/\u00e9", ""} {
		err := s.Handle(protoID(p), echo)
		if !errors.Is(err, messaging.ErrInvalidProtocol) || !strings.Contains(err.Error(), fmt.Sprintf("%q", p)) {
			t.Errorf("Handle(%q) = %v, want ErrInvalidProtocol naming it", p, err)
		}
		if _, err := s.Send(t.Context(), hs[1].ID(), protoID(p), nil); !errors.Is(err, messaging.ErrInvalidProtocol) {
			t.Errorf("Send(%q) = %v, want ErrInvalidProtocol", p, err)
		}
	}
	if err := s.HandleHTTP("/app/x", "ftp://127.0.0.1/x"); err == nil || !strings.Contains(err.Error(), "ftp://127.0.0.1/x") {
		t.Errorf("HandleHTTP with ftp url = %v, want error naming it", err)
	}
	if err := s.HandleHTTP("/app/x", "127.0.0.1:8080"); err == nil {
		t.Errorf("HandleHTTP with url without scheme succeeded")
	}

	handle(t, s, "/app/x", echo)
	if err := s.Handle("/app/x", echo); !errors.Is(err, messaging.ErrAlreadyHandled) {
		t.Errorf("second Handle = %v, want ErrAlreadyHandled", err)
	}

	custom := newService(t, hs[1], messaging.WithPrefix("/recipes/"))
	if err := custom.Handle("/recipes/soup/1.0.0", echo); err != nil {
		t.Errorf("Handle under custom prefix: %v", err)
	}
	if err := custom.Handle(recipes, echo); !errors.Is(err, messaging.ErrInvalidProtocol) {
		t.Errorf("Handle outside custom prefix = %v, want ErrInvalidProtocol", err)
	}
	for _, opt := range []messaging.Option{
		messaging.WithPrefix("/"), messaging.WithPrefix("/app"), messaging.WithMaxMessageSize(0),
		messaging.WithRequestTimeout(0), messaging.WithHandlerTimeout(-time.Second), messaging.WithMaxConcurrent(0),
	} {
		if _, err := messaging.New(hs[0], opt); err == nil {
			t.Errorf("New accepted an invalid option")
		}
	}
}

func TestClose(t *testing.T) {
	hs := testnet.Mocknet(t, 2)
	server := newService(t, hs[0])
	client := newService(t, hs[1])
	entered := make(chan struct{})
	handle(t, server, recipes, func(ctx context.Context, _ peer.ID, _ []byte) ([]byte, error) {
		close(entered)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	errc := make(chan error, 1)
	go func() {
		_, err := client.Send(t.Context(), hs[0].ID(), recipes, nil)
		errc <- err
	}()
	<-entered
	if err := server.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := server.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	var he *messaging.HandlerError
	if err := <-errc; !errors.As(err, &he) {
		t.Fatalf("in-flight request: %v, want HandlerError", err)
	}
	if _, err := client.Send(t.Context(), hs[0].ID(), recipes, nil); !errors.Is(err, messaging.ErrProtocolNotSupported) {
		t.Fatalf("after Close: %v, want ErrProtocolNotSupported", err)
	}
	if err := server.Handle(recipes, echo); !errors.Is(err, messaging.ErrClosed) {
		t.Fatalf("Handle after Close: %v, want ErrClosed", err)
	}
	if _, err := server.Send(t.Context(), hs[1].ID(), recipes, nil); !errors.Is(err, messaging.ErrClosed) {
		t.Fatalf("Send after Close: %v, want ErrClosed", err)
	}
}
