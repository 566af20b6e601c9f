package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/identify"

	"github.com/plexus-p2p/plexus/perf"
)

// Setup is the cost of a new connection: from dial to the first byte of a
// perf response on a new stream over it.
type Setup struct {
	Name     string `json:"name"`
	Baseline string `json:"baseline,omitempty"`
	// FirstByte runs from the dial to the first response byte.
	FirstByte Latency `json:"first_byte"`
	// Connect runs from the dial until the connection is usable (libp2p:
	// the swarm's DialPeer returned, i.e. security and muxer negotiated;
	// raw: handshake done).
	Connect Latency `json:"connect"`
	// Identify (libp2p only) runs from DialPeer returning until identify
	// has finished on the connection. go-libp2p's NewStream waits for it;
	// the perf client does not (it runs alongside the perf exchange), so it
	// is not part of FirstByte.
	Identify Latency `json:"identify"`
	// The breakdown of Connect on the TCP stacks (libp2p): TCP runs from
	// the dial until the TCP connection reaches the upgrader,
	// SecurityNegotiation until multistream-select has chosen the security
	// protocol, Handshake until the security handshake is done, Muxer until
	// the swarm returns the connection (the muxer was chosen inside the
	// handshake when EarlyMuxer). Stream runs from there to the first
	// response byte (stream open, protocol proposal, the 1-byte exchange).
	TCP                 *Latency `json:"tcp,omitempty"`
	SecurityNegotiation *Latency `json:"security_negotiation,omitempty"`
	Handshake           *Latency `json:"handshake,omitempty"`
	Muxer               *Latency `json:"muxer,omitempty"`
	Stream              *Latency `json:"stream,omitempty"`
	EarlyMuxer          bool     `json:"early_muxer,omitempty"`
	Errors              int      `json:"errors"`
	// What was left when the run ended, to show nothing leaks.
	ClientPeerstorePeers int `json:"client_peerstore_peers,omitempty"`
	ServerPeerstorePeers int `json:"server_peerstore_peers,omitempty"`
	ServerConnsLeft      int `json:"server_conns_left"`
	// Ratios of p50 and p99 to the baseline's.
	RatioP50 float64 `json:"ratio_p50,omitempty"`
	RatioP99 float64 `json:"ratio_p99,omitempty"`

	connects, identifies, firsts []time.Duration
	phases                       [5][]time.Duration // tcp, security negotiation, handshake, muxer, stream
}

const (
	setupDialTimeout = 10 * time.Second
	maxSetupErrors   = 10
)

func setupWarmup(n int) int { return min(max(n/10, 5), 30) }

// setupSample is one timed connection.
type setupSample struct {
	connect, identify, firstByte time.Duration
	// phases is the breakdown (see Setup); nil when not traced.
	phases     []time.Duration
	earlyMuxer bool
}

// Dialer makes one fresh connection at a time to its own server.
type Dialer interface {
	Name() string
	// Once dials, runs a 1-byte perf exchange, and closes the connection
	// (waiting until the server has seen it close).
	Once(ctx context.Context) (setupSample, error)
	// finish records what was left after the run.
	finish(*Setup)
	Close() error
}

type libp2pDialer struct {
	name           string
	client, server host.Host
	ids            identify.IDService
	trace          *setupTrace
	// identifyFirst waits for identify before the perf exchange, as
	// go-libp2p's host.NewStream does (the setup section's comparison row).
	identifyFirst bool
	close         func()
}

// NewLibp2pDialer starts a server host with a perf service and a dial-only
// client host.
func NewLibp2pDialer(name string, hc HostConfig) (Dialer, error) {
	if hc.Stack == StackTCPTLS || hc.Stack == StackTCPNoise {
		hc.trace = &setupTrace{}
	}
	client, server, closeAll, err := hostPair(hc)
	if err != nil {
		return nil, err
	}
	d := &libp2pDialer{name: name, client: client, server: server, trace: hc.trace, close: closeAll}
	if h, ok := client.(interface{ IDService() identify.IDService }); ok {
		d.ids = h.IDService()
	}
	return d, nil
}

// NewIdentifyFirstDialer is NewLibp2pDialer's dialer but waits for
// identify before the perf exchange, as host.NewStream does: the setup
// section's row showing what not waiting saves.
func NewIdentifyFirstDialer(name string, hc HostConfig) (Dialer, error) {
	d, err := NewLibp2pDialer(name, hc)
	if err != nil {
		return nil, err
	}
	d.(*libp2pDialer).identifyFirst = true
	return d, nil
}

func (d *libp2pDialer) Name() string { return d.name }

