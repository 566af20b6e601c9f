package api

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/client"
	"github.com/plexus-p2p/plexus/events"
	"github.com/plexus-p2p/plexus/node"
)

// GET /v1/version describes the daemon's binary. (A test binary records no
// module dependencies, so the go-libp2p version is checked by the e2e test.)
func TestVersion(t *testing.T) {
	h := newTestAPI(t, nil, nil)
	code, body := call(t, h, "GET", "/v1/version", "")
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var v wire.Version
	decodeJSON(t, body, &v)
	if v.Version != node.Version || v.Go != runtime.Version() || v.Platform != runtime.GOOS+"/"+runtime.GOARCH {
		t.Fatalf("version %+v", v)
	}
}

// The event stream ends, as a complete response, after node.stopping, which
// is sent whatever the ?types= filter: a client reading it to the end knows
// the daemon stopped rather than crashed. Serve, once its context ends,
// waits for such streams to finish.
func TestEventStreamEndsCleanlyWhenTheNodeStops(t *testing.T) {
	bus := events.New()
	h := newTestAPI(t, func(s *Services) { s.Node = &fakeNode{bus: bus} }, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, ln, h) }()
	t.Cleanup(func() { stop(); <-served })

	c := client.New(ln.Addr().String(), testToken)
	sctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	st, err := c.Events(sctx, "peer.")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// The stream is open once a filtered-in event arrives.
	bus.Publish("peer.connected", node.PeerEvent{Peer: testPeer(t)})
	if ev, err := st.NextEvent(); err != nil || ev.Type != "peer.connected" {
		t.Fatalf("first event %+v, %v", ev, err)
	}
	stop() // the daemon begins to stop: the API accepts no more connections...
	bus.Publish(node.EventStopping, nil)
	if ev, err := st.NextEvent(); err != nil || ev.Type != node.EventStopping {
		t.Fatalf("last event %+v, %v; want node.stopping", ev, err)
	}
	if ev, err := st.NextEvent(); !errors.Is(err, io.EOF) {
		t.Fatalf("after node.stopping: %+v, %v; want the end of the stream (io.EOF)", ev, err)
	}
	select {
	case err := <-served:
		served <- err
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(shutdownGrace):
		t.Fatal("Serve did not return after the last stream ended")
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Fatal("the API still accepts connections after Serve returned")
	}
}
