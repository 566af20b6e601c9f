package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/config"
)

// MaxPingCount bounds one ping request.
const MaxPingCount = 100

// Info describes the local node.
func (n *Node) Info() wire.ID {
	id := n.host.ID()
	full := func(addrs []ma.Multiaddr) []string {
		addrs = slices.Clone(addrs)
		slices.SortStableFunc(addrs, func(a, b ma.Multiaddr) int { return transportRank(a) - transportRank(b) })
		out := make([]string, 0, len(addrs))
		for _, a := range addrs {
			out = append(out, a.Encapsulate(ma.StringCast("/p2p/"+id.String())).String())
		}
		return out
	}
	var listen []ma.Multiaddr
	for _, a := range n.host.Network().ListenAddresses() {
		if transportOf(a) != "p2p-circuit" {
			listen = append(listen, a)
		}
	}
	slices.SortFunc(listen, func(a, b ma.Multiaddr) int { return strings.Compare(a.String(), b.String()) })
	var protos []string
	for _, p := range n.host.Mux().Protocols() {
		protos = append(protos, string(p))
	}
	slices.Sort(protos)
	return wire.ID{
		PeerID:        id.String(),
		Addrs:         full(n.host.Addrs()),
		ListenAddrs:   strs(listen),
		Protocols:     protos,
		AgentVersion:  "plexus/" + Version,
		DHTMode:       string(n.routing.Mode()),
		Reachability:  n.nat.Reachability(),
		Bootstrap:     slices.Clone(n.cfg.Network.Bootstrap),
		BootstrapNode: len(n.cfg.Network.Bootstrap) == 0,
	}
}

// Peers lists the open connections.
func (n *Node) Peers() []wire.Peer {
	conns := n.host.Network().Conns()
	out := make([]wire.Peer, 0, len(conns))
	for _, c := range conns {
		st := c.Stat()
		cs := c.ConnState()
		p := wire.Peer{
			PeerID:    c.RemotePeer().String(),
			Addr:      c.RemoteMultiaddr().String(),
			Direction: strings.ToLower(st.Direction.String()),
			Transport: transportOf(c.RemoteMultiaddr()),
			Security:  string(cs.Security),
			Muxer:     string(cs.StreamMultiplexer),
			LatencyMS: ms(n.host.Peerstore().LatencyEWMA(c.RemotePeer())),
			OpenedAt:  st.Opened.UTC(),
			Streams:   st.NumStreams,
		}
		if cs.Transport == "quic-v1" || p.Transport == "quic-v1" {
			p.Security, p.Muxer = "quic (TLS 1.3)", "quic"
		}
		if av, err := n.host.Peerstore().Get(c.RemotePeer(), "AgentVersion"); err == nil {
			p.AgentVersion, _ = av.(string)
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b wire.Peer) int { return strings.Compare(a.PeerID, b.PeerID) })
	return out
}

// ParsePeer parses a peer ID, wrapping failures in ErrInvalidArgument.
func ParsePeer(s string) (peer.ID, error) {
	if s == "" {
		return "", fmt.Errorf("%w: empty peer ID", ErrInvalidArgument)
	}
	p, err := peer.Decode(s)
	if err != nil {
		return "", fmt.Errorf("%w: invalid peer ID %q: %v", ErrInvalidArgument, s, err)
	}
	return p, nil
}

