package bench

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
)

// Sections are the parts of the suite, in the order the report runs them.
var Sections = []string{"throughput", "setup", "memory", "manyconns", "tuning"}

// Suite runs the sections with one Config.
type Suite struct {
	Config Config
	Log    *slog.Logger
}

func (s *Suite) log() *slog.Logger {
	if s.Log == nil {
		return slog.Default().With(slog.String("component", "bench"))
	}
	return s.Log
}

// Run runs one section and stores its figures in r.
func (s *Suite) Run(ctx context.Context, section string, r *Report) error {
	switch section {
	case "throughput":
		return s.throughput(ctx, r)
	case "setup":
		return s.setup(ctx, r)
	case "memory":
		return s.memory(ctx, r)
	case "manyconns":
		return s.manyConns(ctx, r)
	case "tuning":
		return s.tuning(ctx, r)
	}
	return fmt.Errorf("bench: unknown section %q (have %v)", section, Sections)
}

// ThroughputStacks are the libp2p stacks the throughput and setup sections measure.
var ThroughputStacks = []Stack{StackTCPNoise, StackTCPTLS, StackQUIC, StackWSNoise}

// ThroughputBaselines are the raw transports the throughput section
// measures, in report order.
var ThroughputBaselines = []Raw{RawTCP, RawTLS, RawQUIC, RawChaCha}

func (s *Suite) throughput(ctx context.Context, r *Report) error {
	c := s.Config
	var build []func() (Transferer, error)
	for _, raw := range ThroughputBaselines {
		build = append(build, func() (Transferer, error) { return NewRawTransferer(ctx, raw) })
	}
	var pairs []Pair
	for k, st := range ThroughputStacks {
		build = append(build, func() (Transferer, error) {
			return NewLibp2pTransferer(Libp2pThroughput{Name: string(st), Host: HostConfig{Stack: st}})
		})
		pairs = append(pairs, Pair{Stack: len(ThroughputBaselines) + k, Baseline: slices.Index(ThroughputBaselines, baselineOf(st))})
	}
	s.log().Info("throughput", slog.Uint64("bytes", c.Bytes), slog.Int("rounds", c.Runs))
	res, err := measurePairedSet(ctx, build, pairs, c.Bytes, c.Runs)
	if err != nil {
		return err
	}
	ts := res.Throughput
	for i := range ts {
		if i >= len(ThroughputBaselines) {
			ts[i].Baseline = string(baselineOf(ThroughputStacks[i-len(ThroughputBaselines)]))
		}
		s.log().Info("throughput done", slog.String("name", ts[i].Name), slog.Float64("gbps", ts[i].Gbps), slog.Float64("spread_pct", ts[i].SpreadPct), slog.Float64("pair_ratio", ts[i].PairRatio), slog.Float64("cpu_ns_per_byte", ts[i].CPUNsPerByte))
	}
	r.Throughput = append(r.Throughput, ts...)
	r.BaselineCheck = NewBaselineCheck(res, findThroughput(ts, string(RawTLS)))
	s.log().Info("baseline check", slog.Float64("tls_encrypt_gbps", r.BaselineCheck.TLSEncryptGbps), slog.Float64("raw_tls_over_encrypt", r.BaselineCheck.RawTLSOverEncrypt), slog.Bool("flagged", r.BaselineCheck.Flagged), slog.String("reason", r.BaselineCheck.Reason))
	return nil
}

func (s *Suite) setup(ctx context.Context, r *Report) error {
	n := s.Config.SetupConns
	var ds []Dialer
	defer func() {
		for _, d := range ds {
			_ = d.Close()
		}
	}()
	for _, raw := range []Raw{RawTCP, RawTLS, RawQUIC} {
		d, err := NewRawDialer(raw)
		if err != nil {
			return err
		}
		ds = append(ds, d)
	}
	nd, err := NewRawNoiseDialer()
	if err != nil {
		return err
	}
	ds = append(ds, nd)
	const raws = 4
	for _, stack := range ThroughputStacks {
		d, err := NewLibp2pDialer(string(stack), HostConfig{Stack: stack})
		if err != nil {
			return err
		}
		ds = append(ds, d)
	}
	// The same TLS stack waiting for identify before its stream, as
	// go-libp2p's host.NewStream does: what not waiting saves, in this run.
	idf, err := NewIdentifyFirstDialer(string(StackTCPTLS)+"/identify-first", HostConfig{Stack: StackTCPTLS})
	if err != nil {
		return err
	}
	ds = append(ds, idf)
	s.log().Info("setup", slog.Int("conns", n), slog.Int("transports", len(ds)))
	out, err := MeasureSetup(ctx, ds, n)
	if err != nil {
		return err
	}
	for i := range out {
		if i >= raws {
			// Each stack is compared with the raw handshake of its crypto.
			stack := StackTCPTLS
			if i-raws < len(ThroughputStacks) {
				stack = ThroughputStacks[i-raws]
			}
			switch stack {
			case StackQUIC:
				out[i].Baseline = string(RawQUIC)
			case StackTCPNoise, StackWSNoise:
				out[i].Baseline = string(RawNoiseXX)
			default:
				out[i].Baseline = string(RawTLS)
			}
		}
		s.log().Info("setup done", slog.String("name", out[i].Name), slog.Float64("p50_ms", out[i].FirstByte.P50MS), slog.Float64("p99_ms", out[i].FirstByte.P99MS))
	}
	r.Setup = append(r.Setup, out...)
	return nil
}

