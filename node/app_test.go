package node_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/messaging"
	"github.com/plexus-p2p/plexus/node"
	"github.com/plexus-p2p/plexus/pubsub"
)

// OpenRepo refuses what cannot work, naming it, and leaves the repo usable.
func TestOpenRepoBadInput(t *testing.T) {
	dir := t.TempDir()
	otherID, err := peer.IDFromPrivateKey(testnet.NewKey(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		o    node.RepoOptions
		want string
	}{
		{"no path", node.RepoOptions{}, "repo path is empty"},
		{"unknown profile", node.RepoOptions{Path: dir, Profile: "lan"}, `unknown profile "lan"`},
		{"bootstrap without peer ID", node.RepoOptions{Path: dir, Profile: "local", Bootstrap: []string{"/ip4/127.0.0.1/tcp/1"}}, "network.bootstrap"},
		{"malformed bootstrap", node.RepoOptions{Path: dir, Profile: "local", Bootstrap: []string{"127.0.0.1:1/p2p/" + otherID.String()}}, "invalid multiaddr"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := node.OpenRepo(t.Context(), c.o)
			if !errors.Is(err, node.ErrInvalidArgument) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want ErrInvalidArgument naming %q", err, c.want)
			}
		})
	}
	// The failed opens released the lock.
	n, err := node.OpenRepo(t.Context(), node.RepoOptions{Path: dir, Profile: "local", Logger: testnet.Quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	// The profile is applied, not written into the repo's config.
	cfg, err := config.Repo{Path: dir}.Config()
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Discovery.MDNS || n.Config().Discovery.MDNS {
		t.Fatalf("mDNS in the file %t (want the default, true), in the node %t (want local's, false)", cfg.Discovery.MDNS, n.Config().Discovery.MDNS)
	}
}

// WaitReady returns once the routing table has a peer, the context's error
// while no bootstrap peer answers, and ErrClosed after Close.
func TestWaitReady(t *testing.T) {
	nodes := testnet.Start(t, 2, testnet.Options{})
	if err := nodes[1].WaitReady(t.Context()); err != nil || nodes[1].Routing().Size() == 0 {
		t.Fatalf("WaitReady: %v with %d routing-table peers", err, nodes[1].Routing().Size())
	}
	if err := nodes[0].WaitReady(t.Context()); err != nil {
		t.Fatalf("a node without bootstrap peers: %v", err)
	}

	// A bootstrap peer that never answers: its ID is nobody's, its port closed.
	otherID, err := peer.IDFromPrivateKey(testnet.NewKey(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg := node.Config{Config: testnet.LocalConfig(), Identity: testnet.NewKey(t), Logger: testnet.Quiet}
	cfg.Network.Bootstrap = []string{"/ip4/127.0.0.1/tcp/1/p2p/" + otherID.String()}
	lonely := testnet.StartNode(t, cfg)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if err := lonely.WaitReady(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("unreachable bootstrap peer: %v, want the context's deadline", err)
	}
	lonely.Close()
	if err := lonely.WaitReady(t.Context()); !errors.Is(err, node.ErrClosed) {
		t.Fatalf("after Close: %v, want ErrClosed", err)
	}
}

// A typed handler answers a request that is not JSON of its type with an
// error naming the type; the caller sees a *messaging.HandlerError.
func TestHandleRefusesUndecodableRequests(t *testing.T) {
	nodes := testnet.Start(t, 2, testnet.Options{})
	type sum struct{ A, B int }
	server, client := nodes[0], nodes[1] // the client knows the server's address
	err := node.Handle(server, "/app/sum/1.0.0", func(_ context.Context, _ peer.ID, s sum) (int, error) {
		return s.A + s.B, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	_, err = client.Send(ctx, server.ID(), "/app/sum/1.0.0", []byte("2+3"))
	var he *messaging.HandlerError
	if !errors.As(err, &he) || !strings.Contains(he.Message, "decode request as node_test.sum") {
		t.Fatalf("got %v, want a handler error naming the request type", err)
	}
	// A JSON answer of the wrong type is refused by Request, naming the type.
	if _, err := node.Request[sum, string](ctx, client, server.ID(), "/app/sum/1.0.0", sum{1, 2}); err == nil ||
		!strings.Contains(err.Error(), "decode answer as string") {
		t.Fatalf("got %v, want a decoding error naming string", err)
	}
}

// A typed subscription skips messages that are not JSON of its type and
// counts them.
func TestTopicSubscriptionSkipsInvalidMessages(t *testing.T) {
	n := testnet.Start(t, 1, testnet.Options{Mutate: func(_ int, c *node.Config) { c.PubSub.PublishWait = 0 }})[0]
	type note struct{ Text string }
	topic, err := node.JoinTopic[note](n, "notes")
	if err != nil {
		t.Fatal(err)
	}
	sub, err := topic.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := n.PubSub().Publish(ctx, "notes", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	if _, err := topic.Publish(ctx, note{Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	got, err := sub.Next(ctx)
	if err != nil || got.Value.Text != "hi" || got.From != n.ID() || sub.Invalid() != 1 {
		t.Fatalf("got %+v, %v with %d invalid, want the note and 1 invalid", got, err, sub.Invalid())
	}
	sub.Close()
	if _, err := sub.Next(ctx); !errors.Is(err, pubsub.ErrClosed) {
		t.Fatalf("after Close: %v, want pubsub.ErrClosed", err)
	}
}
