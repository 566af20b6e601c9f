package bench

import (
	"fmt"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	libp2pquic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/libp2p/go-libp2p/p2p/transport/websocket"

	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/node"
)

// Stack names a libp2p transport stack the suite measures.
type Stack string

// The stacks. Each listens on loopback only.
const (
	StackTCPNoise Stack = "tcp-noise" // TCP + Noise + Yamux
	StackTCPTLS   Stack = "tcp-tls"   // TCP + TLS 1.3 + Yamux
	StackQUIC     Stack = "quic"      // QUIC v1 (TLS 1.3 inside, native streams)
	StackWSNoise  Stack = "ws-noise"  // WebSocket + Noise + Yamux
	// StackAll is a Plexus node's own host, built by node.HostOptions from
	// the default config (security order, resource and connection managers)
	// with TCP, QUIC and WebSocket listening on loopback.
	StackAll Stack = "all"
)

// HostConfig selects what NewHost builds. Zero fields mean the go-libp2p
// default.
type HostConfig struct {
	Stack Stack
	// NoListen makes a dial-only host.
	NoListen bool
	// Yamux replaces a Plexus host's muxer transport (node.Yamux()).
	Yamux *yamux.Transport
	// ResourceManager replaces the default autoscaled resource manager.
	ResourceManager network.ResourceManager
	// ConnManager replaces the default connection manager (low 160, high 192).
	ConnManager connmgr.ConnManager
	// Light builds a cheap load generator: no metrics, no resource or
	// connection manager (unless set above), no relay. Not for measuring.
	Light bool
	// trace, on the TCP stacks, records the phases of outbound
	// connections (setup breakdown).
	trace *setupTrace
}

// NewHost builds a libp2p host. It is the one place the suite constructs
// hosts, so that it can be switched to the node's own host constructor.
func NewHost(cfg HostConfig) (host.Host, error) {
	// The stacks run Plexus's own Yamux settings, so that the suite
	// measures what a node runs.
	mux := node.Yamux()
	if cfg.Yamux != nil {
		mux = cfg.Yamux
	}
	opts := []libp2p.Option{libp2p.Muxer(yamux.ID, mux)}

	tlsSec := libp2p.Security(libp2ptls.ID, libp2ptls.New)
	noiseSec := libp2p.Security(noise.ID, noise.New)
	var listen []string
	switch cfg.Stack {
	case StackTCPNoise:
		if cfg.trace != nil {
			opts = append(opts, tracedTCPOptions(cfg.trace, noise.ID)...)
		} else {
			opts = append(opts, libp2p.Transport(tcp.NewTCPTransport), noiseSec)
		}
		listen = []string{"/ip4/127.0.0.1/tcp/0"}
	case StackTCPTLS:
		if cfg.trace != nil {
			opts = append(opts, tracedTCPOptions(cfg.trace, libp2ptls.ID)...)
		} else {
			opts = append(opts, libp2p.Transport(tcp.NewTCPTransport), tlsSec)
		}
		listen = []string{"/ip4/127.0.0.1/tcp/0"}
	case StackQUIC:
		// QUIC secures itself with libp2p TLS; a security option is still
		// required by the config and unused.
		opts = append(opts, libp2p.Transport(libp2pquic.NewTransport), tlsSec)
		listen = []string{"/ip4/127.0.0.1/udp/0/quic-v1"}
	case StackWSNoise:
		opts = append(opts, libp2p.Transport(websocket.New), noiseSec)
		listen = []string{"/ip4/127.0.0.1/tcp/0/ws"}
	case StackAll:
		nopts, err := plexusHostOptions(cfg.NoListen)
		if err != nil {
			return nil, err
		}
		// node.HostOptions sets the listen addresses, muxer, resource and
		// connection managers itself.
		opts, listen = nopts, nil
		h, err := libp2p.New(opts...)
		if err != nil {
			return nil, fmt.Errorf("bench: new %s host: %w", cfg.Stack, err)
		}
		return h, nil
	default:
		return nil, fmt.Errorf("bench: unknown stack %q", cfg.Stack)
	}

	if cfg.NoListen {
		opts = append(opts, libp2p.NoListenAddrs)
	} else {
		opts = append(opts, libp2p.ListenAddrStrings(listen...))
	}
	rm, cm := cfg.ResourceManager, cfg.ConnManager
	if cfg.Light {
		opts = append(opts, libp2p.DisableMetrics(), libp2p.DisableRelay())
		if rm == nil {
			rm = &network.NullResourceManager{}
		}
		if cm == nil {
			cm = connmgr.NullConnMgr{}
		}
	}
	if rm != nil {
		opts = append(opts, libp2p.ResourceManager(rm))
	}
	if cm != nil {
		opts = append(opts, libp2p.ConnectionManager(cm))
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("bench: new %s host: %w", cfg.Stack, err)
	}
	return h, nil
}

// plexusHostOptions are the options of a default Plexus node listening on
// loopback TCP, QUIC and WebSocket (or, dial-only, on nothing).
func plexusHostOptions(noListen bool) ([]libp2p.Option, error) {
	c := config.Default()
	if err := c.ApplyProfile("local"); err != nil {
		return nil, err
	}
	c.Transports.WebRTCDirect, c.Transports.WebTransport = false, false
	c.Network.Listen = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1", "/ip4/127.0.0.1/tcp/0/ws"}
	if noListen {
		// A dial-only host has no relay transport, so no AutoRelay either.
		c.Network.Listen, c.NAT.AutoRelay = nil, false
	}
	opts, err := node.HostOptions(c, nil)
	if noListen {
		opts = append(opts, libp2p.NoListenAddrs)
	}
	return opts, err
}
