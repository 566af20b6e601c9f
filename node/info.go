package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"github.com/libp2p/go-libp2p/p2p/protocol/identify"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	ma "github.com/multiformats/go-multiaddr"
	msmux "github.com/multiformats/go-multistream"

	"github.com/plexus-p2p/plexus/config"
)

// MaxPingCount bounds one ping request.
const MaxPingCount = 100

// Info describes the local node.
type Info struct {
	ID peer.ID
	// Addrs are the advertised addresses, each ending in /p2p/<ID>, TCP
	// first (what every libp2p implementation speaks), then QUIC, WebSocket,
	// the browser transports and relays.
	Addrs []ma.Multiaddr
	// ListenAddrs are what the node is bound to (relay addresses excluded).
	ListenAddrs  []ma.Multiaddr
	Protocols    []protocol.ID
	AgentVersion string
	DHTMode      string               // "server" or "client"
	Reachability network.Reachability // AutoNAT v1, or nat.reachability when forced
	// Bootstrap are the configured bootstrap peers; none means this node
	// is a bootstrap node (the first node of a network).
	Bootstrap []string
	// Private describes the node's private network (swarm key).
	Private PrivateNetwork
}

// Info describes the local node.
func (n *Node) Info() Info {
	id := n.host.ID()
	self := ma.StringCast("/p2p/" + id.String())
	addrs := slices.Clone(n.host.Addrs())
	slices.SortStableFunc(addrs, func(a, b ma.Multiaddr) int { return transportRank(a) - transportRank(b) })
	for i, a := range addrs {
		addrs[i] = a.Encapsulate(self)
	}
	var listen []ma.Multiaddr
	for _, a := range n.host.Network().ListenAddresses() {
		if transportOf(a) != "p2p-circuit" {
			listen = append(listen, a)
		}
	}
	slices.SortFunc(listen, func(a, b ma.Multiaddr) int { return strings.Compare(a.String(), b.String()) })
	protos := n.host.Mux().Protocols()
	slices.Sort(protos)
	return Info{
		ID:           id,
		Addrs:        addrs,
		ListenAddrs:  listen,
		Protocols:    protos,
		AgentVersion: "plexus/" + Version,
		DHTMode:      string(n.routing.Mode()),
		Reachability: n.nat.Reachability(),
		Bootstrap:    slices.Clone(n.cfg.Network.Bootstrap),
		Private:      n.Private(),
	}
}

// PeerInfo is one open connection.
type PeerInfo struct {
	ID        peer.ID
	Addr      ma.Multiaddr // remote address
	Direction network.Direction
	Transport string // tcp, quic-v1, ws, webrtc-direct, webtransport, p2p-circuit
	Security  string
	Muxer     string
	Latency   time.Duration // 0 when not yet measured
	Opened    time.Time
	Streams   int
	// AgentVersion is what the peer's identify said, when it has.
	AgentVersion string
}

