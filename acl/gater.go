package acl

import (
	"time"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

var _ connmgr.ConnectionGater = (*List)(nil)

// InterceptPeerDial refuses outbound dials, direct or relayed, of peers the
// lists do not admit. go-libp2p answers such a dial with
// swarm.ErrGaterDisallowedConnection.
func (l *List) InterceptPeerDial(p peer.ID) bool {
	if l.Check(p) != nil {
		l.refusedOut.Add(1)
		return false
	}
	return true
}

// InterceptAddrDial admits every address: the peer was checked by
// InterceptPeerDial, and a relay in a /p2p-circuit address is checked when
// the relay itself is dialled.
func (l *List) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return true }

// InterceptAccept admits every inbound connection: before the handshake
// the remote peer is not known.
func (l *List) InterceptAccept(network.ConnMultiaddrs) bool { return true }

// InterceptSecured refuses a connection, inbound or outbound, direct or
// relayed, once the handshake has named a peer the lists do not admit.
func (l *List) InterceptSecured(dir network.Direction, p peer.ID, addrs network.ConnMultiaddrs) bool {
	err := l.Check(p)
	if err == nil {
		return true
	}
	if dir == network.DirInbound {
		l.refusedIn.Add(1)
	} else {
		l.refusedOut.Add(1)
	}
	var remote string
	if addrs != nil && addrs.RemoteMultiaddr() != nil {
		remote = addrs.RemoteMultiaddr().String()
	}
	l.refused(Refusal{Peer: p, Direction: dir, Addr: remote, Reason: err.Error()})
	return false
}

// InterceptUpgraded checks the peer again: the lists may have changed
// during the handshake.
func (l *List) InterceptUpgraded(c network.Conn) (bool, control.DisconnectReason) {
	return l.Check(c.RemotePeer()) == nil, 0
}

// refused logs and publishes a refusal, at most once per peer per
// refusalEventInterval (a refused peer may retry in a loop).
func (l *List) refused(r Refusal) {
	now := time.Now()
	l.evMu.Lock()
	last, seen := l.lastEvent[r.Peer]
	if seen && now.Sub(last) < refusalEventInterval {
		l.evMu.Unlock()
		return
	}
	if len(l.lastEvent) >= 1024 { // forget old peers rather than grow
		for p, t := range l.lastEvent {
			if now.Sub(t) >= refusalEventInterval {
				delete(l.lastEvent, p)
			}
		}
		if len(l.lastEvent) >= 4096 { // many peer IDs in a minute: start over
			clear(l.lastEvent)
		}
	}
	l.lastEvent[r.Peer] = now
	l.evMu.Unlock()
	l.log.Info("refused a connection", "peer", r.Peer, "direction", r.Direction, "addr", r.Addr, "reason", r.Reason)
	if l.pub != nil {
		l.pub.Publish("acl.refused", r)
	}
}
