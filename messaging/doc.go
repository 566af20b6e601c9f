// Package messaging provides direct request/response exchanges between two
// peers over libp2p streams, for any application protocol.
//
// An application picks a protocol ID under the service's prefix (default
// "/app/", for example "/app/recipes/1.0.0"), registers a handler for it with
// [Service.Handle] (a Go function) or [Service.HandleHTTP] (a local HTTP
// endpoint, so programs in other languages can answer), and peers call it
// with [Service.Send] or the service-free [Send]. Each request uses one new
// libp2p stream, negotiated with multistream-select on the application's
// protocol ID; it carries one request and one response.
//
// The service speaks no protocol of its own: it speaks exactly the protocol
// IDs that are registered, and removes their stream handlers on
// [Service.Close]. Inbound handling is bounded (by default at most 256
// requests at once, 8 of them from one peer, each at most 1 MiB and received
// within 5 s), so a few remote peers cannot hold every slot or make the node
// allocate without bound. A request's buffer grows as its bytes arrive (never
// more than 64 KiB ahead of them, or twice what arrived) and its memory is
// reserved in the stream's resource manager scope, so the libp2p resource
// manager bounds it too. Errors a caller sees can be told apart with
// errors.Is and errors.As: [ErrTimeout], [ErrProtocolNotSupported],
// [ErrTooLarge], [ErrBusy] and [*HandlerError].
//
// # Wire format
//
// After multistream-select has agreed on the protocol ID, the stream carries:
//
//	request  = uvarint(n) payload[n]                    ; then the client closes its write side
//	response = status(1 byte) uvarint(n) payload[n]     ; then the server closes the stream
//
// uvarint is the unsigned LEB128 varint of encoding/binary (at most 10
// bytes). n never exceeds the reader's maximum message size (default 1 MiB).
// The status byte is one of the [Status] constants: 0 ok, 1 handler error,
// 2 request too large, 3 response too large, 4 busy, 5 bad request. For
// every status other than ok the payload is a UTF-8 error message of at
// most 1 KiB.
//
// A server that reads a request length above its limit answers "request too
// large" at once, without reading the payload, and closes the stream; a
// server already handling its maximum number of requests (in all, or of
// that peer) answers "busy" without reading the request, and so does one
// whose resource manager refuses the memory of the request as it arrives.
// A request not received whole within the read timeout is reset. A client that reads a response length above
// its limit resets the stream. On an I/O error, a timeout or a malformed
// frame either side resets the stream. A client writes a request of 64 KiB
// or more while reading the response, so that an early answer is not stuck
// behind flow control.
package messaging
