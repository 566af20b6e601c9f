package node

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p"
	coreconnmgr "github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/network"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	tls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	libp2pwebrtc "github.com/libp2p/go-libp2p/p2p/transport/webrtc"
	ws "github.com/libp2p/go-libp2p/p2p/transport/websocket"
	webtransport "github.com/libp2p/go-libp2p/p2p/transport/webtransport"
	"github.com/libp2p/go-libp2p/x/rate"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/nat"
)

// HostOptions returns the libp2p options of a Plexus host for cfg: the
// transports, security order, muxer, agent version, NAT traversal, resource
// manager and connection manager. Benchmarks use it to measure exactly what
// the node runs; the NAT service that reports on the host is left out.
func HostOptions(cfg config.Config, reg prometheus.Registerer) ([]libp2p.Option, error) {
	_, natOpts, err := nat.New(natConfig(cfg.NAT), nat.Options{})
	if err != nil {
		return nil, err
	}
	return hostOptions(cfg, reg, natOpts, nil)
}

// hostOptions returns HostOptions with natOpts, the options of the node's
// NAT service. The connection manager (connGuard) is also a connection
// gater: with gater nil its options include it; otherwise *gater is
// replaced by the connection manager in front of it, for the caller to
// pass to libp2p.ConnectionGater.
func hostOptions(cfg config.Config, reg prometheus.Registerer, natOpts []libp2p.Option, gater *coreconnmgr.ConnectionGater) ([]libp2p.Option, error) {
	t := cfg.Transports
	opts := []libp2p.Option{
		libp2p.UserAgent("plexus/" + Version),
		libp2p.Muxer(yamux.ID, Yamux()),
		libp2p.ListenAddrStrings(cfg.UsableListen()...),
	}
	if t.TCP {
		opts = append(opts, libp2p.Transport(tcp.NewTCPTransport))
	}
	if t.QUIC {
		opts = append(opts, libp2p.Transport(quic.NewTransport))
	}
	if t.WebSocket {
		opts = append(opts, libp2p.Transport(ws.New))
	}
	if t.WebTransport {
		opts = append(opts, libp2p.Transport(webtransport.New))
	}
	if t.WebRTCDirect {
		opts = append(opts, libp2p.Transport(libp2pwebrtc.New))
	}
	for _, s := range t.Security {
		switch s {
		case "noise":
			opts = append(opts, libp2p.Security(noise.ID, noise.New))
		case "tls":
			opts = append(opts, libp2p.Security(tls.ID, tls.New))
		}
	}
	opts = append(opts, natOpts...)

	rm, err := newResourceManager(cfg.ResourceManager, cfg.ConnManager.HighWater, reg)
	if err != nil {
		return nil, err
	}
	var next coreconnmgr.ConnectionGater
	if gater != nil {
		next = *gater
	}
	cm, err := newConnGuard(cfg.ConnManager, next, reg)
	if err != nil {
		return nil, err
	}
	opts = append(opts, libp2p.ResourceManager(rm), libp2p.ConnectionManager(cm))
	if gater != nil {
		*gater = cm
	} else {
		opts = append(opts, libp2p.ConnectionGater(cm))
	}
	if reg != nil {
		opts = append(opts, libp2p.PrometheusRegisterer(reg))
	}
	return opts, nil
}

