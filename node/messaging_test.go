package node_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/messaging"
	"github.com/plexus-p2p/plexus/node"
)

// Send, Handlers, AddHTTPHandler and RemoveHandler speak typed Go.
func TestSendAndHandlers(t *testing.T) {
	nodes := testnet.Start(t, 2, testnet.Options{})
	a, b := nodes[0], nodes[1]
	const echo = "/app/echo/1.0.0"
	err := b.Messaging().Handle(echo, func(_ context.Context, from peer.ID, req []byte) ([]byte, error) {
		return append([]byte(from.String()+": "), req...), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	res, err := a.Send(ctx, b.ID(), echo, []byte{0, 0xff})
	if err != nil {
		t.Fatal(err)
	}
	if res.Peer != b.ID() || res.Protocol != echo || string(res.Data) != a.ID().String()+": \x00\xff" || res.Duration <= 0 {
		t.Fatalf("result %+v", res)
	}
	if _, err := a.Send(ctx, a.ID(), echo, nil); !errors.Is(err, node.ErrInvalidArgument) {
		t.Errorf("send to self: %v, want ErrInvalidArgument", err)
	}
	if _, err := a.Send(ctx, b.ID(), "/app/none/1.0.0", nil); !errors.Is(err, messaging.ErrProtocolNotSupported) {
		t.Errorf("send to an unserved protocol: %v, want ErrProtocolNotSupported", err)
	}

	if err := b.AddHTTPHandler("/app/web/1.0.0", "ftp://127.0.0.1/"); !errors.Is(err, messaging.ErrInvalidURL) {
		t.Errorf("ftp handler: %v, want ErrInvalidURL", err)
	}
	if err := b.AddHTTPHandler("/app/web/1.0.0", "http://127.0.0.1:1/"); err != nil {
		t.Fatal(err)
	}
	hs := b.Handlers()
	if len(hs) != 2 || hs[0].Protocol != echo || hs[0].Handled != 1 || hs[1].Kind != messaging.KindHTTP {
		t.Fatalf("handlers %+v", hs)
	}
	if err := b.RemoveHandler("/app/web/1.0.0"); err != nil {
		t.Fatal(err)
	}
	if err := b.RemoveHandler("/app/web/1.0.0"); !errors.Is(err, messaging.ErrNotHandled) {
		t.Errorf("second remove: %v, want ErrNotHandled", err)
	}
}
