// Package tunnel forwards local TCP services over libp2p streams, as Kubo's
// "ipfs p2p" does: one node exposes a TCP address (an SSH server, a
// database, a web app) under a protocol ID, and another node listens on a
// local host:port and carries each accepted TCP connection to it over a new
// libp2p stream.
//
//	svc.Expose("/x/ssh", "127.0.0.1:22", []peer.ID{laptop}) // on the server
//	svc.Forward("127.0.0.1:2222", server, "/x/ssh")          // on the laptop: ssh -p 2222 127.0.0.1
//
// # Protocol
//
// The package speaks exactly the protocol IDs that are exposed; each must
// start with "/x/", the convention of Kubo's "ipfs p2p", whose streams
// carry the bytes the same way. After multistream-select has agreed on the
// protocol, the stream carries the TCP connection's bytes unchanged in both
// directions, with no framing: one stream per TCP connection. Closing the write side of
// either end (TCP FIN, libp2p CloseWrite) closes the write side of the
// other, so half-closed connections work; an error on either end resets the
// other (a TCP RST for the local application). A refusal is a stream reset
// whose error code says why: network.StreamGated (the peer is not allowed),
// network.StreamResourceLimitExceeded (the tunnel is at its connection limit
// or the resource manager refused), network.StreamShutdown (the tunnel is
// closing) and [CodeTargetUnreachable] (the exposing node could not connect
// to its target).
//
// # Who may connect
//
// An exposed service accepts streams only from its allow list. With an
// empty list it falls back to the service's default policy
// ([WithDefaultAllow]; in a private network, its members), and without one
// it accepts nobody.
//
// # Limits
//
// Bytes are copied through one fixed buffer per direction, so a slow reader
// on either side slows the writer on the other (TCP and yamux flow control)
// and nothing queues without bound. Each tunnel carries at most
// [DefaultMaxConns] connections at once ([WithMaxConns]); inbound streams are
// attached to the resource manager's service [ServiceName], whose stream and
// memory limits (per peer and in total) bound what remote peers can open
// across all tunnels, and each connection reserves its two buffers in the
// stream's memory scope.
//
// # Relays and hole punching
//
// Streams may use a relayed (limited) connection when no direct one exists,
// so a tunnel works through a circuit relay; when the relay's limits (a
// duration and a byte count per direction) cut a connection, the error
// names them. Once hole punching has upgraded the connection to a direct
// one, new tunnel connections use it, like every other stream.
package tunnel
