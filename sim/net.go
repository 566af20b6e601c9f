// Package sim is an in-process network for measuring Plexus at scale: many
// libp2p hosts (go-libp2p's mocknet, no sockets, no handshakes) running the
// real Plexus routing, records and pubsub services, with a latency drawn
// per link from a distribution and a loss rate.
//
// mocknet needs an explicit link between two hosts before they can connect
// (about 870 B each, so linking every pair of 10,000 hosts would take about
// 43 GB). Here each host is wrapped (Host) so that a dial creates the link
// on demand and draws its latency; the services are given the wrapper.
//
// Latency: the wrapper's streams (those the services open with NewStream or
// accept through SetStreamHandler; identify's are not wrapped) queue each
// write with its arrival time, now plus the link's one-way latency, and
// deliver it then, in order, without holding up the writer. mocknet's own
// link latency is not used: it lets a stream carry one write of 256 bytes
// or more per latency, which starves pubsub. A new connection costs two
// round trips (TCP, then TLS 1.3 with the muxer in its handshake).
//
// Loss: libp2p runs over reliable transports (TCP, QUIC), so a lost packet
// is not a lost message but a retransmission: each write is, with
// probability Loss, delivered a retransmission timeout later
// (max(RTO, 2×the link's latency)), and the writes behind it on the stream
// wait for it (head-of-line blocking, as on TCP).
//
// A dial to a host that has left fails after DeadDial, as a dial to an
// unreachable address times out. Bandwidth is not limited.
package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	ma "github.com/multiformats/go-multiaddr"
)

// ErrGone is returned by a dial to a host that has left the network.
var ErrGone = errors.New("sim: peer has left the network")

// Latency is a distribution of one-way link latencies: uniform between Min
// and Max. Each link draws its latency once, when it is created.
type Latency struct {
	Min, Max time.Duration
}

// draw returns a latency of the distribution.
func (l Latency) draw(r *rand.Rand) time.Duration {
	if l.Max <= l.Min {
		return l.Min
	}
	return l.Min + time.Duration(r.Int64N(int64(l.Max-l.Min)+1))
}

func (l Latency) String() string {
	if l.Max <= l.Min {
		return l.Min.String()
	}
	return fmt.Sprintf("uniform %s-%s", l.Min, l.Max)
}

// ParseLatency reads "20ms-200ms" (uniform) or "50ms" (fixed).
func ParseLatency(s string) (Latency, error) {
	lo, hi, found := strings.Cut(s, "-")
	min, err := time.ParseDuration(strings.TrimSpace(lo))
	if err != nil {
		return Latency{}, fmt.Errorf("latency %q: %w", s, err)
	}
	max := min
	if found {
		if max, err = time.ParseDuration(strings.TrimSpace(hi)); err != nil {
			return Latency{}, fmt.Errorf("latency %q: %w", s, err)
		}
	}
	if min < 0 || max < min {
		return Latency{}, fmt.Errorf("latency %q: want 0 <= min <= max", s)
	}
	return Latency{Min: min, Max: max}, nil
}

// Config describes the links of a Net.
type Config struct {
	// Latency is the distribution of one-way link latencies.
	Latency Latency
	// Loss is the probability that a write on a stream is lost once and
	// retransmitted (0 to 1).
	Loss float64
	// RTO is the smallest retransmission delay of a lost write (TCP's
	// minimum RTO is 200ms on Linux). Default 200ms.
	RTO time.Duration
	// DeadDial is how long a dial to a host that has left takes to fail.
	// Default 3s (the DHT's query dial timeout, config.DefaultDHTQueryDialTimeout).
	DeadDial time.Duration
	// Seed makes link latencies and losses reproducible.
	Seed uint64
}

// Net is the simulated network. Create it with New, close it with Close.
type Net struct {
	mn  mocknet.Mocknet
	cfg Config

	mu    sync.Mutex
	rng   *rand.Rand
	hosts map[peer.ID]*Host
	links map[[2]peer.ID]time.Duration
	seq   uint32
	gone  map[peer.ID]bool

	linksMade atomic.Int64
}

// New returns an empty network with cfg's links.
func New(cfg Config) (*Net, error) {
	if cfg.Loss < 0 || cfg.Loss > 1 {
		return nil, fmt.Errorf("sim: loss %v: want 0 to 1", cfg.Loss)
	}
	if cfg.RTO == 0 {
		cfg.RTO = 200 * time.Millisecond
	}
	if cfg.DeadDial == 0 {
		cfg.DeadDial = 3 * time.Second
	}
	return &Net{
		mn:    mocknet.New(),
		cfg:   cfg,
		rng:   rand.New(rand.NewPCG(cfg.Seed, 0x5eed)),
		hosts: map[peer.ID]*Host{},
		links: map[[2]peer.ID]time.Duration{},
		gone:  map[peer.ID]bool{},
	}, nil
}

