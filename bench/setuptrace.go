package bench

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/core/sec"
	"github.com/libp2p/go-libp2p/core/transport"
	"github.com/libp2p/go-libp2p/p2p/net/upgrader"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/libp2p/go-libp2p/p2p/transport/tcpreuse"
	manet "github.com/multiformats/go-multiaddr/net"
)

// setupTrace records when the phases of a host's outbound connection
// ended, for the setup breakdown: the TCP connection handed to the
// upgrader, the security protocol chosen by multistream-select (the
// security transport called), and the security handshake done. The muxer
// phase runs from there until the swarm returns the connection. Outbound
// only: the server side of the same pair records nothing. One dial at a
// time (the setup measurement dials sequentially).
type setupTrace struct {
	mu                              sync.Mutex
	upgradeAt, secStartAt, secEndAt time.Time
	earlyMuxer                      bool
}

func (t *setupTrace) reset() {
	t.mu.Lock()
	t.upgradeAt, t.secStartAt, t.secEndAt, t.earlyMuxer = time.Time{}, time.Time{}, time.Time{}, false
	t.mu.Unlock()
}

func (t *setupTrace) mark(at *time.Time) {
	now := time.Now()
	t.mu.Lock()
	*at = now
	t.mu.Unlock()
}

// phases returns the phase ends; zero when not reached.
func (t *setupTrace) phases() (upgrade, secStart, secEnd time.Time, early bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.upgradeAt, t.secStartAt, t.secEndAt, t.earlyMuxer
}

// tracedUpgrader notes when an outbound TCP connection reaches the upgrader.
type tracedUpgrader struct {
	transport.Upgrader
	tr *setupTrace
}

func (u tracedUpgrader) Upgrade(ctx context.Context, t transport.Transport, c manet.Conn, dir network.Direction, p peer.ID, scope network.ConnManagementScope) (transport.CapableConn, error) {
	if dir == network.DirOutbound {
		u.tr.mark(&u.tr.upgradeAt)
	}
	return u.Upgrader.Upgrade(ctx, t, c, dir, p, scope)
}

// tracedSecurity notes when an outbound handshake starts and ends.
type tracedSecurity struct {
	sec.SecureTransport
	tr *setupTrace
}

func (s *tracedSecurity) SecureOutbound(ctx context.Context, c net.Conn, p peer.ID) (sec.SecureConn, error) {
	s.tr.mark(&s.tr.secStartAt)
	sc, err := s.SecureTransport.SecureOutbound(ctx, c, p)
	s.tr.mark(&s.tr.secEndAt)
	if err == nil {
		s.tr.mu.Lock()
		s.tr.earlyMuxer = sc.ConnState().UsedEarlyMuxerNegotiation
		s.tr.mu.Unlock()
	}
	return sc, err
}

// tracedTCPOptions are the transport and security options of a TCP stack
// with the trace hooks; security is noise.ID or libp2ptls.ID.
func tracedTCPOptions(tr *setupTrace, security protocol.ID) []libp2p.Option {
	tpt := libp2p.Transport(func(u transport.Upgrader, rcmgr network.ResourceManager, shared *tcpreuse.ConnMgr) (*tcp.TcpTransport, error) {
		return tcp.NewTCPTransport(tracedUpgrader{u, tr}, rcmgr, shared)
	})
	var secOpt libp2p.Option
	if security == noise.ID {
		secOpt = libp2p.Security(noise.ID, func(id protocol.ID, k crypto.PrivKey, muxers []upgrader.StreamMuxer) (*tracedSecurity, error) {
			t, err := noise.New(id, k, muxers)
			if err != nil {
				return nil, err
			}
			return &tracedSecurity{t, tr}, nil
		})
	} else {
		secOpt = libp2p.Security(libp2ptls.ID, func(id protocol.ID, k crypto.PrivKey, muxers []upgrader.StreamMuxer) (*tracedSecurity, error) {
			t, err := libp2ptls.New(id, k, muxers)
			if err != nil {
				return nil, err
			}
			return &tracedSecurity{t, tr}, nil
		})
	}
	return []libp2p.Option{tpt, secOpt}
}
