package attack

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"

	"github.com/plexus-p2p/plexus/messaging"
)

// NewHost builds a go-libp2p host on loopback TCP (TLS or Noise, Yamux). A
// hostile host has no resource manager and no connection manager, so that
// it is limited only by the target; listen makes it dialable (pub/sub).
func NewHost(listen bool) (host.Host, error) {
	cm, err := connmgr.NewConnManager(1<<20, 1<<20+1)
	if err != nil {
		return nil, err
	}
	opts := []libp2p.Option{
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(libp2ptls.ID, libp2ptls.New),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(&network.NullResourceManager{}),
		libp2p.ConnectionManager(cm),
		libp2p.DisableMetrics(),
		libp2p.DisableRelay(),
	}
	if listen {
		opts = append(opts, libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	} else {
		opts = append(opts, libp2p.NoListenAddrs)
	}
	return libp2p.New(opts...)
}

// Hosts builds n hosts, closed at the env's Close.
func (e *Env) Hosts(n int, listen bool) ([]host.Host, error) {
	hs := make([]host.Host, 0, n)
	for range n {
		h, err := NewHost(listen)
		if err != nil {
			for _, h := range hs {
				h.Close()
			}
			return nil, err
		}
		hs = append(hs, h)
	}
	e.Defer(func() {
		var wg sync.WaitGroup
		for _, h := range hs {
			wg.Go(func() { h.Close() })
		}
		wg.Wait()
	})
	return hs, nil
}

// Probe is a good peer's repeated attempt at a service during the phases of
// a scenario.
type Probe struct {
	mu     sync.Mutex
	phase  string
	counts map[string]*[2]int // phase -> ok, total
	// lastFail and firstOKAfter give the recovery time after the attack.
	attackEnd    time.Time
	firstOKAfter time.Time
	errs         map[string]int
	stop         chan struct{}
	done         chan struct{}
}

// RunProbe calls try every interval (each call bounded by its context) in
// phase "before" until SetPhase; it stops at Stop.
func RunProbe(ctx context.Context, interval, timeout time.Duration, try func(ctx context.Context) error) *Probe {
	p := &Probe{phase: "before", counts: map[string]*[2]int{}, errs: map[string]int{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			p.mu.Lock()
			phase := p.phase // an attempt counts in the phase it started in
			p.mu.Unlock()
			cctx, cancel := context.WithTimeout(ctx, timeout)
			err := try(cctx)
			cancel()
			p.record(phase, err)
			select {
			case <-p.stop:
				return
			case <-ctx.Done():
				return
			case <-time.After(interval):
			}
		}
	}()
	return p
}

func (p *Probe) record(phase string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.counts[phase]
	if c == nil {
		c = new([2]int)
		p.counts[phase] = c
	}
	c[1]++
	if err == nil {
		c[0]++
		if phase == "after" && p.firstOKAfter.IsZero() {
			p.firstOKAfter = time.Now()
		}
	} else {
		msg := errorKey(err)
		p.errs[msg]++
	}
}

// peerIDs matches the peer IDs and ports in error texts, which differ from
// one attempt to the next.
var peerIDs = regexp.MustCompile(`12D3KooW[1-9A-HJ-NP-Za-km-z]+|Qm[1-9A-HJ-NP-Za-km-z]{44}`)

// errorKey is err's text for counting: peer IDs replaced, and when long its
// beginning and its end (the cause, after the wrapping).
func errorKey(err error) string {
	msg := peerIDs.ReplaceAllString(strings.Join(strings.Fields(err.Error()), " "), "<peer>")
	if len(msg) > 240 {
		msg = msg[:80] + " ... " + msg[len(msg)-160:]
	}
	return msg
}

// SetPhase starts counting attempts under phase ("during", "after"). The
// attempt under way when it is called counts in the phase it started in.
func (p *Probe) SetPhase(phase string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.phase = phase
	if phase == "after" {
		p.attackEnd = time.Now()
	}
}

// Stop ends the probe and waits for the attempt under way (bounded by the
// probe's timeout).
func (p *Probe) Stop() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

// Rate is the successes and attempts of a phase.
func (p *Probe) Rate(phase string) Rate {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.counts[phase]; c != nil {
		return Rate{OK: c[0], N: c[1]}
	}
	return Rate{}
}

// Recovery is how long after the attack ended the first attempt succeeded,
// 0 when none failed during the attack, -1 when none succeeded after it,
// -2 when none was made after it.
func (p *Probe) Recovery(during Rate) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if during.N > 0 && during.OK == during.N {
		return 0
	}
	if c := p.counts["after"]; c == nil || c[1] == 0 {
		return -2
	}
	if p.firstOKAfter.IsZero() {
		return -1
	}
	return p.firstOKAfter.Sub(p.attackEnd)
}

