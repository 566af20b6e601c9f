package messaging_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/plexus-p2p/plexus/messaging"
)

// TestLoopback runs the main paths over real TCP hosts, where stream
// deadlines, yamux flow control and lazy protocol negotiation apply.
func TestLoopback(t *testing.T) {
	hs, hc := loopbackPair(t)
	server := newService(t, hs, messaging.WithMaxMessageSize(1024))
	client := newService(t, hc)
	handle(t, server, recipes, echo)
	handle(t, server, "/app/slow", waitForCtx)

	resp, err := client.Send(t.Context(), hs.ID(), recipes, []byte("soup"))
	if err != nil || string(resp) != "soup" {
		t.Fatalf("roundtrip: %q, %v", resp, err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := client.Send(ctx, hs.ID(), "/app/slow", nil); !errors.Is(err, messaging.ErrTimeout) {
		t.Fatalf("slow handler: %v, want ErrTimeout", err)
	}

	// Larger than the stream window: the server refuses it without reading.
	if _, err := client.Send(t.Context(), hs.ID(), recipes, make([]byte, 1<<20)); !errors.Is(err, messaging.ErrTooLarge) {
		t.Fatalf("1 MiB request: %v, want ErrTooLarge", err)
	}

	// A stale peerstore entry makes the client negotiate lazily, together
	// with the request.
	if err := server.Unhandle(recipes); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := hc.Peerstore().AddProtocols(hs.ID(), recipes); err != nil {
			t.Fatal(err)
		}
		if _, err := client.Send(t.Context(), hs.ID(), recipes, []byte("soup")); !errors.Is(err, messaging.ErrProtocolNotSupported) {
			t.Fatalf("after Unhandle: %v, want ErrProtocolNotSupported", err)
		}
	}
}