// Close closes every host and the network.
func (n *Net) Close() error { return n.mn.Close() }

// Config returns the network's configuration.
func (n *Net) Config() Config { return n.cfg }

// Links returns the number of links created so far (one per pair of hosts
// that ever dialled each other).
func (n *Net) Links() int64 { return n.linksMade.Load() }

// AddHost adds a host with identity sk (a fresh Ed25519 key when nil).
func (n *Net) AddHost(sk crypto.PrivKey) (*Host, error) {
	if sk == nil {
		var err error
		if sk, _, err = crypto.GenerateEd25519Key(nil); err != nil {
			return nil, err
		}
	}
	n.mu.Lock()
	n.seq++
	seq := n.seq
	n.mu.Unlock()
	// Each host in its own /64 (gossipsub scores peers sharing a /64 as one
	// IP, P6), under 0100::/8, which is reserved and never routed: nothing
	// outside the mocknet is dialled.
	addr := ma.StringCast(fmt.Sprintf("/ip6/100:0:%x:%x::1/tcp/4242", seq>>16, seq&0xffff))
	mh, err := n.mn.AddPeer(sk, addr)
	if err != nil {
		return nil, fmt.Errorf("sim: add host: %w", err)
	}
	h := &Host{Host: mh, net: n, key: sk}
	n.mu.Lock()
	n.hosts[mh.ID()] = h
	n.mu.Unlock()
	return h, nil
}

// Remove takes h off the network at once: its connections close and dials
// to it fail after DeadDial.
func (n *Net) Remove(h *Host) error {
	n.mu.Lock()
	n.gone[h.ID()] = true
	delete(n.hosts, h.ID())
	n.mu.Unlock()
	return h.Host.Close()
}

// Alive reports whether p is a host of the network that has not left.
func (n *Net) Alive(p peer.ID) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.hosts[p] != nil
}

// Host returns the host p, or nil.
func (n *Net) Host(p peer.ID) *Host {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.hosts[p]
}

func pairKey(a, b peer.ID) [2]peer.ID {
	if a > b {
		a, b = b, a
	}
	return [2]peer.ID{a, b}
}