// newResourceManager scales go-libp2p's default limits to the machine (or to
// the configured memory and file descriptors) and applies the overrides.
//
// The scaled connection limits can sit below the connection manager's high
// water mark (252 inbound on a 24 GiB machine against a high water of 400):
// the connection manager then never trims, and once the resource manager is
// full every new peer is refused. So unless the config sets them, the
// connection and file descriptor limits are raised to 1.25 x high water.
func newResourceManager(c config.ResourceManager, highWater int, reg prometheus.Registerer) (network.ResourceManager, error) {
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	var scaled rcmgr.ConcreteLimitConfig
	if c.MaxMemoryMB == 0 && c.MaxFileDescriptors == 0 {
		scaled = limits.AutoScale()
	} else {
		auto := limits.AutoScale().ToPartialLimitConfig().System
		mem := int64(c.MaxMemoryMB) << 20
		if mem == 0 {
			mem = int64(auto.Memory)
		}
		fds := c.MaxFileDescriptors
		if fds == 0 {
			fds = int(auto.FD)
		}
		scaled = limits.Scale(mem, fds)
	}
	partial := rcmgr.PartialLimitConfig{}
	sys := scaled.ToPartialLimitConfig().System
	floor := rcmgr.LimitVal(highWater * 5 / 4)
	if c.MaxConnections > 0 {
		partial.System.Conns = rcmgr.LimitVal(c.MaxConnections)
	} else if sys.Conns < floor {
		partial.System.Conns = floor
	}
	if c.MaxInbound > 0 {
		partial.System.ConnsInbound = rcmgr.LimitVal(c.MaxInbound)
	} else if sys.ConnsInbound < floor {
		partial.System.ConnsInbound = floor
		partial.Transient.ConnsInbound = floor
	}
	if c.MaxFileDescriptors == 0 && sys.FD < floor {
		partial.System.FD = floor
	}
	// Per-peer stream limits (issue 20 row 1): see pendingStreamLimiter.
	pending := c.MaxPendingStreamsPerPeer
	if pending <= 0 {
		pending = config.DefaultMaxPendingStreamsPerPeer
	}
	if c.MaxStreamsPerPeer > 0 {
		partial.PeerDefault.StreamsInbound = rcmgr.LimitVal(c.MaxStreamsPerPeer)
	}
	if c.MaxStreamsPerProtocolPerPeer > 0 {
		partial.ProtocolPeerDefault.StreamsInbound = rcmgr.LimitVal(c.MaxStreamsPerProtocolPerPeer)
	}
	// The transient scope holds every peer's streams until they negotiate:
	// room for at least 16 peers at their pending limit.
	tr := scaled.ToPartialLimitConfig().Transient
	if tfloor := rcmgr.LimitVal(16 * pending); tr.StreamsInbound < tfloor || tr.Streams < tfloor {
		partial.Transient.StreamsInbound = max(tr.StreamsInbound, tfloor)
		partial.Transient.Streams = max(tr.Streams, tfloor)
	}
	opts := []rcmgr.Option{rcmgr.WithConnRateLimiters(connRateLimiter())}
	if reg != nil {
		rcmgr.MustRegisterWith(reg)
		str, err := rcmgr.NewStatsTraceReporter()
		if err != nil {
			return nil, err
		}
		opts = append(opts, rcmgr.WithTraceReporter(str))
	}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(partial.Build(scaled)), opts...)
	if err != nil {
		return nil, fmt.Errorf("resource manager: %w", err)
	}
	return newPendingStreamLimiter(newConnAdmission(rm, admitWait, reg), pending, reg), nil
}

// transportOf names the outermost transport of a multiaddr.
func transportOf(a ma.Multiaddr) string {
	name := ""
	for _, c := range a {
		switch p := c.Protocol().Name; p {
		case "tcp", "udp", "quic-v1", "quic", "ws", "wss", "webtransport", "webrtc-direct", "webrtc", "p2p-circuit":
			name = p
		}
	}
	return name
}

func newHost(cfg Config, reg prometheus.Registerer, natOpts []libp2p.Option, gater coreconnmgr.ConnectionGater, bw metrics.Reporter) (host.Host, error) {
	// Before hostOptions, which starts the resource and connection managers.
	if err := checkPortsFree(cfg.UsableListen()); err != nil {
		return nil, err
	}
	opts, err := hostOptions(cfg.Config, reg, natOpts, &gater) // gater becomes the connection manager in front of it
	if err != nil {
		return nil, err
	}
	opts = append(opts, libp2p.Identity(cfg.Identity), libp2p.ConnectionGater(gater), libp2p.BandwidthReporter(bw))
	if cfg.PSK != nil { // the private network's transports are turned off already (applyPSK)
		opts = append(opts, libp2p.PrivateNetwork(cfg.PSK))
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		// go-libp2p's swarm formats listen errors with %s
		// (p2p/net/swarm/swarm_listen.go), so the cause is only in the text.
		if errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), syscall.EADDRINUSE.Error()) {
			return nil, fmt.Errorf("listen on %v: a port is already in use (another node? pick other ports with --listen): %w", cfg.Network.Listen, err)
		}
		return nil, fmt.Errorf("start libp2p host: %w", err)
	}
	return h, nil
}

// connRateLimiter relaxes go-libp2p's default limit on new connections per
// IP (a burst of 16, then one every 5s): every relayed connection counts
// against its relay's IP and every peer behind one NAT shares the router's,
// so a busy relay or NATed site would soon be refused. Loopback stays
// unlimited.
func connRateLimiter() *rate.Limiter {
	return &rate.Limiter{
		NetworkPrefixLimits: []rate.PrefixLimit{
			{Prefix: netip.MustParsePrefix("127.0.0.0/8")},
			{Prefix: netip.MustParsePrefix("::1/128")},
		},
		SubnetRateLimiter: rate.SubnetLimiter{
			IPv4SubnetLimits: []rate.SubnetLimit{{PrefixLength: 32, Limit: rate.Limit{RPS: 2, Burst: 128}}},
			IPv6SubnetLimits: []rate.SubnetLimit{
				{PrefixLength: 56, Limit: rate.Limit{RPS: 2, Burst: 128}},
				{PrefixLength: 48, Limit: rate.Limit{RPS: 5, Burst: 640}},
			},
			GracePeriod: time.Minute,
		},
	}
}
