package messaging

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	msmux "github.com/multiformats/go-multistream"
)

// Send sends req to peer p on proto and returns the response. proto must be
// under the service's prefix. If ctx has no deadline the service's request
// timeout applies. Failures are published as request.failed events.
func (s *Service) Send(ctx context.Context, p peer.ID, proto protocol.ID, req []byte) ([]byte, error) {
	if err := checkProtocol(proto, s.cfg.prefix); err != nil {
		return nil, fmt.Errorf("send to %s: %w", p, err)
	}
	if s.ctx.Err() != nil {
		return nil, fmt.Errorf("send %s to %s: %w", proto, p, ErrClosed)
	}
	resp, err := send(ctx, s.host, p, proto, req, s.cfg.maxSize, s.cfg.requestTimeout)
	if err != nil {
		s.log.Debug("outbound request failed", "protocol", proto, "peer", p, "err", err)
		s.publishFailed(proto, p, DirectionOutbound, err)
	}
	return resp, err
}

// Send sends req to peer p on proto through h and returns the response,
// without a Service. Requests and responses above maxSize bytes (0 means
// DefaultMaxMessageSize) fail with ErrTooLarge. If ctx has no deadline,
// DefaultRequestTimeout applies.
func Send(ctx context.Context, h host.Host, p peer.ID, proto protocol.ID, req []byte, maxSize int) ([]byte, error) {
	if err := checkWellFormed(string(proto)); err != nil {
		return nil, fmt.Errorf("send to %s: %w", p, err)
	}
	if maxSize <= 0 {
		maxSize = DefaultMaxMessageSize
	}
	return send(ctx, h, p, proto, req, maxSize, DefaultRequestTimeout)
}

func send(ctx context.Context, h host.Host, p peer.ID, proto protocol.ID, req []byte, maxSize int, timeout time.Duration) ([]byte, error) {
	resp, err := exchange(ctx, h, p, proto, req, maxSize, timeout)
	if err != nil {
		return nil, fmt.Errorf("send %s to %s: %w", proto, p, err)
	}
	return resp, nil
}

