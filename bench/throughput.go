package bench

import (
	"context"
	"fmt"
	"slices"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"

	"github.com/plexus-p2p/plexus/perf"
)

// Throughput is one transport's single-stream throughput: each run uploads
// BytesEachWay and then downloads as many on one perf stream.
type Throughput struct {
	Name         string `json:"name"`
	Baseline     string `json:"baseline,omitempty"`
	BytesEachWay uint64 `json:"bytes_each_way"`
	Runs         int    `json:"runs"`
	// Medians over the runs, Gbit/s.
	UploadGbps   float64 `json:"upload_gbps"`
	DownloadGbps float64 `json:"download_gbps"`
	// Gbps counts both directions over upload plus download time.
	Gbps    float64   `json:"gbps"`
	AllGbps []float64 `json:"all_gbps"`
	// CPUNsPerByte is process CPU time (user+system, both ends) per byte
	// moved, median over the runs. Less sensitive than Gbps to other load
	// on the machine.
	CPUNsPerByte float64 `json:"cpu_ns_per_byte"`
	// Ratio is Gbps over the baseline's Gbps in the same run.
	Ratio float64 `json:"ratio_to_baseline,omitempty"`
	// CPURatio is the baseline's CPU per byte over this one's (higher is
	// better, like Ratio).
	CPURatio float64 `json:"cpu_ratio_to_baseline,omitempty"`
	// RatioToTLS compares TCP stacks with raw TLS 1.3 too.
	RatioToTLS float64 `json:"ratio_to_raw_tls,omitempty"`
	// CPURatioToTLS is raw TLS's CPU per byte over this one's.
	CPURatioToTLS float64 `json:"cpu_ratio_to_raw_tls,omitempty"`
	Notes         string  `json:"notes,omitempty"`
	// MinGbps and MaxGbps bound AllGbps; SpreadPct is (max-min)/median in
	// percent, how much the runs disagree.
	MinGbps   float64 `json:"min_gbps,omitempty"`
	MaxGbps   float64 `json:"max_gbps,omitempty"`
	SpreadPct float64 `json:"spread_pct,omitempty"`
	// PairRatios are, for a stack measured next to its baseline (Measure-
	// Paired), each run's Gbps over the baseline run next to it; PairRatio
	// is their median, the figure the goals use.
	PairRatios []float64 `json:"pair_ratios,omitempty"`
	PairRatio  float64   `json:"pair_ratio,omitempty"`

	ups, downs, cpus []float64
}

func (t *Throughput) add(res perf.Result, cpu time.Duration) {
	t.Runs++
	up, down := res.UploadBitsPerSecond/1e9, res.DownloadBitsPerSecond/1e9
	both := 0.0
	if d := res.UploadDuration + res.DownloadDuration; d > 0 {
		both = float64(res.Upload+res.Download) * 8 / d.Seconds() / 1e9
	}
	t.AllGbps = append(t.AllGbps, both)
	t.ups = append(t.ups, up)
	t.downs = append(t.downs, down)
	if n := res.Upload + res.Download; n > 0 {
		t.cpus = append(t.cpus, float64(cpu.Nanoseconds())/float64(n))
	}
	t.UploadGbps, t.DownloadGbps, t.Gbps = median(t.ups), median(t.downs), median(t.AllGbps)
	t.CPUNsPerByte = median(t.cpus)
	t.MinGbps, t.MaxGbps = slices.Min(t.AllGbps), slices.Max(t.AllGbps)
	t.SpreadPct = 0
	if t.Gbps > 0 {
		t.SpreadPct = (t.MaxGbps - t.MinGbps) / t.Gbps * 100
	}
}

// last is the Gbps of the latest run.
func (t *Throughput) last() float64 {
	if len(t.AllGbps) == 0 {
		return 0
	}
	return t.AllGbps[len(t.AllGbps)-1]
}

// processCPU is the CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Transferer runs perf exchanges over one transport.
type Transferer interface {
	Name() string
	// Transfer uploads and then downloads n bytes.
	Transfer(ctx context.Context, n uint64) (perf.Result, error)
	Close() error
}

// Libp2pThroughput configures a libp2p Transferer.
type Libp2pThroughput struct {
	Name string
	Host HostConfig
	// ClientBuf and ServerBuf are perf buffer sizes; zero means perf's
	// default (256 KiB).
	ClientBuf, ServerBuf int
}

type libp2pTransferer struct {
	name   string
	client host.Host
	server peer.ID
	ropts  []perf.RunOption
	close  func()
}