// Peers lists the open connections, by peer ID.
func (n *Node) Peers() []PeerInfo {
	conns := n.host.Network().Conns()
	out := make([]PeerInfo, 0, len(conns))
	for _, c := range conns {
		st := c.Stat()
		cs := c.ConnState()
		p := PeerInfo{
			ID:        c.RemotePeer(),
			Addr:      c.RemoteMultiaddr(),
			Direction: st.Direction,
			Transport: transportOf(c.RemoteMultiaddr()),
			Security:  string(cs.Security),
			Muxer:     string(cs.StreamMultiplexer),
			Latency:   n.host.Peerstore().LatencyEWMA(c.RemotePeer()),
			Opened:    st.Opened.UTC(),
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
	slices.SortFunc(out, func(a, b PeerInfo) int { return strings.Compare(a.ID.String(), b.ID.String()) })
	return out
}

// Connect dials a peer at the given addresses and returns the address the
// connection uses.
func (n *Node) Connect(ctx context.Context, ai peer.AddrInfo) (ma.Multiaddr, error) {
	if ai.ID == n.host.ID() {
		return nil, errSelf
	}
	// A connection closing as Connect starts counts as connected for
	// go-libp2p: drop it and dial once more.
	var refused error
	for try := range 2 {
		failed, err := n.dial(ctx, ai)
		if err != nil {
			return nil, err
		}
		if c := n.answeringConn(ctx, ai.ID); c != nil {
			return c.RemoteMultiaddr(), nil
		}
		if failed != nil {
			refused = failed
		}
		if try == 0 {
			n.host.Network().ClosePeer(ai.ID)
		}
	}
	return nil, refusedError(ai.ID, refused)
}

// refusedError says that the handshake with p succeeded (go-libp2p waits
// for identify) and then p closed the connection: what a peer's connection
// gater does. cause, when known, is why identify failed.
func refusedError(p peer.ID, cause error) error {
	const msg = "%w: connected to %s but the peer closed the connection at once: it refuses this node (its allowlist or denylist) or is over its connection limits"
	if cause == nil {
		return fmt.Errorf(msg, ErrUnreachable, p)
	}
	return fmt.Errorf(msg+": %w", ErrUnreachable, p, cause)
}

// dialChecked is dial for callers that go on to use the connection: when
// identify failed during the dial, a connection to ai that still answers
// (answers) proves the failure was another connection's.
func (n *Node) dialChecked(ctx context.Context, ai peer.AddrInfo) error {
	failed, err := n.dial(ctx, ai)
	if err != nil || failed == nil {
		return err
	}
	if n.answeringConn(ctx, ai.ID) != nil {
		return nil
	}
	return refusedError(ai.ID, failed)
}

// answeringConn returns an open connection to p whose other end answers
// (answers), or nil.
func (n *Node) answeringConn(ctx context.Context, p peer.ID) network.Conn {
	for _, c := range n.host.Network().ConnsToPeer(p) {
		if !c.IsClosed() && n.answers(ctx, c) {
			return c
		}
	}
	return nil
}

// answers reports whether the peer at the other end of c serves a stream
// on it: it opens an identify stream and reads the first byte the peer
// sends. A peer whose gater refuses this node closes the connection after
// this node's (TLS 1.3 client) handshake has finished, and when identify
// was already under way for another caller (a DHT dial, say) its failure
// went by before Connect listened: without this round trip Connect would
// then report success for a connection the peer is closing.
func (n *Node) answers(ctx context.Context, c network.Conn) bool {
	s, err := c.NewStream(network.WithAllowLimitedConn(ctx, "connect"))
	if err != nil {
		return false
	}
	defer s.Reset()
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	} else {
		_ = s.SetDeadline(time.Now().Add(connectProbeTimeout))
	}
	if err := s.SetProtocol(identify.ID); err != nil {
		return false
	}
	if err := msmux.SelectProtoOrFail(identify.ID, s); err != nil {
		return false
	}
	var b [1]byte
	_, err = io.ReadFull(s, b[:])
	return err == nil
}

// connectProbeTimeout bounds answers when the caller set no deadline.
const connectProbeTimeout = 10 * time.Second

// Disconnect closes every connection to a peer.
func (n *Node) Disconnect(p peer.ID) error {
	if n.host.Network().Connectedness(p) != network.Connected {
		return fmt.Errorf("%w: not connected to peer %s", ErrNotFound, p)
	}
	return n.host.Network().ClosePeer(p)
}

// Ping measures round-trip times to a peer with the libp2p ping protocol,
// count times (1..MaxPingCount). With no addresses in target, a peer that
// is not connected is looked up in the peerstore and the DHT. On error it
// returns the round trips measured so far.
func (n *Node) Ping(ctx context.Context, target peer.AddrInfo, count int) ([]time.Duration, error) {
	if count < 1 || count > MaxPingCount {
		return nil, fmt.Errorf("%w: count %d is outside 1..%d", ErrInvalidArgument, count, MaxPingCount)
	}
	if target.ID == n.host.ID() {
		return nil, errSelf
	}
	if err := n.connectTarget(ctx, target); err != nil {
		return nil, err
	}
	p := target.ID
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := ping.Ping(pctx, n.host, p)
	rtts := make([]time.Duration, 0, count)
	for range count {
		select {
		case r := <-results:
			if r.Error != nil {
				return rtts, fmt.Errorf("%w: ping %s: %w", ErrUnreachable, p, r.Error)
			}
			rtts = append(rtts, r.RTT)
		case <-ctx.Done():
			return rtts, fmt.Errorf("%w: ping %s: %w", ErrUnreachable, p, ctx.Err())
		}
	}
	return rtts, nil
}

// dial connects to ai for a caller of the node's API, unless the access
// list refuses it (an error wrapping acl.ErrDenied or acl.ErrNotAllowed).
// failed is why identify failed with ai during the dial, if it did: on the
// connection this dial made (a peer whose gater refuses this node lets the
// TLS 1.3 dialer finish its handshake, then closes, and go-libp2p's
// Connect, which waits for identify, does not say it failed) or on another
// one to the same peer, which this node may have closed itself. It
// explains a connection that does not answer; it is not a verdict alone.
func (n *Node) dial(ctx context.Context, ai peer.AddrInfo) (failed, err error) {
	if err := n.acl.Check(ai.ID); err != nil {
		return nil, err
	}
	// A dial asked for now is tried now: after a failure the swarm answers
	// "dial backoff" for a while, hiding why the last dial failed.
	if sw, ok := n.host.Network().(*swarm.Swarm); ok {
		sw.Backoff().Clear(ai.ID)
	}
	sub, err := n.host.EventBus().Subscribe(new(event.EvtPeerIdentificationFailed), eventbus.BufSize(16))
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", ai.ID, err)
	}
	defer sub.Close()
	if err := n.host.Connect(ctx, ai); err != nil {
		return nil, n.dialError(ai.ID, err)
	}
	for {
		select {
		case e := <-sub.Out():
			if f := e.(event.EvtPeerIdentificationFailed); f.Peer == ai.ID {
				failed = f.Reason
			}
			continue
		default:
		}
		return failed, nil
	}
}