// link makes sure a and b are linked, drawing the link's latency on its
// creation, and returns that latency.
func (n *Net) link(ctx context.Context, a, b peer.ID) (time.Duration, error) {
	k := pairKey(a, b)
	n.mu.Lock()
	if lat, ok := n.links[k]; ok && n.hosts[b] != nil {
		n.mu.Unlock()
		return lat, nil
	}
	if n.hosts[b] == nil || n.hosts[a] == nil {
		gone := n.gone[b]
		n.mu.Unlock()
		if !gone {
			return 0, fmt.Errorf("sim: %s is not on the network", b)
		}
		t := time.NewTimer(n.cfg.DeadDial)
		defer t.Stop()
		select {
		case <-t.C:
			return 0, fmt.Errorf("dial %s: %w", b, ErrGone)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	lat := n.cfg.Latency.draw(n.rng)
	n.links[k] = lat
	n.mu.Unlock()
	l, err := n.mn.LinkPeers(a, b)
	if err != nil {
		return 0, fmt.Errorf("sim: link: %w", err)
	}
	_ = l
	n.linksMade.Add(1)
	return lat, nil
}

// lost reports whether a write is lost (and must be retransmitted).
func (n *Net) lost() bool {
	if n.cfg.Loss == 0 {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.rng.Float64() < n.cfg.Loss
}

// Traffic classes counted per host.
const (
	ClassDHT = iota
	ClassPubSub
	ClassOther
	numClasses
)

func classOf(p protocol.ID) int {
	s := string(p)
	switch {
	case strings.HasSuffix(s, "/kad/1.0.0"):
		return ClassDHT
	case strings.HasPrefix(s, "/meshsub/"), strings.HasPrefix(s, "/floodsub/"):
		return ClassPubSub
	}
	return ClassOther
}

// Host is a mocknet host whose dials create links on demand and whose
// streams (those opened with NewStream and accepted by handlers set with
// SetStreamHandler, that is the services' streams, not identify's) count
// their bytes and suffer the network's loss. Give it to the services in
// place of the mocknet host.
type Host struct {
	host.Host
	net *Net
	key crypto.PrivKey

	sent, recv [numClasses]atomic.Int64
}

// Key returns the host's identity key.
func (h *Host) Key() crypto.PrivKey { return h.key }

// Sent returns the bytes the host's streams of class c wrote.
func (h *Host) Sent(c int) int64 { return h.sent[c].Load() }

// Received returns the bytes the host's streams of class c read.
func (h *Host) Received(c int) int64 { return h.recv[c].Load() }

// Connect links h to pi.ID if needed, then connects.
func (h *Host) Connect(ctx context.Context, pi peer.AddrInfo) error {
	if pi.ID == h.ID() {
		return fmt.Errorf("sim: dial to self")
	}
	if h.Network().Connectedness(pi.ID) != network.Connected {
		lat, err := h.net.link(ctx, h.ID(), pi.ID)
		if err != nil {
			return err
		}
		// A new connection costs two round trips (TCP, then TLS 1.3 with
		// the muxer negotiated in its handshake).
		t := time.NewTimer(4 * lat)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	return h.Host.Connect(ctx, pi)
}

// NewStream links h to p if needed, then opens a stream.
func (h *Host) NewStream(ctx context.Context, p peer.ID, pids ...protocol.ID) (network.Stream, error) {
	if h.Network().Connectedness(p) != network.Connected {
		if err := h.Connect(ctx, peer.AddrInfo{ID: p}); err != nil {
			return nil, err
		}
	}
	s, err := h.Host.NewStream(ctx, p, pids...)
	if err != nil {
		return nil, err
	}
	return h.wrap(s), nil
}

// SetStreamHandler sets a handler that gets wrapped streams.
func (h *Host) SetStreamHandler(pid protocol.ID, handler network.StreamHandler) {
	h.Host.SetStreamHandler(pid, func(s network.Stream) { handler(h.wrap(s)) })
}

// SetStreamHandlerMatch sets a handler that gets wrapped streams.
func (h *Host) SetStreamHandlerMatch(pid protocol.ID, m func(protocol.ID) bool, handler network.StreamHandler) {
	h.Host.SetStreamHandlerMatch(pid, m, func(s network.Stream) { handler(h.wrap(s)) })
}

func (h *Host) wrap(s network.Stream) network.Stream {
	lat, _ := h.net.latency(h.ID(), s.Conn().RemotePeer())
	return &stream{Stream: s, h: h, lat: lat}
}

// stream delays each write by the link's latency (plus a retransmission
// timeout when lost) without holding up the writer: writes queue with their
// arrival time and one goroutine per stream, running while the queue is not
// empty, hands them to the mocknet stream in order when they are due.
// (mocknet's own link latency makes each write of 256 bytes or more wait
// for the previous one to arrive, one write per latency on a stream, which
// starves pubsub.) Close and CloseWrite take effect after the queued writes.
type stream struct {
	network.Stream
	h   *Host
	lat time.Duration

	mu      sync.Mutex
	queue   []pending
	running bool
	err     error // of the last write or close; returned by later writes
}

type pending struct {
	b     []byte
	at    time.Time
	close int // 0: data; 1: CloseWrite; 2: Close
}

func (s *stream) Read(b []byte) (int, error) {
	n, err := s.Stream.Read(b)
	if n > 0 {
		s.h.recv[classOf(s.Protocol())].Add(int64(n))
	}
	return n, err
}

func (s *stream) enqueue(p pending) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.queue = append(s.queue, p)
	if !s.running {
		s.running = true
		go s.flush()
	}
	return nil
}

func (s *stream) Write(b []byte) (int, error) {
	delay := s.lat
	if s.h.net.lost() {
		delay += max(s.h.net.cfg.RTO, 2*s.lat)
	}
	at := time.Now().Add(delay)
	s.mu.Lock()
	if n := len(s.queue); n > 0 && s.queue[n-1].at.After(at) {
		at = s.queue[n-1].at // in order, as on one TCP connection
	}
	s.mu.Unlock()
	if err := s.enqueue(pending{b: bytes.Clone(b), at: at}); err != nil {
		return 0, err
	}
	s.h.sent[classOf(s.Protocol())].Add(int64(len(b)))
	return len(b), nil
}

func (s *stream) CloseWrite() error {
	return s.enqueue(pending{at: time.Now().Add(s.lat), close: 1})
}

func (s *stream) Close() error {
	if err := s.enqueue(pending{at: time.Now().Add(s.lat), close: 2}); err != nil {
		return s.Stream.Close()
	}
	return nil
}

func (s *stream) Reset() error {
	s.mu.Lock()
	s.queue = nil
	s.err = network.ErrReset
	s.mu.Unlock()
	return s.Stream.Reset()
}

// flush delivers the queue in order, each write when it is due.
func (s *stream) flush() {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 || s.err != nil {
			s.queue = nil
			s.running = false
			s.mu.Unlock()
			return
		}
		p := s.queue[0]
		s.queue = s.queue[1:]
		s.mu.Unlock()
		if d := time.Until(p.at); d > 0 {
			time.Sleep(d)
		}
		var err error
		switch p.close {
		case 0:
			_, err = s.Stream.Write(p.b)
		case 1:
			err = s.Stream.CloseWrite()
		case 2:
			err = s.Stream.Close()
			if err == nil {
				err = network.ErrReset
			}
		}
		if err != nil {
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
		}
	}
}

// latency returns the latency of the link between a and b.
func (n *Net) latency(a, b peer.ID) (time.Duration, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	lat, ok := n.links[pairKey(a, b)]
	return lat, ok
}