func (s *Suite) memory(ctx context.Context, r *Report) error {
	c := s.Config
	s.log().Info("memory warm-up")
	if err := WarmUpMemory(ctx, max(c.IdleHosts, c.IdleConns)); err != nil {
		return err
	}
	for _, stack := range []Stack{StackTCPNoise, StackAll} {
		s.log().Info("idle hosts", slog.String("stack", string(stack)), slog.Int("hosts", c.IdleHosts))
		m, err := MeasureIdleHosts(ctx, stack, c.IdleHosts)
		if err != nil {
			return err
		}
		r.IdleHosts = append(r.IdleHosts, m)
	}
	for _, stack := range []Stack{StackTCPNoise, StackTCPTLS, StackQUIC} {
		s.log().Info("idle conns", slog.String("stack", string(stack)), slog.Int("pairs", c.IdleConns))
		m, err := MeasureIdleConns(ctx, "idle-conn-"+string(stack), HostConfig{Stack: stack}, c.IdleConns)
		if err != nil {
			return err
		}
		r.IdleConns = append(r.IdleConns, m)
	}
	return nil
}

func (s *Suite) manyConns(ctx context.Context, r *Report) error {
	c := s.Config
	s.log().Info("many conns", slog.Int("clients", c.ManyConns), slog.Int("high_water", c.HighWater))
	mc, err := MeasureManyConns(ctx, StackTCPNoise, c.ManyConns, c.HighWater)
	if err != nil {
		return err
	}
	r.ManyConns = &mc
	return nil
}

// tuningBytes is how much each tuning run moves each way: a quarter of the
// main size, at least 64 MiB.
func (s *Suite) tuningBytes() uint64 { return max(s.Config.Bytes/4, 64<<20) }

// tuningRounds is at least 5: the variants differ by less than the noise
// of a shared machine.
func (s *Suite) tuningRounds() int { return max(s.Config.Runs, 5) }

func (s *Suite) tuning(ctx context.Context, r *Report) error {
	bytes := s.tuningBytes()
	byStack := map[Stack][]Variant{}
	var stacks []Stack
	for _, v := range TuningVariants() {
		if _, ok := byStack[v.Stack]; !ok {
			stacks = append(stacks, v.Stack)
		}
		byStack[v.Stack] = append(byStack[v.Stack], v)
	}
	for _, st := range stacks {
		vs := byStack[st]
		var build []func() (Transferer, error)
		for _, v := range vs {
			build = append(build, func() (Transferer, error) {
				return NewLibp2pTransferer(Libp2pThroughput{
					Name: string(v.Stack) + "/" + v.Name, Host: v.HostConfig(),
					ClientBuf: v.ClientBuf, ServerBuf: v.ServerBuf,
				})
			})
		}
		s.log().Info("tuning", slog.String("stack", string(st)), slog.Int("variants", len(vs)), slog.Uint64("bytes", bytes))
		ts, err := measureSet(ctx, build, bytes, s.tuningRounds())
		if err != nil {
			return err
		}
		for i := range ts {
			ts[i].Baseline = string(st) + "/default"
			ts[i].Notes = vs[i].Description
			s.log().Info("tuning done", slog.String("name", ts[i].Name), slog.Float64("gbps", ts[i].Gbps), slog.Float64("cpu_ns_per_byte", ts[i].CPUNsPerByte))
		}
		r.Tuning = append(r.Tuning, ts...)
	}
	s.log().Info("memory warm-up")
	if err := WarmUpMemory(ctx, s.Config.IdleConns); err != nil {
		return err
	}
	for _, v := range MemoryVariants() {
		s.log().Info("tuning memory", slog.String("stack", string(v.Stack)), slog.String("variant", v.Name))
		m, err := MeasureIdleConns(ctx, string(v.Stack)+"/"+v.Name, v.HostConfig(), s.Config.IdleConns)
		if err != nil {
			return err
		}
		r.TuningMemory = append(r.TuningMemory, m)
	}
	return nil
}
