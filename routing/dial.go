package routing

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
)

// dialTimeoutHost is the host kad-dht sees: its dials (a query's dial of
// each peer it asks, a stream to a peer it is not connected to) give up
// after timeout (issue 20 row 9). Without it a query waits for the swarm's
// own dial timeout (5s on a local address, 15s otherwise, per address) on
// every dead peer of the routing table: a QUIC dial to a killed peer gets
// no answer at all. A dial that fails within the query is also what makes
// kad-dht drop the dead peer from the routing table; one still pending
// when the lookup ends is cancelled and the peer stays, to slow the next
// lookup again.
//
// A peer whose dial failed is also left out of lookups for
// unresponsiveCooldown, when other peers still name it in their answers
// (their tables keep it until they try it themselves), unless this node
// connects to it again meanwhile or an answer names an address not tried
// (the peer restarted elsewhere).
type dialTimeoutHost struct {
	host.Host
	timeout time.Duration
	failed  *failedDials
}

// unresponsiveCooldown is how long a peer that failed a DHT dial is left out
// of lookups.
const unresponsiveCooldown = time.Minute

// maxFailedDials bounds the peers remembered as unresponsive.
const maxFailedDials = 4096

type failedDials struct {
	mu     sync.Mutex
	peers  map[peer.ID]failedDial
	onFail func(peer.ID) // removes the peer from the routing table
}

// setOnFail sets what to do with a peer whose dial failed.
func (f *failedDials) setOnFail(fn func(peer.ID)) {
	f.mu.Lock()
	f.onFail = fn
	f.mu.Unlock()
}

type failedDial struct {
	at      time.Time
	addrs   map[string]bool // the addresses tried
	stalled bool            // connected, but a request got no answer
}

func newDialTimeoutHost(h host.Host, timeout time.Duration) dialTimeoutHost {
	return dialTimeoutHost{Host: h, timeout: timeout, failed: &failedDials{peers: map[peer.ID]failedDial{}}}
}

func (h dialTimeoutHost) Connect(ctx context.Context, pi peer.AddrInfo) error {
	if h.Network().Connectedness(pi.ID) == network.Connected {
		return h.Host.Connect(ctx, pi)
	}
	// The dial runs to its end (at most timeout) even when ctx ends first
	// (kad-dht cancels the dials still pending when a lookup's phase ends):
	// then a dead peer is known as such, and leaves the routing table,
	// after the first lookup that tried it rather than never.
	done := make(chan error, 1)
	go func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.timeout)
		defer cancel()
		err := h.Host.Connect(dctx, pi)
		var tried []ma.Multiaddr
		if err != nil {
			tried = h.Peerstore().Addrs(pi.ID)
		}
		h.failed.record(pi.ID, err != nil, tried)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h dialTimeoutHost) newStream(ctx context.Context, p peer.ID, pids ...protocol.ID) (network.Stream, error) {
	connected := h.Network().Connectedness(p) == network.Connected
	ctx, cancel := context.WithTimeoutCause(ctx, h.timeout, errStreamTimeout)
	defer cancel()
	s, err := h.Host.NewStream(ctx, p, pids...)
	if err != nil && connected && context.Cause(ctx) == errStreamTimeout {
		// Connected, yet the stream could not even be opened and
		// negotiated in time: a dead peer's connection that still looks
		// open.
		h.failed.stall(p, h.Peerstore().Addrs(p))
	}
	return s, err
}

var (
	// errStalled refuses a DHT stream to a peer that did not answer.
	errStalled = errors.New("did not answer a DHT request in time")
	// errStreamTimeout ends the opening of a stream after the timeout.
	errStreamTimeout = errors.New("DHT stream not open within the query timeout")
)

// NewStream's streams wait at most timeout for each read when the connection
// is already open (kad-dht's own read timeout is 10s). A killed peer's QUIC
// connection still looks open until its idle timeout (about 30s): no dial
// happens, so the dial timeout never applies, and each request to it waited
// 10s (issue 20 row 9). A peer that does not answer within timeout is
// marked stalled: it leaves the routing table and lookups leave it out for
// unresponsiveCooldown, although still connected, until it answers again.
//
// Once marked, no new DHT stream is opened to it (until a connection to it
// opens after the mark, or the cooldown ends): kad-dht retries a request
// that timed out once on a new stream, and requests of concurrent lookups
// to the same peer queue behind each other (one stream per peer at a
// time), so without it every one of them waited timeout in turn (a lookup
// right after 30% of the DHT was killed took 19s). With it the first
// timeout ends them all.
func (h dialTimeoutHost) NewStream(ctx context.Context, p peer.ID, pids ...protocol.ID) (network.Stream, error) {
	if at, ok := h.failed.stalledAt(p); ok && !h.connectedSince(p, at) {
		return nil, fmt.Errorf("DHT stream to %s: %w (within %s; left out for %s)", p, errStalled, h.timeout, unresponsiveCooldown)
	}
	s, err := h.newStream(ctx, p, pids...)
	if err != nil {
		return nil, err
	}
	return &stallStream{Stream: s, h: h, p: p}, nil
}