// exchange runs one request on a new stream.
func exchange(ctx context.Context, h host.Host, p peer.ID, proto protocol.ID, req []byte, maxSize int, timeout time.Duration) ([]byte, error) {
	if len(req) > maxSize {
		return nil, fmt.Errorf("request of %d bytes exceeds limit of %d: %w", len(req), maxSize, ErrTooLarge)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	// A protocol the peerstore lists is negotiated lazily, together with
	// the request; see notSupported.
	cached, _ := h.Peerstore().SupportsProtocols(p, proto)
	// Requests may use a relayed (limited) connection: applications must keep
	// working when no direct path exists; the relay bounds time and data.
	str, err := h.NewStream(network.WithAllowLimitedConn(ctx, "messaging"), p, proto)
	if err != nil {
		return nil, notSupported(ctx, h, p, proto, classify(ctx, err), false)
	}
	// Deadlines stop blocked I/O on real transports; the reset covers
	// cancellation and transports without deadlines (mocknet).
	stop := context.AfterFunc(ctx, func() { _ = str.Reset() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = str.SetDeadline(dl)
	}

	resp, err := roundTrip(str, req, maxSize)
	if err != nil {
		_ = str.Reset()
		var remote *remoteStatusError
		if errors.As(err, &remote) {
			return nil, remote.err
		}
		return nil, notSupported(ctx, h, p, proto, classify(ctx, err), len(cached) > 0)
	}
	_ = str.Close()
	return resp, nil
}

// notSupported returns err, marked with ErrProtocolNotSupported when the peer
// does not speak proto. With lazy negotiation (the peerstore listed proto,
// which may be stale after the peer removed its handler) the peer's "na" can
// be lost to its stream reset, so after a failure that is not a timeout or a
// peer's answer a fresh stream probes the protocol, without the request. A
// protocol found unsupported is removed from the peerstore.
func notSupported(ctx context.Context, h host.Host, p peer.ID, proto protocol.ID, err error, lazy bool) error {
	if !errors.Is(err, ErrProtocolNotSupported) {
		if !lazy || ctx.Err() != nil || errors.Is(err, ErrTimeout) || !probeUnsupported(ctx, h, p, proto) {
			return err
		}
		err = fmt.Errorf("%w: %w", ErrProtocolNotSupported, err)
	}
	_ = h.Peerstore().RemoveProtocols(p, proto)
	return err
}

// probeUnsupported reports whether p answers "na" to proto on a new stream.
func probeUnsupported(ctx context.Context, h host.Host, p peer.ID, proto protocol.ID) bool {
	str, err := h.Network().NewStream(network.WithAllowLimitedConn(ctx, "messaging"), p)
	if err != nil {
		return false
	}
	defer func() { _ = str.Reset() }()
	stop := context.AfterFunc(ctx, func() { _ = str.Reset() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = str.SetDeadline(dl)
	}
	return errors.Is(msmux.SelectProtoOrFail(proto, str), msmux.ErrNotSupported[protocol.ID]{})
}

// remoteStatusError carries an error the peer reported in its response, so
// that exchange does not reclassify it.
type remoteStatusError struct{ err error }

func (e *remoteStatusError) Error() string { return e.err.Error() }

// asyncWriteMin is the request frame size from which roundTrip writes
// concurrently with reading: a peer may answer (too large, busy) without
// reading the request, and a large write could then block on flow control.
// Smaller frames fit in any stream window and are written first.
const asyncWriteMin = 64 << 10

// roundTrip writes the request frame and reads the response frame. A
// response that arrives is used even if writing the request failed, since
// the peer may refuse a request without reading it.
func roundTrip(str network.Stream, req []byte, maxSize int) ([]byte, error) {
	frame := encodeRequest(req)
	write := func() error {
		if _, err := str.Write(frame); err != nil {
			return fmt.Errorf("write request: %w", err)
		}
		if err := str.CloseWrite(); err != nil {
			return fmt.Errorf("close request: %w", err)
		}
		return nil
	}
	var werr error
	if len(frame) < asyncWriteMin {
		werr = write()
	} else {
		done := make(chan error, 1)
		go func() { done <- write() }()
		defer func() {
			select {
			case <-done:
			default:
				// The peer answered without reading the whole request:
				// unblock the writer.
				_ = str.Reset()
				<-done
			}
		}()
	}
	st, payload, err := readResponse(str, maxSize)
	if err != nil {
		if werr != nil {
			return nil, werr
		}
		return nil, err
	}
	if st == StatusOK {
		return payload, nil
	}
	return nil, &remoteStatusError{statusError(st, payload, len(req))}
}

// readResponse reads a response's status and payload.
func readResponse(str network.Stream, maxSize int) (Status, []byte, error) {
	st, err := readStatus(str)
	if err != nil {
		return 0, nil, fmt.Errorf("read response status: %w", err)
	}
	payload, err := readFrame(str, maxSize)
	if err != nil {
		if errors.Is(err, errFrameTooLarge) {
			return 0, nil, &remoteStatusError{fmt.Errorf("response %w: %w", err, ErrTooLarge)}
		}
		return 0, nil, fmt.Errorf("read response: %w", err)
	}
	return st, payload, nil
}

// statusError is the error for a non-OK response to a request of reqLen bytes.
func statusError(st Status, payload []byte, reqLen int) error {
	msg := truncate(string(payload), maxErrorMessage)
	switch st {
	case StatusHandlerError:
		return &HandlerError{Message: msg}
	case StatusRequestTooLarge:
		return fmt.Errorf("peer refused request of %d bytes (%s): %w", reqLen, msg, ErrTooLarge)
	case StatusResponseTooLarge:
		return fmt.Errorf("peer could not send its response (%s): %w", msg, ErrTooLarge)
	case StatusBusy:
		return fmt.Errorf("%w: %s", ErrBusy, msg)
	case StatusBadRequest:
		return fmt.Errorf("%w: %s", ErrBadRequest, msg)
	default:
		return fmt.Errorf("peer answered unknown %s: %s", st, msg)
	}
}
