// Package testnet is the one test harness of Plexus: every package's tests
// and benchmarks build their networks and wait for conditions with it.
//
//   - Eventually polls a condition until it holds or fails the test.
//   - Mocknet and NewNet build in-memory networks (go-libp2p's p2p/net/mock)
//     for protocol logic at scale: hundreds of hosts, no sockets.
//   - Host builds a real libp2p host on 127.0.0.1 port 0, for the paths
//     where real transports matter (stream deadlines, yamux, QUIC).
//   - Start and StartNode run complete Plexus nodes on loopback.
//   - VerifyNoLeaks is the goroutine-leak check of a package's TestMain.
//
// Everything a helper creates is closed in tb.Cleanup.
//
// testnet imports node, and so every capability package node assembles:
// tests that use it must be external test packages (package x_test) of
// those packages; an internal test (package x) importing it would be an
// import cycle.
package testnet