// Connect dials a full multiaddr (ending in /p2p/<peer ID>).
func (n *Node) Connect(ctx context.Context, addr string) (wire.ConnectResult, error) {
	ai, err := config.ParsePeerAddr(addr)
	if err != nil {
		return wire.ConnectResult{}, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	if ai.ID == n.host.ID() {
		return wire.ConnectResult{}, fmt.Errorf("%w: %s is this node itself", ErrInvalidArgument, ai.ID)
	}
	if err := n.host.Connect(ctx, ai); err != nil {
		return wire.ConnectResult{}, fmt.Errorf("%w: connect %s: %s", ErrUnreachable, addr, oneLine(err))
	}
	res := wire.ConnectResult{PeerID: ai.ID.String()}
	if conns := n.host.Network().ConnsToPeer(ai.ID); len(conns) > 0 {
		res.Addr = conns[0].RemoteMultiaddr().String()
	}
	return res, nil
}

// Disconnect closes every connection to a peer.
func (n *Node) Disconnect(peerID string) error {
	p, err := ParsePeer(peerID)
	if err != nil {
		return err
	}
	if n.host.Network().Connectedness(p) != network.Connected {
		return fmt.Errorf("%w: not connected to peer %s", ErrNotFound, p)
	}
	return n.host.Network().ClosePeer(p)
}

// Ping measures round-trip times to a peer ID or full multiaddr with the
// libp2p ping protocol, count times (default 3, at most MaxPingCount). A
// peer ID that is not connected is looked up in the peerstore and the DHT.
func (n *Node) Ping(ctx context.Context, target string, count int) (wire.PingResult, error) {
	if count == 0 {
		count = 3
	}
	if count < 0 || count > MaxPingCount {
		return wire.PingResult{}, fmt.Errorf("%w: count %d is outside 1..%d", ErrInvalidArgument, count, MaxPingCount)
	}
	ai, err := n.parseTarget(target)
	if err != nil {
		return wire.PingResult{}, err
	}
	if err := n.connectTarget(ctx, ai); err != nil {
		return wire.PingResult{}, err
	}
	p := ai.ID
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := ping.Ping(pctx, n.host, p)
	out := wire.PingResult{PeerID: p.String(), RTTsMS: []float64{}}
	for range count {
		select {
		case r := <-results:
			if r.Error != nil {
				return out, fmt.Errorf("%w: ping %s: %v", ErrUnreachable, p, r.Error)
			}
			out.RTTsMS = append(out.RTTsMS, ms(r.RTT))
		case <-ctx.Done():
			return out, fmt.Errorf("%w: ping %s: %v", ErrUnreachable, p, ctx.Err())
		}
	}
	return out, nil
}

// parseTarget parses a peer ID or a full multiaddr (ending in /p2p/<peer
// ID>); this node itself is refused.
func (n *Node) parseTarget(target string) (peer.AddrInfo, error) {
	var ai peer.AddrInfo
	if strings.HasPrefix(target, "/") {
		a, err := config.ParsePeerAddr(target)
		if err != nil {
			return ai, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
		}
		ai = a
	} else {
		p, err := ParsePeer(target)
		if err != nil {
			return ai, err
		}
		ai.ID = p
	}
	if ai.ID == n.host.ID() {
		return ai, fmt.Errorf("%w: %s is this node itself", ErrInvalidArgument, target)
	}
	return ai, nil
}

// connectTarget connects to ai through its addresses when it has some,
// otherwise through known addresses or a DHT lookup.
func (n *Node) connectTarget(ctx context.Context, ai peer.AddrInfo) error {
	if len(ai.Addrs) == 0 {
		return n.ensureConnected(ctx, ai.ID)
	}
	if err := n.host.Connect(ctx, ai); err != nil {
		return fmt.Errorf("%w: connect %s: %s", ErrUnreachable, ai.ID, oneLine(err))
	}
	return nil
}

// ensureConnected connects to p using known addresses, or finds it in the
// DHT first.
func (n *Node) ensureConnected(ctx context.Context, p peer.ID) error {
	if n.host.Network().Connectedness(p) == network.Connected {
		return nil
	}
	ai := n.host.Peerstore().PeerInfo(p)
	if len(ai.Addrs) == 0 {
		found, err := n.routing.FindPeer(ctx, p)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return fmt.Errorf("%w: find peer %s: %v", ErrUnreachable, p, err)
			}
			return fmt.Errorf("%w: peer %s is not connected and was not found in the DHT: %v", ErrNotFound, p, err)
		}
		ai = found.AddrInfo()
	}
	if err := n.host.Connect(ctx, ai); err != nil {
		return fmt.Errorf("%w: connect %s: %s", ErrUnreachable, p, oneLine(err))
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func strs(addrs []ma.Multiaddr) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out
}

// transportRank orders addresses for people and scripts: TCP first (what
// every libp2p implementation speaks), then QUIC, WebSocket, the browser
// transports and relays.
func transportRank(a ma.Multiaddr) int {
	switch transportOf(a) {
	case "tcp":
		return 0
	case "quic-v1":
		return 1
	case "ws", "wss":
		return 2
	case "webtransport":
		return 3
	case "webrtc-direct":
		return 4
	}
	return 5
}

// oneLine folds libp2p's multi-line dial errors ("all dials failed\n  * ...")
// into one line for logs, the API and the CLI.
func oneLine(err error) string {
	lines := strings.Split(err.Error(), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(slices.DeleteFunc(lines, func(s string) bool { return s == "" }), "; ")
}