// NewLibp2pTransferer starts a server host with a perf service and a
// dial-only client host. Exchanges share one connection.
func NewLibp2pTransferer(c Libp2pThroughput) (Transferer, error) {
	var popts []perf.Option
	var ropts []perf.RunOption
	if c.ServerBuf > 0 {
		popts = append(popts, perf.WithBufferSize(c.ServerBuf))
	}
	if c.ClientBuf > 0 {
		ropts = append(ropts, perf.WithRunBufferSize(c.ClientBuf))
	}
	client, server, closeAll, err := hostPair(c.Host, popts...)
	if err != nil {
		return nil, err
	}
	return &libp2pTransferer{name: c.Name, client: client, server: server.ID(), ropts: ropts, close: closeAll}, nil
}

func (l *libp2pTransferer) Name() string { return l.name }

func (l *libp2pTransferer) Transfer(ctx context.Context, n uint64) (perf.Result, error) {
	res, err := perf.Run(ctx, l.client, l.server, n, n, l.ropts...)
	if err != nil {
		return res, fmt.Errorf("bench: %s: %w", l.name, err)
	}
	return res, nil
}

func (l *libp2pTransferer) Close() error { l.close(); return nil }

type rawTransferer struct {
	srv  *RawServer
	sess *quicSession // QUIC only
}

// NewRawTransferer starts a baseline server. Over TCP each exchange uses a
// fresh connection whose setup is not timed; over QUIC each exchange opens
// a new stream on one connection, as libp2p does.
func NewRawTransferer(ctx context.Context, kind Raw) (Transferer, error) {
	srv, err := StartRawServer(kind)
	if err != nil {
		return nil, err
	}
	r := &rawTransferer{srv: srv}
	if kind == RawQUIC {
		if r.sess, err = srv.dialSession(ctx); err != nil {
			_ = srv.Close()
			return nil, err
		}
	}
	return r, nil
}

func (r *rawTransferer) Name() string { return string(r.srv.kind) }

