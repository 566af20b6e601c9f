package tunnel

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/plexus-p2p/plexus/internal/protoid"
)

// Errors of Expose, Forward and CloseTunnel, usable with errors.Is; they are
// wrapped with the failing input.
var (
	// ErrInvalidProtocol: the protocol ID is malformed or not under "/x/".
	ErrInvalidProtocol = errors.New("invalid tunnel protocol")
	// ErrInvalidAddress: a listen or target address is not a usable host:port.
	ErrInvalidAddress = errors.New("invalid address")
	// ErrInvalidPeer: the peer is missing or is this node itself.
	ErrInvalidPeer = errors.New("invalid peer")
	// ErrProtocolInUse: another tunnel already exposes the protocol.
	ErrProtocolInUse = errors.New("protocol already exposed")
	// ErrAddrInUse: the listen address is taken (by another tunnel or program).
	ErrAddrInUse = errors.New("address already in use")
	// ErrNotFound: no tunnel has that ID.
	ErrNotFound = errors.New("no such tunnel")
	// ErrClosed: the service was closed.
	ErrClosed = errors.New("tunnel service closed")
)

// CodeTargetUnreachable is the stream reset code with which an exposing node
// says it could not connect to its target.
const CodeTargetUnreachable network.StreamErrorCode = 0x7401

// ProtocolPrefix is the prefix every tunnel protocol ID must have.
const ProtocolPrefix = "/x/"

// CheckProtocol reports why proto cannot be a tunnel protocol ID, or nil:
// it must start with "/x/", name something after it, and be a well-formed
// protocol ID.
func CheckProtocol(proto string) error {
	if !strings.HasPrefix(proto, ProtocolPrefix) || len(proto) == len(ProtocolPrefix) {
		return fmt.Errorf("%w %q: must start with %q and name the service, for example /x/ssh", ErrInvalidProtocol, proto, ProtocolPrefix)
	}
	if err := protoid.Check(proto); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidProtocol, err)
	}
	return nil
}

// parseAddr turns a host:port or a multiaddr (/ip4|/ip6|/dns|/dns4|/dns6
// HOST /tcp PORT) into host:port. A listen address may use port 0 (any free
// port); a target may not.
func parseAddr(s string, listen bool) (string, error) {
	what := "target"
	if listen {
		what = "listen address"
	}
	orig := s
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "/") {
		parts := strings.Split(strings.TrimPrefix(s, "/"), "/")
		if len(parts) != 4 || parts[2] != "tcp" {
			return "", fmt.Errorf("%w: %s %q: want HOST:PORT or /ip4/HOST/tcp/PORT", ErrInvalidAddress, what, orig)
		}
		switch parts[0] {
		case "ip4", "ip6", "dns", "dns4", "dns6":
		default:
			return "", fmt.Errorf("%w: %s %q: want HOST:PORT or /ip4/HOST/tcp/PORT", ErrInvalidAddress, what, orig)
		}
		s = net.JoinHostPort(parts[1], parts[3])
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("%w: %s %q: want HOST:PORT, for example 127.0.0.1:2222", ErrInvalidAddress, what, orig)
	}
	if host == "" {
		return "", fmt.Errorf("%w: %s %q has no host: name one, for example 127.0.0.1%s (0.0.0.0 for every interface)", ErrInvalidAddress, what, orig, s)
	}
	n, err := strconv.Atoi(port)
	low := 1
	if listen {
		low = 0
	}
	if err != nil || n < low || n > 65535 {
		return "", fmt.Errorf("%w: %s %q: port must be a number from %d to 65535", ErrInvalidAddress, what, orig, low)
	}
	return net.JoinHostPort(host, port), nil
}