// connectedSince reports whether a connection to p opened after t.
func (h dialTimeoutHost) connectedSince(p peer.ID, t time.Time) bool {
	for _, c := range h.Network().ConnsToPeer(p) {
		if c.Stat().Opened.After(t) {
			return true
		}
	}
	return false
}

// stallStream bounds each read by the query timeout.
type stallStream struct {
	network.Stream
	h dialTimeoutHost
	p peer.ID
}

func (s *stallStream) Read(b []byte) (int, error) {
	_ = s.Stream.SetReadDeadline(time.Now().Add(s.h.timeout))
	n, err := s.Stream.Read(b)
	var ne net.Error
	switch {
	case err == nil || n > 0:
		s.h.failed.answered(s.p)
	case errors.As(err, &ne) && ne.Timeout():
		s.h.failed.stall(s.p, s.h.Peerstore().Addrs(s.p))
	}
	return n, err
}

// queryFilter is kad-dht's QueryFilter: it leaves out of lookups the peers
// whose last dial failed less than unresponsiveCooldown ago.
func (h dialTimeoutHost) queryFilter(_ any, ai peer.AddrInfo) bool {
	if h.Network().Connectedness(ai.ID) == network.Connected && !h.failed.stalled(ai.ID) {
		return true
	}
	return !h.failed.recent(ai.ID, ai.Addrs)
}

func (f *failedDials) record(p peer.ID, failed bool, tried []ma.Multiaddr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !failed {
		delete(f.peers, p)
		return
	}
	if fn := f.onFail; fn != nil {
		f.mu.Unlock()
		fn(p)
		f.mu.Lock()
	}
	if len(f.peers) >= maxFailedDials {
		now := time.Now()
		for q, fd := range f.peers {
			if now.Sub(fd.at) > unresponsiveCooldown {
				delete(f.peers, q)
			}
		}
		if len(f.peers) >= maxFailedDials {
			clear(f.peers)
		}
	}
	fd := failedDial{at: time.Now(), addrs: make(map[string]bool, len(tried))}
	for _, a := range tried {
		fd.addrs[string(a.Bytes())] = true
	}
	f.peers[p] = fd
}

// stall records that p, although connected, did not answer a request.
func (f *failedDials) stall(p peer.ID, addrs []ma.Multiaddr) {
	f.record(p, true, addrs)
	f.mu.Lock()
	if fd, ok := f.peers[p]; ok {
		fd.stalled = true
		f.peers[p] = fd
	}
	f.mu.Unlock()
}

// answered forgets that p stalled, now that it answered.
func (f *failedDials) answered(p peer.ID) {
	f.mu.Lock()
	if fd, ok := f.peers[p]; ok && fd.stalled {
		delete(f.peers, p)
	}
	f.mu.Unlock()
}

// stalled reports whether p failed to answer less than
// unresponsiveCooldown ago.
func (f *failedDials) stalled(p peer.ID) bool {
	_, ok := f.stalledAt(p)
	return ok
}

// stalledAt is when p failed to answer, if less than unresponsiveCooldown
// ago.
func (f *failedDials) stalledAt(p peer.ID) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fd, ok := f.peers[p]
	if !ok || !fd.stalled || time.Since(fd.at) >= unresponsiveCooldown {
		return time.Time{}, false
	}
	return fd.at, true
}

// recent reports whether a dial of p failed less than unresponsiveCooldown
// ago on every one of addrs.
func (f *failedDials) recent(p peer.ID, addrs []ma.Multiaddr) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	fd, ok := f.peers[p]
	if !ok || time.Since(fd.at) >= unresponsiveCooldown {
		return false
	}
	for _, a := range addrs {
		if !fd.addrs[string(a.Bytes())] {
			return false
		}
	}
	return true
}
