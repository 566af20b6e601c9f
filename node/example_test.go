package node_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/node"
)

// Start a node: an identity, a configuration, New and Start. The "local"
// profile keeps it on 127.0.0.1 (random ports, no mDNS); config.Default()
// alone listens on every interface on the fixed Plexus ports.
func Example() {
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	cfg := config.Default()
	if err := cfg.ApplyProfile("local"); err != nil {
		log.Fatal(err)
	}
	// cfg.Network.Bootstrap = []string{"/ip4/.../tcp/4101/p2p/12D3KooW..."} joins an existing network.
	ctx := context.Background()
	n, err := node.New(ctx, node.Config{Config: cfg, Identity: key,
		Logger: slog.New(slog.DiscardHandler)}) // quiet for the example
	if err != nil {
		log.Fatal(err)
	}
	defer n.Close()
	if err := n.Start(ctx); err != nil {
		log.Fatal(err)
	}

	// Addresses end in /p2p/<peer ID>, TCP first: what other nodes bootstrap from.
	for _, p := range n.Info().Addrs[0].Protocols() {
		fmt.Print(p.Name, " ")
	}
	fmt.Println()
	// Output: ip4 tcp p2p
}

// newLocalNode starts a node as Example does, joining the network of the
// given nodes (bootstrapping from them), and waits until it is ready.
func newLocalNode(bootstrap ...*node.Node) *node.Node {
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	cfg := config.Default()
	if err := cfg.ApplyProfile("local"); err != nil {
		log.Fatal(err)
	}
	for _, b := range bootstrap {
		cfg.Network.Bootstrap = append(cfg.Network.Bootstrap, b.Info().Addrs[0].String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := node.New(ctx, node.Config{Config: cfg, Identity: key, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	if err := n.Start(ctx); err != nil {
		log.Fatal(err)
	}
	if err := n.WaitReady(ctx); err != nil {
		log.Fatal(err)
	}
	return n
}

// Request/response: one node serves an application protocol with a Go
// function, another sends it a request and gets the answer.
func ExampleNode_Send() {
	server := newLocalNode()
	defer server.Close()
	client := newLocalNode(server)
	defer client.Close()

	err := server.Messaging().Handle("/app/upper/1.0.0", func(_ context.Context, _ peer.ID, req []byte) ([]byte, error) {
		return bytes.ToUpper(req), nil
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := client.Send(ctx, server.ID(), "/app/upper/1.0.0", []byte("hello"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", res.Data)
	// Output: HELLO
}

// Publish/subscribe: a subscriber on one node receives what another node
// publishes on the topic. Publish waits (at most pubsub.publish_wait, 5s)
// until the topic has a peer, so a message sent right after joining is
// not lost.
func ExampleNode_PubSub() {
	a := newLocalNode()
	defer a.Close()
	b := newLocalNode(a)
	defer b.Close()

	sub, err := b.PubSub().Subscribe("news", 0)
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.PubSub().Publish(ctx, "news", []byte("plexus 0.1 is out")); err != nil {
		log.Fatal(err)
	}
	m := <-sub.C()
	fmt.Printf("%s (from a: %t)\n", m.Data, m.From == a.ID())
	// Output: plexus 0.1 is out (from a: true)
}

// Records: a node puts a signed record under its own key on the DHT;
// any node gets it by that key, /plexus/<owner's peer ID>/<name>.
func ExampleNode_Records() {
	boot := newLocalNode()
	defer boot.Close()
	writer := newLocalNode(boot)
	defer writer.Close()
	reader := newLocalNode(boot)
	defer reader.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rec, err := writer.Records().Put(ctx, "status", []byte("cooking"), time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	got, err := reader.Records().Get(ctx, rec.Key)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %s (seq %d, owner is the writer: %t)\n", got.Name, got.Value, got.Seq, got.Owner == writer.ID())
	// Output: status: cooking (seq 1, owner is the writer: true)
}

// Typed topics: JoinTopic carries Go values (as JSON) instead of bytes.
func ExampleJoinTopic() {
	type note struct {
		Author string `json:"author"`
		Text   string `json:"text"`
	}
	a := newLocalNode()
	defer a.Close()
	b := newLocalNode(a)
	defer b.Close()

	bNotes, err := node.JoinTopic[note](b, "notes")
	if err != nil {
		log.Fatal(err)
	}
	sub, err := bNotes.Subscribe()
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	aNotes, err := node.JoinTopic[note](a, "notes")
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := aNotes.Publish(ctx, note{Author: "ada", Text: "buy flour"}); err != nil {
		log.Fatal(err)
	}
	got, err := sub.Next(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %s\n", got.Value.Author, got.Value.Text)
	// Output: ada: buy flour
}

// Typed request/response: Handle decodes requests into a Go type and
// encodes the answer; Request does the reverse on the caller's side.
func ExampleRequest() {
	type sum struct{ A, B int }
	server := newLocalNode()
	defer server.Close()
	client := newLocalNode(server)
	defer client.Close()

	err := node.Handle(server, "/app/sum/1.0.0", func(_ context.Context, _ peer.ID, s sum) (int, error) {
		return s.A + s.B, nil
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	total, err := node.Request[sum, int](ctx, client, server.ID(), "/app/sum/1.0.0", sum{A: 2, B: 3})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(total)
	// Output: 5
}

// A node on a repo directory keeps its identity, its known peers and the
// application's data (in its datastore) across restarts.
func ExampleOpenRepo() {
	dir, err := os.MkdirTemp("", "plexus-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	open := func() *node.Node {
		n, err := node.OpenRepo(context.Background(), node.RepoOptions{Path: dir, Profile: "local",
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			log.Fatal(err)
		}
		return n
	}

	first := open()
	id := first.ID()
	if _, err := node.OpenRepo(context.Background(), node.RepoOptions{Path: dir}); err != nil {
		fmt.Println("a second open is refused while the first runs")
	}
	first.Close()
	again := open()
	defer again.Close()
	fmt.Println("same peer after a restart:", again.ID() == id)
	// Output:
	// a second open is refused while the first runs
	// same peer after a restart: true
}
