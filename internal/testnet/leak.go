package testnet

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// VerifyNoLeaks runs the tests of m and then fails the run if goroutines
// other than the known background ones of our dependencies are still
// running: a Plexus service that does not stop what it started fails here.
// Use it as the whole TestMain (after any setup):
//
//	func TestMain(m *testing.M) { testnet.VerifyNoLeaks(m) }
//
// Goroutines get a few seconds to wind down after the last test, since
// closing a host or a service cancels work that ends asynchronously.
func VerifyNoLeaks(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := findLeaks(leakGrace); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: goroutines still running after the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// leakGrace is how long VerifyNoLeaks waits for goroutines to end.
const leakGrace = 5 * time.Second

func findLeaks(grace time.Duration) error {
	deadline := time.Now().Add(grace)
	for {
		err := goleak.Find(knownBackground...)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// knownBackground are the goroutines of dependencies that outlive every
// Close by design. Each entry says why it is not ours to stop.
var knownBackground = []goleak.Option{
	// go-libp2p-pubsub's DefaultGossipSubRouter creates an in-memory address
	// book whose goroutine stops only once the router is attached to a
	// running PubSub and that ends; when NewGossipSub refuses its options
	// (pubsub's TestOptionsAreValidated), nothing can stop it. A host left
	// open still shows up: identify, its address manager and its peerstore
	// manager keep running.
	goleak.IgnoreTopFunction("github.com/libp2p/go-libp2p/p2p/host/peerstore/pstoremem.(*memoryAddrBook).background"),
	// mocknet (v0.51 p2p/net/mock/mock_conn.go) adds a stream to its conn
	// without checking that the conn was torn down: a stream the remote
	// side opens while the network closes is never reset, so its pipe
	// goroutine and the handler reading it (kad-dht's, say) stay blocked.
	// Only in-memory test networks do this; real hosts are still checked.
	goleak.IgnoreAnyFunction("github.com/libp2p/go-libp2p/p2p/net/mock.(*stream).transport"),
	goleak.IgnoreAnyFunction("github.com/libp2p/go-libp2p/p2p/net/mock.(*stream).Read"),
	// go-flow-metrics (under the node's bandwidth counter) updates every
	// meter of the process from one package-wide sweeper goroutine, which
	// sleeps only once every meter has been idle for about 30 seconds
	// (sweeper.go): nothing can stop it.
	goleak.IgnoreAnyFunction("github.com/libp2p/go-flow-metrics.(*sweeper).run"),
}