func (d *libp2pDialer) Once(ctx context.Context) (setupSample, error) {
	var s setupSample
	dctx, cancel := context.WithTimeout(ctx, setupDialTimeout)
	defer cancel()
	defer func() {
		_ = d.client.Network().ClosePeer(d.server.ID())
		_ = waitDisconnected(ctx, d.server, d.client.ID())
	}()
	// host.Connect is DialPeer followed by identify. The perf client opens
	// its stream without waiting for identify (perf.Run), so identify is
	// timed alongside, off the path to the first byte.
	if d.trace != nil {
		d.trace.reset()
	}
	t0 := time.Now()
	conn, err := d.client.Network().DialPeer(dctx, d.server.ID())
	s.connect = time.Since(t0)
	if err != nil {
		return s, err
	}
	identified := make(chan time.Duration, 1)
	if d.ids != nil {
		t1 := time.Now()
		wait := d.ids.IdentifyWait(conn)
		go func() {
			select {
			case <-wait:
				identified <- time.Since(t1)
			case <-dctx.Done():
				identified <- -1
			}
		}()
	} else {
		identified <- 0
	}
	var idWait time.Duration
	if d.identifyFirst {
		idWait = <-identified
		identified <- idWait
		if idWait < 0 {
			return s, fmt.Errorf("bench: identify with %s: %w", d.server.ID(), dctx.Err())
		}
	}
	res, err := perf.Run(dctx, d.client, d.server.ID(), 0, 1)
	if id := <-identified; id >= 0 {
		s.identify = id
	} else if err == nil {
		err = fmt.Errorf("bench: identify with %s: %w", d.server.ID(), dctx.Err())
	}
	if err != nil {
		return s, err
	}
	s.firstByte = s.connect + idWait + res.TimeToFirstByte
	if d.trace != nil && !d.identifyFirst {
		up, secStart, secEnd, early := d.trace.phases()
		if !up.IsZero() && !secStart.IsZero() && !secEnd.IsZero() {
			s.phases = []time.Duration{up.Sub(t0), secStart.Sub(up), secEnd.Sub(secStart), s.connect - secEnd.Sub(t0), res.TimeToFirstByte}
			s.earlyMuxer = early
		}
	}
	return s, nil
}

func (d *libp2pDialer) finish(s *Setup) {
	s.ClientPeerstorePeers = len(d.client.Peerstore().Peers())
	s.ServerPeerstorePeers = len(d.server.Peerstore().Peers())
	s.ServerConnsLeft = len(d.server.Network().Conns())
}

func (d *libp2pDialer) Close() error { d.close(); return nil }

// waitDisconnected waits (bounded) until h has no connection to p.
func waitDisconnected(ctx context.Context, h host.Host, p peer.ID) error {
	deadline := time.Now().Add(5 * time.Second)
	for len(h.Network().ConnsToPeer(p)) > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: %s still connected to %s after close", h.ID(), p)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(200 * time.Microsecond)
	}
	return nil
}

type rawDialer struct{ srv *RawServer }

// NewRawDialer starts a baseline server.
func NewRawDialer(kind Raw) (Dialer, error) {
	srv, err := StartRawServer(kind)
	if err != nil {
		return nil, err
	}
	return rawDialer{srv}, nil
}

func (d rawDialer) Name() string { return string(d.srv.kind) }

func (d rawDialer) Once(ctx context.Context) (setupSample, error) {
	var s setupSample
	dctx, cancel := context.WithTimeout(ctx, setupDialTimeout)
	defer cancel()
	t0 := time.Now()
	c, err := d.srv.Dial(dctx)
	s.connect = time.Since(t0)
	if err != nil {
		return s, err
	}
	defer c.Close()
	stop := context.AfterFunc(dctx, func() { _ = c.Close() })
	defer stop()
	res, err := perf.RunStream(c, 0, 1, rawBufSize, t0)
	if err != nil {
		return s, err
	}
	s.firstByte = res.TimeToFirstByte
	return s, nil
}

func (d rawDialer) finish(*Setup) {}

func (d rawDialer) Close() error { return d.srv.Close() }

// MeasureSetup runs n timed connections per dialer (after a few warm-up
// ones), interleaved: each round makes one connection with every dialer,
// starting with a different one each round.
func MeasureSetup(ctx context.Context, ds []Dialer, n int) ([]Setup, error) {
	out := make([]Setup, len(ds))
	for i, d := range ds {
		out[i].Name = d.Name()
	}
	warm := setupWarmup(n)
	for round := range warm + n {
		for k := range ds {
			i := (k + round) % len(ds)
			smp, err := ds[i].Once(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return out, ctx.Err()
				}
				out[i].Errors++
				if out[i].Errors > maxSetupErrors {
					return out, fmt.Errorf("bench: %s setup: %d errors, last: %w", out[i].Name, out[i].Errors, err)
				}
				continue
			}
			if round >= warm {
				out[i].connects = append(out[i].connects, smp.connect)
				out[i].identifies = append(out[i].identifies, smp.identify)
				out[i].firsts = append(out[i].firsts, smp.firstByte)
				for k, p := range smp.phases {
					out[i].phases[k] = append(out[i].phases[k], p)
				}
				out[i].EarlyMuxer = out[i].EarlyMuxer || smp.earlyMuxer
			}
		}
	}
	for i, d := range ds {
		s := &out[i]
		s.Connect, s.Identify, s.FirstByte = Summarize(s.connects), Summarize(s.identifies), Summarize(s.firsts)
		if len(s.phases[0]) > 0 {
			for k, dst := range []**Latency{&s.TCP, &s.SecurityNegotiation, &s.Handshake, &s.Muxer, &s.Stream} {
				l := Summarize(s.phases[k])
				*dst = &l
			}
		}
		d.finish(s)
	}
	return out, nil
}

// MeasureLibp2pSetup measures one libp2p stack alone.
func MeasureLibp2pSetup(ctx context.Context, name string, hc HostConfig, n int) (Setup, error) {
	d, err := NewLibp2pDialer(name, hc)
	if err != nil {
		return Setup{Name: name}, err
	}
	defer d.Close()
	out, err := MeasureSetup(ctx, []Dialer{d}, n)
	return out[0], err
}

// MeasureRawSetup measures one baseline alone.
func MeasureRawSetup(ctx context.Context, kind Raw, n int) (Setup, error) {
	d, err := NewRawDialer(kind)
	if err != nil {
		return Setup{Name: string(kind)}, err
	}
	defer d.Close()
	out, err := MeasureSetup(ctx, []Dialer{d}, n)
	return out[0], err
}
