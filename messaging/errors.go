package messaging

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/libp2p/go-libp2p/core/protocol"
	msmux "github.com/multiformats/go-multistream"
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
	// ErrBusy: the peer was already handling as many requests as it allows.
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
	}
	return err
}

// isTimeout reports whether err is an I/O deadline error.
func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
