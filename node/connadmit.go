package node

import (
	"errors"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
)

// admitWait is how long an inbound TCP or WebSocket connection that finds
// the inbound connection slots full waits for one (connAdmission).
const admitWait = 2 * time.Second

// connAdmission makes an inbound TCP or WebSocket connection that finds the
// resource manager's connection slots full wait for a slot, for up to
// admitWait, instead of being closed at once (issue 20 row 3).
//
// go-libp2p's resource manager charges an inbound connection from the
// moment it is accepted, before its security handshake: the peer behind it
// is not known yet. In a flood, attackers that were trimmed re-dial at once
// and are refused once their handshake has identified them (they are
// cooling down, connGuard), but while the handshakes run they hold the
// slots, and on a busy machine enough of them run at a time to fill every
// slot: a good peer's connection, accepted then, was closed before its
// handshake ("failed to negotiate security protocol: EOF"). Cooling
// attackers' handshakes end quickly, so slots keep coming free; the
// connection waits for the next one, in the listener's accept loop (the
// later connections wait in the kernel's accept queue), and is served in
// turn with the attackers instead of being refused.
//
// When no slot has come free for admitWait (slots held by established
// connections, which stay), connections are refused at once again, as
// without connAdmission, until one does: the accept queue does not grow a
// wait of admitWait per connection in it.
//
// Only connections that use a file descriptor (TCP, WebSocket) wait: the
// resource manager admits those in their listener's accept loop. QUIC's
// are admitted in the QUIC transport's packet handling, which must not
// block.
type connAdmission struct {
	network.ResourceManager
	wait   time.Duration
	queued prometheus.Counter

	mu    sync.Mutex
	freed chan struct{} // closed (and replaced) when a connection scope ends
	// starved is set when a wait ended with no slot freed; until one is,
	// connections are refused at once.
	starved bool
}

func newConnAdmission(rm network.ResourceManager, wait time.Duration, reg prometheus.Registerer) *connAdmission {
	a := &connAdmission{
		ResourceManager: rm,
		wait:            wait,
		freed:           make(chan struct{}),
		queued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "plexus_connections_admission_waits_total",
			Help: "Inbound TCP/WebSocket connections that found every connection slot taken and waited for one (up to 2s) rather than be closed at once.",
		}),
	}
	if reg != nil {
		reg.MustRegister(a.queued)
	}
	return a
}

// OpenConnection opens a connection scope; an inbound connection with a
// file descriptor that finds the limits reached waits for a slot.
func (a *connAdmission) OpenConnection(dir network.Direction, usefd bool, endpoint ma.Multiaddr) (network.ConnManagementScope, error) {
	s, err := a.ResourceManager.OpenConnection(dir, usefd, endpoint)
	if err == nil {
		return a.scope(s), nil
	}
	if dir != network.DirInbound || !usefd || !errors.Is(err, network.ErrResourceLimitExceeded) {
		return nil, err
	}
	a.mu.Lock()
	starved := a.starved
	a.mu.Unlock()
	if starved {
		return nil, err
	}
	a.queued.Inc()
	timer := time.NewTimer(a.wait)
	defer timer.Stop()
	for {
		a.mu.Lock()
		freed := a.freed
		a.mu.Unlock()
		// Try again after taking freed: a slot freed in between closes it.
		s, err = a.ResourceManager.OpenConnection(dir, usefd, endpoint)
		if err == nil {
			return a.scope(s), nil
		}
		if !errors.Is(err, network.ErrResourceLimitExceeded) {
			return nil, err
		}
		select {
		case <-freed:
		case <-timer.C:
			a.mu.Lock()
			if a.freed == freed { // nothing came free meanwhile
				a.starved = true
			}
			a.mu.Unlock()
			return nil, err
		}
	}
}

// release wakes the connections waiting for a slot: a connection ended, or
// one left the transient scope for its peer's (SetPeer).
func (a *connAdmission) release() {
	a.mu.Lock()
	close(a.freed)
	a.freed = make(chan struct{})
	a.starved = false
	a.mu.Unlock()
}

func (a *connAdmission) scope(s network.ConnManagementScope) network.ConnManagementScope {
	return &admittedConn{ConnManagementScope: s, a: a}
}

// GetConnLimit keeps go-libp2p's check of the connection manager's high
// water mark against the resource manager's connection limit working.
func (a *connAdmission) GetConnLimit() int {
	if c, ok := a.ResourceManager.(interface{ GetConnLimit() int }); ok {
		return c.GetConnLimit()
	}
	return 0
}

// admittedConn is a connection's scope that wakes the connections waiting
// for a slot when it frees one: when it ends, and when its peer is known
// (it leaves the transient scope, which has its own connection limit).
type admittedConn struct {
	network.ConnManagementScope
	a *connAdmission
}

func (c *admittedConn) SetPeer(p peer.ID) error {
	err := c.ConnManagementScope.SetPeer(p)
	c.a.release()
	return err
}

func (c *admittedConn) Done() {
	c.ConnManagementScope.Done()
	c.a.release()
}