// dialError explains a failed dial: ErrPrivateNetwork when this private
// node's handshake failed (the peer has another swarm key or none),
// otherwise ErrUnreachable, with a hint when a public node's handshake
// failed the way it does against a private node. The cause is kept, with
// libp2p's multi-line dial errors folded into one line.
func (n *Node) dialError(p peer.ID, err error) error {
	if errors.Is(err, swarm.ErrGaterDisallowedConnection) {
		if aerr := n.acl.Check(p); aerr != nil { // the lists changed during the dial
			return aerr
		}
	}
	if !securityFailed(err) {
		return fmt.Errorf("%w: connect %s: %w", ErrUnreachable, p, oneLineError{err})
	}
	if n.private.Enabled {
		return fmt.Errorf("%w: connect %s: the peer does not share this node's swarm key (fingerprint %s): it has another swarm.key or none, so the private network handshake fails: %w",
			ErrPrivateNetwork, p, n.private.Fingerprint, oneLineError{err})
	}
	return fmt.Errorf("%w: connect %s: the connection handshake failed; if the peer is in a private network (it has a swarm.key), this node needs the same key (\"plexus swarm-key import\"): %w",
		ErrUnreachable, p, oneLineError{err})
}

// securityFailed reports whether a dial failed in the security handshake,
// where a private network's mismatched (or missing) key shows: the bytes of
// the other side are unreadable. go-libp2p's upgrader says so only in the
// text (p2p/net/upgrader/upgrader.go: "failed to negotiate security
// protocol: ...").
func securityFailed(err error) bool {
	return strings.Contains(err.Error(), "failed to negotiate security protocol")
}

// oneLineError prints a multi-line error on one line and unwraps to it.
type oneLineError struct{ err error }

func (e oneLineError) Error() string { return oneLine(e.err) }
func (e oneLineError) Unwrap() error { return e.err }

// ParsePeer parses a peer ID, wrapping failures in ErrInvalidArgument.
func ParsePeer(s string) (peer.ID, error) {
	if s == "" {
		return "", fmt.Errorf("%w: empty peer ID", ErrInvalidArgument)
	}
	p, err := peer.Decode(s)
	if err != nil {
		return "", fmt.Errorf("%w: invalid peer ID %q: %w", ErrInvalidArgument, s, err)
	}
	return p, nil
}

// parseTarget parses a peer ID or a full multiaddr (ending in /p2p/<peer
// ID>); this node itself is refused.
func (n *Node) parseTarget(target string) (peer.AddrInfo, error) {
	var ai peer.AddrInfo
	if strings.HasPrefix(target, "/") {
		a, err := config.ParsePeerAddr(target)
		if err != nil {
			return ai, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
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
	return n.dialChecked(ctx, ai)
}

// ensureConnected connects to p using known addresses, or finds it in the
// DHT first. When the known addresses fail (the peer restarted on new ones)
// it asks the DHT for the addresses the peers closest to p know now and
// dials once more.
func (n *Node) ensureConnected(ctx context.Context, p peer.ID) error {
	if n.host.Network().Connectedness(p) == network.Connected {
		return nil
	}
	if err := n.acl.Check(p); err != nil {
		return err
	}
	ai := n.host.Peerstore().PeerInfo(p)
	if len(ai.Addrs) == 0 {
		found, err := n.router.FindPeer(ctx, p)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return fmt.Errorf("%w: find peer %s: %w", ErrUnreachable, p, err)
			}
			return fmt.Errorf("%w: peer %s is not connected and was not found in the DHT: %w", ErrNotFound, p, err)
		}
		ai = found.AddrInfo()
	}
	err := n.dialChecked(ctx, ai)
	if err == nil || !errors.Is(err, ErrUnreachable) || ctx.Err() != nil {
		return err
	}
	// The addresses known here may be stale (the peer restarted on new
	// ones): ask the peers closest to it and retry once (issue 20 row 10).
	found, lerr := n.routing.LookupPeer(ctx, p, ai.Addrs)
	if lerr != nil {
		n.log.Debug("no other address found after a failed dial", "peer", p, "err", lerr)
		return err
	}
	n.log.Debug("retrying a failed dial with addresses from the DHT", "peer", p, "addrs", len(found.Addrs))
	return n.dialChecked(ctx, found.AddrInfo())
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
