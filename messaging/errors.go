package messaging

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	msmux "github.com/multiformats/go-multistream"

	"github.com/plexus-p2p/plexus/internal/streamerr"
)

// Errors returned by Send, usable with errors.Is. They are wrapped with the
// protocol, the peer and the underlying cause.
var (
	// ErrTimeout: the request did not complete before the context's deadline
	// (or the default request timeout). It also matches context.DeadlineExceeded
	// when the context expired.
	ErrTimeout = errors.New("request timed out")
	// ErrProtocolNotSupported: the peer does not speak the protocol ID.
	ErrProtocolNotSupported = errors.New("protocol not supported by peer")
	// ErrTooLarge: the request exceeded the local limit (refused before
	// sending), the peer refused it as too large, or the response exceeded
	// the local limit or the peer's.
	ErrTooLarge = errors.New("message too large")
	// ErrBusy: the peer was already handling as many requests as it allows,
	// reset the stream (its resource manager refused it, or it is shutting
	// down), or this node's resource manager refused the stream.
	ErrBusy = errors.New("peer busy")
	// ErrBadRequest: the peer could not parse the request frame.
	ErrBadRequest = errors.New("peer rejected malformed request")
	// ErrInvalidProtocol: the protocol ID is malformed or outside the prefix.
	ErrInvalidProtocol = errors.New("invalid protocol id")
	// ErrInvalidURL: HandleHTTP was given a target that is not an http(s) URL.
	ErrInvalidURL = errors.New("invalid handler url")
	// ErrAlreadyHandled: Handle was called for a protocol that has a handler.
	ErrAlreadyHandled = errors.New("protocol already handled")
	// ErrNotHandled: Unhandle was called for a protocol without a handler.
	ErrNotHandled = errors.New("protocol not handled")
	// ErrClosed: the service was closed.
	ErrClosed = errors.New("messaging service closed")
)

// HandlerError is the error message of the remote peer's handler: it
// returned an error, panicked, timed out, or (for an HTTP handler) the local
// HTTP endpoint failed. Use errors.As to get it.
type HandlerError struct {
	// Message is the remote handler's error text, truncated to 1 KiB.
	Message string
}

func (e *HandlerError) Error() string { return "remote handler error: " + e.Message }

// classify maps a stream or dial error to the package's sentinel errors,
// keeping the cause. ctx is the request's context.
func classify(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, msmux.ErrNotSupported[protocol.ID]{}),
		strings.Contains(err.Error(), "protocols not supported"):
		return fmt.Errorf("%w: %w", ErrProtocolNotSupported, err)
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%w: %w", ErrTimeout, err)
		}
		return fmt.Errorf("%w (%w): %w", ErrTimeout, context.DeadlineExceeded, err)
	case ctx.Err() != nil:
		if errors.Is(err, ctx.Err()) {
			return err
		}
		return fmt.Errorf("%w: %w", ctx.Err(), err)
	case isTimeout(err):
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	case errors.Is(err, network.ErrResourceLimitExceeded):
		// This node's resource manager refused the stream.
		return fmt.Errorf("%w: this node is at a resource limit: %w", ErrBusy, err)
	case isReset(err):
		// The peer's resource manager refuses a stream over its limits
		// with a reset (StreamResourceLimitExceeded; issue 20 row 1); a
		// peer shutting down or shedding load resets too. The caller may
		// retry later, so this is busy, not an internal error.
		return fmt.Errorf("%w: the peer reset the stream (%s): %w", ErrBusy, resetReason(err), err)
	}
	return err
}

// resetReason names why a peer reset a stream, from its error code.
func resetReason(err error) string {
	se, _ := streamerr.Reset(err)
	if se == nil {
		return "no reason given"
	}
	switch se.ErrorCode {
	case network.StreamResourceLimitExceeded:
		return "at a resource limit"
	case network.StreamRateLimited:
		return "rate limited"
	case network.StreamProtocolNegotiationFailed:
		return "protocol negotiation failed or timed out"
	case network.StreamShutdown:
		return "shutting down"
	case network.StreamGated:
		return "this node is not allowed"
	}
	return fmt.Sprintf("code 0x%x", uint32(se.ErrorCode))
}

// isTimeout reports whether err is an I/O deadline error.
func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// isReset reports whether err is a stream reset, whichever layer reported it.
func isReset(err error) bool {
	_, ok := streamerr.Reset(err)
	return ok
}