// TopError is the most frequent failure and, when there were others, the
// next two, for the notes.
func (p *Probe) TopError() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	keys := make([]string, 0, len(p.errs))
	for k := range p.errs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if a, b := p.errs[keys[i]], p.errs[keys[j]]; a != b {
			return a > b
		}
		return keys[i] < keys[j]
	})
	var out []string
	for _, k := range keys[:min(len(keys), 3)] {
		out = append(out, fmt.Sprintf("%dx %s", p.errs[k], k))
	}
	return strings.Join(out, "; ")
}

// Rate is a success count.
type Rate struct{ OK, N int }

// Add sums two rates.
func (r Rate) Add(o Rate) Rate { return Rate{OK: r.OK + o.OK, N: r.N + o.N} }

// Frac is the success fraction, 1 for no attempts.
func (r Rate) Frac() float64 {
	if r.N == 0 {
		return 1
	}
	return float64(r.OK) / float64(r.N)
}

func (r Rate) String() string {
	if r.N == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%d/%d (%.0f%%)", r.OK, r.N, 100*r.Frac())
}

// SendProbe is a good peer's request to the target's echo protocol, from
// the long-lived host h.
func SendProbe(h host.Host, target peer.AddrInfo) func(ctx context.Context) error {
	var n atomic.Uint64
	return func(ctx context.Context) error {
		if err := h.Connect(ctx, target); err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		req := fmt.Appendf(nil, "good request %d", n.Add(1))
		resp, err := messaging.Send(ctx, h, target.ID, EchoProtocol, req, 1<<20)
		if err != nil {
			return err
		}
		if string(resp) != string(req) {
			return fmt.Errorf("echo answered %q to %q", resp, req)
		}
		return nil
	}
}

// NewPeerProbe is a new peer (a fresh identity each time) that connects to
// the target and pings it: what a node joining the network does.
func NewPeerProbe(target peer.AddrInfo) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		h, err := NewHost(false)
		if err != nil {
			return err
		}
		defer h.Close()
		if err := h.Connect(ctx, target); err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		res := <-ping.Ping(ctx, h, target.ID)
		if res.Error != nil {
			return fmt.Errorf("ping: %w", res.Error)
		}
		return nil
	}
}

// Cost is what an attack spent.
type Cost struct {
	Peers int
	Conns atomic.Int64
	Bytes atomic.Int64 // sent by the attackers
}

func (c *Cost) String() string {
	if c.Peers == 0 && c.Conns.Load() == 0 && c.Bytes.Load() == 0 {
		return "-"
	}
	return fmt.Sprintf("%d peers, %d conns, %s", c.Peers, c.Conns.Load(), bytesString(c.Bytes.Load()))
}

func bytesString(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// countingStream counts what a hostile peer writes.
type countingStream struct {
	network.Stream
	c *Cost
}

func (s countingStream) Write(p []byte) (int, error) {
	n, err := s.Stream.Write(p)
	s.c.Bytes.Add(int64(n))
	return n, err
}