func (r *rawTransferer) Transfer(ctx context.Context, n uint64) (perf.Result, error) {
	var c RawConn
	var err error
	if r.sess != nil {
		c, err = r.sess.stream(ctx)
	} else {
		c, err = r.srv.Dial(ctx)
	}
	if err != nil {
		return perf.Result{}, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	res, err := perf.RunStream(c, n, n, rawBufSize, time.Now())
	if err != nil {
		return res, fmt.Errorf("bench: %s: %w", r.srv.kind, err)
	}
	return res, nil
}

func (r *rawTransferer) Close() error {
	if r.sess != nil {
		_ = r.sess.Close()
	}
	return r.srv.Close()
}

// hostPair starts a server host with a perf service and a dial-only client
// that knows the server's addresses. close releases everything.
func hostPair(hc HostConfig, perfOpts ...perf.Option) (client, server host.Host, close func(), err error) {
	server, err = NewHost(hc)
	if err != nil {
		return nil, nil, nil, err
	}
	svc, err := perf.New(server, perfOpts...)
	if err != nil {
		_ = server.Close()
		return nil, nil, nil, err
	}
	chc := hc
	chc.NoListen = true
	client, err = NewHost(chc)
	if err != nil {
		_ = svc.Close()
		_ = server.Close()
		return nil, nil, nil, err
	}
	client.Peerstore().AddAddrs(server.ID(), server.Addrs(), peerstore.PermanentAddrTTL)
	return client, server, func() {
		_ = client.Close()
		_ = svc.Close()
		_ = server.Close()
	}, nil
}

// MeasureThroughput warms every transferer up, then runs rounds of one
// exchange of bytes each way on each, interleaved (and starting with a
// different one each round) so that changes in other load on the machine
// hit all of them alike. Results are in the order of ts.
func MeasureThroughput(ctx context.Context, ts []Transferer, bytes uint64, rounds int) ([]Throughput, error) {
	out := make([]Throughput, len(ts))
	for i, t := range ts {
		out[i] = Throughput{Name: t.Name(), BytesEachWay: bytes}
		if _, err := t.Transfer(ctx, 4<<20); err != nil {
			return out, fmt.Errorf("warm-up: %w", err)
		}
	}
	for round := range max(rounds, 1) {
		for k := range ts {
			i := (k + round) % len(ts)
			cpu0 := processCPU()
			res, err := ts[i].Transfer(ctx, bytes)
			if err != nil {
				return out, err
			}
			out[i].add(res, processCPU()-cpu0)
		}
	}
	return out, nil
}

// Pair is a stack measured next to its baseline: indexes into the
// transferers given to MeasurePaired.
type Pair struct{ Stack, Baseline int }

// PairedResult is what MeasurePaired measured.
type PairedResult struct {
	Throughput []Throughput
	// TLSEncryptGbps is the in-memory TLS record encryption rate per CPU
	// second measured once per round (empty when not asked for), and
	// TLSEncryptWallGbps the same runs over wall-clock time.
	TLSEncryptGbps     []float64
	TLSEncryptWallGbps []float64
	CipherSuite        string
}

// MeasurePaired warms every transferer up, then runs rounds in which each
// pair's baseline and stack run back to back (baseline first in even
// rounds, stack first in odd ones; the pairs start at a different one each
// round), so that each baseline runs exactly as often as its stack and each
// stack run has a baseline run next to it under the same load. With tlsMicro
// set it also measures in-memory TLS record encryption (of bytes/4) once per
// round. A transferer in no pair is not measured.
func MeasurePaired(ctx context.Context, ts []Transferer, pairs []Pair, bytes uint64, rounds int, tlsMicro bool) (PairedResult, error) {
	var res PairedResult
	out := make([]Throughput, len(ts))
	for i, t := range ts {
		out[i] = Throughput{Name: t.Name(), BytesEachWay: bytes}
		if _, err := t.Transfer(ctx, 4<<20); err != nil {
			return res, fmt.Errorf("warm-up: %w", err)
		}
	}
	var micro *TLSRecordEncryption
	if tlsMicro {
		var err error
		if micro, err = NewTLSRecordEncryption(ctx); err != nil {
			return res, err
		}
		defer micro.Close()
		res.CipherSuite = micro.CipherSuite
		if _, _, err := micro.Measure(16 << 20); err != nil {
			return res, err
		}
	}
	run := func(i int) error {
		cpu0 := processCPU()
		r, err := ts[i].Transfer(ctx, bytes)
		if err != nil {
			return err
		}
		out[i].add(r, processCPU()-cpu0)
		return nil
	}
	for round := range max(rounds, 1) {
		if micro != nil {
			g, wall, err := micro.Measure(max(bytes/4, 16<<20))
			if err != nil {
				return res, err
			}
			res.TLSEncryptGbps = append(res.TLSEncryptGbps, g)
			res.TLSEncryptWallGbps = append(res.TLSEncryptWallGbps, wall)
		}
		for k := range pairs {
			p := pairs[(k+round)%len(pairs)]
			order := []int{p.Baseline, p.Stack}
			if round%2 == 1 {
				order = []int{p.Stack, p.Baseline}
			}
			for _, i := range order {
				if err := run(i); err != nil {
					return res, err
				}
			}
			st, b := &out[p.Stack], &out[p.Baseline]
			st.PairRatios = append(st.PairRatios, ratio(st.last(), b.last()))
			st.PairRatio = median(st.PairRatios)
		}
	}
	res.Throughput = out
	return res, nil
}

// measureSet builds the transferers, measures them and closes them.
func measureSet(ctx context.Context, build []func() (Transferer, error), bytes uint64, rounds int) ([]Throughput, error) {
	ts, err := buildAll(build)
	defer closeAll(ts)
	if err != nil {
		return nil, err
	}
	return MeasureThroughput(ctx, ts, bytes, rounds)
}

// measurePairedSet builds the transferers, measures them in pairs (with the
// TLS encryption microbenchmark) and closes them.
func measurePairedSet(ctx context.Context, build []func() (Transferer, error), pairs []Pair, bytes uint64, rounds int) (PairedResult, error) {
	ts, err := buildAll(build)
	defer closeAll(ts)
	if err != nil {
		return PairedResult{}, err
	}
	return MeasurePaired(ctx, ts, pairs, bytes, rounds, true)
}

// buildAll builds the transferers in order; on error it returns those built
// so far, for closeAll.
func buildAll(build []func() (Transferer, error)) ([]Transferer, error) {
	var ts []Transferer
	for _, b := range build {
		t, err := b()
		if err != nil {
			return ts, err
		}
		ts = append(ts, t)
	}
	return ts, nil
}

func closeAll(ts []Transferer) {
	for _, t := range ts {
		_ = t.Close()
	}
}

// baselineOf names the baseline a stack is compared with.
func baselineOf(s Stack) Raw {
	switch s {
	case StackTCPTLS:
		return RawTLS
	case StackTCPNoise:
		return RawChaCha
	case StackQUIC:
		return RawQUIC
	default:
		return RawTCP
	}
}

// serverAddrInfo is what a client needs to dial h.
func serverAddrInfo(h host.Host) peer.AddrInfo {
	return peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}
}
