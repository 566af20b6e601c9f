package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/plexus-p2p/plexus/acl"
	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/auth"
	"github.com/plexus-p2p/plexus/discovery"
	"github.com/plexus-p2p/plexus/messaging"
	"github.com/plexus-p2p/plexus/node"
	"github.com/plexus-p2p/plexus/perf"
	"github.com/plexus-p2p/plexus/pubsub"
	"github.com/plexus-p2p/plexus/records"
	"github.com/plexus-p2p/plexus/routing"
	"github.com/plexus-p2p/plexus/tunnel"
)

// statusTable maps error classes to HTTP statuses; the first match wins, so
// a timeout answers 408 even when it is also wrapped as "unreachable".
var statusTable = []struct {
	err  error
	code int
}{
	// A private node's failed handshake often ends in a timeout: the cause
	// it names first.
	{node.ErrPrivateNetwork, http.StatusForbidden},
	// Timeouts and the API's own input checks.
	{context.DeadlineExceeded, http.StatusRequestTimeout},
	{errInvalid, http.StatusBadRequest},
	// node
	{node.ErrInvalidArgument, http.StatusBadRequest},
	{node.ErrNotFound, http.StatusNotFound},
	{node.ErrUnreachable, http.StatusNotFound},
	{node.ErrClosed, http.StatusServiceUnavailable},
	// acl
	{acl.ErrInvalidPeer, http.StatusBadRequest},
	{acl.ErrNotListed, http.StatusNotFound},
	{acl.ErrDenied, http.StatusForbidden},
	{acl.ErrNotAllowed, http.StatusForbidden},
	// records
	{records.ErrNotFound, http.StatusNotFound},
	{records.ErrValueTooLarge, http.StatusRequestEntityTooLarge},
	{records.ErrInvalidKey, http.StatusBadRequest},
	{records.ErrUnknownNamespace, http.StatusBadRequest},
	{records.ErrInvalidName, http.StatusBadRequest},
	{records.ErrInvalidRecord, http.StatusBadRequest},
	{records.ErrBadSignature, http.StatusBadRequest},
	{records.ErrNotOwner, http.StatusForbidden},
	{records.ErrExpired, http.StatusBadRequest},
	{records.ErrInvalidProvideKey, http.StatusBadRequest},
	{records.ErrInvalidTTL, http.StatusBadRequest},
	// discovery
	{discovery.ErrInvalidTopic, http.StatusBadRequest},
	{discovery.ErrAlreadyJoined, http.StatusConflict},
	{discovery.ErrNotJoined, http.StatusNotFound},
	{discovery.ErrClosed, http.StatusServiceUnavailable},
	// routing
	{routing.ErrInvalidKey, http.StatusBadRequest},
	{routing.ErrNotFound, http.StatusNotFound},
	// pubsub
	{pubsub.ErrInvalidTopic, http.StatusBadRequest},
	{pubsub.ErrTooLarge, http.StatusRequestEntityTooLarge},
	{pubsub.ErrNotJoined, http.StatusNotFound},
	{pubsub.ErrClosed, http.StatusServiceUnavailable},
	// messaging
	{messaging.ErrInvalidProtocol, http.StatusBadRequest},
	{messaging.ErrInvalidURL, http.StatusBadRequest},
	{messaging.ErrTooLarge, http.StatusRequestEntityTooLarge},
	{messaging.ErrProtocolNotSupported, http.StatusNotFound},
	{messaging.ErrNotHandled, http.StatusNotFound},
	{messaging.ErrAlreadyHandled, http.StatusConflict},
	{messaging.ErrTimeout, http.StatusRequestTimeout},
	{messaging.ErrBusy, http.StatusServiceUnavailable},
	{messaging.ErrBadRequest, http.StatusBadGateway},
	{messaging.ErrClosed, http.StatusServiceUnavailable},
	// perf (issue 20 row 6)
	{perf.ErrNotServed, http.StatusNotFound},
	{perf.ErrRefused, http.StatusForbidden},
	// auth
	{auth.ErrInvalidName, http.StatusBadRequest},
	{auth.ErrInvalidPassword, http.StatusBadRequest},
	{auth.ErrInvalidRole, http.StatusBadRequest},
	{auth.ErrInvalidTTL, http.StatusBadRequest},
	{auth.ErrInvalidLabel, http.StatusBadRequest},
	{auth.ErrUserExists, http.StatusConflict},
	{auth.ErrLimit, http.StatusConflict},
	{auth.ErrNoUser, http.StatusNotFound},
	{auth.ErrNoToken, http.StatusNotFound},
	{auth.ErrBadCredentials, http.StatusUnauthorized},
	{auth.ErrUnauthenticated, http.StatusUnauthorized},
	{auth.ErrRoleTooHigh, http.StatusForbidden},
	{auth.ErrRateLimited, http.StatusTooManyRequests},
	// tunnel
	{tunnel.ErrInvalidProtocol, http.StatusBadRequest},
	{tunnel.ErrInvalidAddress, http.StatusBadRequest},
	{tunnel.ErrInvalidPeer, http.StatusBadRequest},
	{tunnel.ErrProtocolInUse, http.StatusConflict},
	{tunnel.ErrAddrInUse, http.StatusConflict},
	{tunnel.ErrNotFound, http.StatusNotFound},
	{tunnel.ErrClosed, http.StatusServiceUnavailable},
}

// statusOf returns the HTTP status for err: 500 when no class matches.
func statusOf(err error) int {
	var he *messaging.HandlerError
	if errors.As(err, &he) {
		return http.StatusBadGateway // the remote application's handler failed
	}
	for _, e := range statusTable {
		if errors.Is(err, e.err) {
			return e.code
		}
	}
	return http.StatusInternalServerError
}

// codeOf names the class of an HTTP error status for programs (wire.Error.Code).
func codeOf(status int) string {
	switch status {
	case http.StatusBadRequest:
		return wire.CodeInvalidArgument
	case http.StatusUnauthorized:
		return wire.CodeUnauthorized
	case http.StatusForbidden:
		return wire.CodeForbidden
	case http.StatusNotFound:
		return wire.CodeNotFound
	case http.StatusRequestTimeout:
		return wire.CodeTimeout
	case http.StatusConflict:
		return wire.CodeConflict
	case http.StatusRequestEntityTooLarge:
		return wire.CodeTooLarge
	case http.StatusNotImplemented:
		return wire.CodeNotImplemented
	case http.StatusBadGateway:
		return wire.CodeBadGateway
	case http.StatusServiceUnavailable:
		return wire.CodeUnavailable
	case http.StatusTooManyRequests:
		return wire.CodeRateLimited
	}
	return wire.CodeInternal
}
