package node

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// checkPortsFree fails, naming the address, when another process already
// listens on the port of one of the listen addresses.
//
// go-libp2p's TCP transport listens with SO_REUSEPORT, so that hole
// punching and the NAT's port mapping see outgoing connections leave from
// the listen port (p2p/net/reuseport; LIBP2P_TCP_REUSEPORT=false turns it
// off, and hole punching with it). Linux then lets a second process that
// also sets SO_REUSEPORT bind the same port: two nodes both say ready while
// the kernel spreads inbound connections between them, so dials reach the
// wrong peer ("peer id mismatch") and then back off. Other transports bind
// plainly and fail, but the swarm only logs a failed listen address while
// another one works. A plain bind, without SO_REUSEPORT, fails with
// EADDRINUSE whenever anyone listens on the port, for TCP and UDP alike:
// each address is probed that way and the probe closed at once, before the
// host binds (with SO_REUSEPORT, so the node still dials from its own
// port). Port 0 needs no probe; an address that is not IP, or a probe that
// fails for another reason (no IPv6, a privileged port), is left to the
// host to report as before.
func checkPortsFree(listen []string) error {
	probed := map[string]bool{}
	var errs []error
	for _, s := range listen {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			continue // the config was validated; the host reports it
		}
		if c, _ := ma.SplitFirst(a); c == nil || (c.Protocol().Code != ma.P_IP4 && c.Protocol().Code != ma.P_IP6) {
			continue
		}
		network, hostport, err := manet.DialArgs(a)
		if err != nil {
			continue
		}
		if _, port, err := net.SplitHostPort(hostport); err != nil || port == "0" {
			continue
		}
		if probed[network+" "+hostport] {
			continue // QUIC and WebTransport share a UDP port
		}
		probed[network+" "+hostport] = true
		if err := probe(network, hostport); errors.Is(err, syscall.EADDRINUSE) {
			errs = append(errs, fmt.Errorf("listen on %s: the port is already in use (by another node? pick other ports in network.listen or with --listen): %w", s, err))
		}
	}
	return errors.Join(errs...)
}

// probe binds hostport without SO_REUSEPORT and releases it.
func probe(network, hostport string) error {
	switch network {
	case "tcp4", "tcp6":
		l, err := net.Listen(network, hostport)
		if err != nil {
			return err
		}
		return l.Close()
	case "udp4", "udp6":
		c, err := net.ListenPacket(network, hostport)
		if err != nil {
			return err
		}
		return c.Close()
	}
	return nil
}
