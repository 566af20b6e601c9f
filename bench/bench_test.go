package bench

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
)

// The benchmarks take their sizes from the PLEXUS_BENCH_* environment (see
// Config); PLEXUS_BENCH_CHUNK sets the bytes each way per throughput
// operation (default 64MiB). Examples:
//
//	go test ./bench -run '^$' -bench Throughput -benchtime 5x -cpuprofile cpu.out
//	go test ./bench -run '^$' -bench Setup -benchtime 300x
//	go test ./bench -run '^$' -bench Memory -benchtime 1x

func benchConfig(b *testing.B) Config {
	b.Helper()
	c, err := ConfigFromEnv()
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func benchChunk(b *testing.B) uint64 {
	b.Helper()
	v := os.Getenv("PLEXUS_BENCH_CHUNK")
	if v == "" {
		return 64 << 20
	}
	n, err := ParseSize(v)
	if err != nil {
		b.Fatalf("PLEXUS_BENCH_CHUNK: %v", err)
	}
	return n
}

func benchTransfer(b *testing.B, t Transferer) {
	b.Helper()
	defer t.Close()
	ctx := b.Context()
	chunk := benchChunk(b)
	if _, err := t.Transfer(ctx, 4<<20); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(2 * chunk))
	var cpu, wall float64
	for b.Loop() {
		cpu0 := processCPU()
		res, err := t.Transfer(ctx, chunk)
		if err != nil {
			b.Fatal(err)
		}
		cpu += float64(processCPU() - cpu0)
		wall += float64(res.UploadDuration + res.DownloadDuration)
	}
	b.ReportMetric(cpu/float64(b.N)/float64(2*chunk), "cpu-ns/B")
	b.ReportMetric(float64(b.N)*float64(2*chunk)*8/wall, "Gbit/s")
}

func BenchmarkThroughput(b *testing.B) {
	for _, raw := range ThroughputBaselines {
		b.Run(string(raw), func(b *testing.B) {
			t, err := NewRawTransferer(b.Context(), raw)
			if err != nil {
				b.Fatal(err)
			}
			benchTransfer(b, t)
		})
	}
	for _, st := range ThroughputStacks {
		b.Run(string(st), func(b *testing.B) {
			t, err := NewLibp2pTransferer(Libp2pThroughput{Name: string(st), Host: HostConfig{Stack: st}})
			if err != nil {
				b.Fatal(err)
			}
			benchTransfer(b, t)
		})
	}
}

// BenchmarkTuning runs each tuning variant; filter with -bench 'Tuning/tcp-noise/frame'.
func BenchmarkTuning(b *testing.B) {
	for _, v := range TuningVariants() {
		b.Run(string(v.Stack)+"/"+v.Name, func(b *testing.B) {
			t, err := NewLibp2pTransferer(Libp2pThroughput{Name: v.Name, Host: v.HostConfig(), ClientBuf: v.ClientBuf, ServerBuf: v.ServerBuf})
			if err != nil {
				b.Fatal(err)
			}
			benchTransfer(b, t)
		})
	}
}

func reportSetup(b *testing.B, s Setup) {
	b.ReportMetric(s.FirstByte.P50MS, "p50-ms")
	b.ReportMetric(s.FirstByte.P99MS, "p99-ms")
	b.ReportMetric(s.Connect.P50MS, "connect-p50-ms")
}

func BenchmarkSetup(b *testing.B) {
	for _, raw := range []Raw{RawTCP, RawTLS, RawQUIC} {
		b.Run(string(raw), func(b *testing.B) {
			s, err := MeasureRawSetup(b.Context(), raw, b.N)
			if err != nil {
				b.Fatal(err)
			}
			reportSetup(b, s)
		})
	}
	for _, st := range ThroughputStacks {
		b.Run(string(st), func(b *testing.B) {
			s, err := MeasureLibp2pSetup(b.Context(), string(st), HostConfig{Stack: st}, b.N)
			if err != nil {
				b.Fatal(err)
			}
			reportSetup(b, s)
		})
	}
}

func BenchmarkMemoryIdleHost(b *testing.B) {
	c := benchConfig(b)
	for _, st := range []Stack{StackTCPNoise, StackAll} {
		b.Run(string(st), func(b *testing.B) {
			var m IdleMemory
			for b.Loop() {
				var err error
				if m, err = MeasureIdleHosts(b.Context(), st, c.IdleHosts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(m.RSSPerKB, "rss-KiB/host")
			b.ReportMetric(m.HeapPerKB, "heap-KiB/host")
			b.ReportMetric(m.GoroutinesPer, "goroutines/host")
		})
	}
}

func BenchmarkMemoryIdleConn(b *testing.B) {
	c := benchConfig(b)
	for _, st := range []Stack{StackTCPNoise, StackTCPTLS, StackQUIC} {
		b.Run(string(st), func(b *testing.B) {
			var m IdleMemory
			for b.Loop() {
				var err error
				if m, err = MeasureIdleConns(b.Context(), "idle-conn-"+string(st), HostConfig{Stack: st}, c.IdleConns); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(m.RSSPerKB, "rss-KiB/pair")
			b.ReportMetric(m.HeapPerKB, "heap-KiB/pair")
			b.ReportMetric(m.GoroutinesPer, "goroutines/pair")
		})
	}
}

func BenchmarkManyConns(b *testing.B) {
	c := benchConfig(b)
	var mc ManyConns
	for b.Loop() {
		var err error
		if mc, err = MeasureManyConns(b.Context(), StackTCPNoise, c.ManyConns, c.HighWater); err != nil {
			b.Fatal(err)
		}
	}
	for _, ph := range mc.Phases {
		b.ReportMetric(float64(ph.Succeeded), ph.Name+"-succeeded")
		b.ReportMetric(float64(ph.ConnsAfterTrim), ph.Name+"-after-trim")
		b.ReportMetric(ph.RSSPerConnKB, ph.Name+"-rss-KiB/conn")
	}
}

func TestTransferersMoveExactBytes(t *testing.T) {
	var ts []Transferer
	for _, raw := range ThroughputBaselines {
		tr, err := NewRawTransferer(t.Context(), raw)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, tr)
	}
	var pairs []Pair
	for k, st := range ThroughputStacks {
		tr, err := NewLibp2pTransferer(Libp2pThroughput{Name: string(st), Host: HostConfig{Stack: st}})
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, tr)
		pairs = append(pairs, Pair{Stack: len(ThroughputBaselines) + k, Baseline: slices.Index(ThroughputBaselines, baselineOf(st))})
	}
	// perf fails an exchange that moves a different number of bytes
	// (ErrWrongLength), so every run checks its transport.
	res, err := MeasurePaired(t.Context(), ts, pairs, 3<<20+1, 2, true)
	for _, tr := range ts {
		_ = tr.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res.Throughput {
		if r.Runs != 2 || r.BytesEachWay != 3<<20+1 || len(r.AllGbps) != 2 || r.Gbps <= 0 || r.CPUNsPerByte <= 0 || r.MinGbps > r.Gbps || r.MaxGbps < r.Gbps {
			t.Errorf("%s: %+v", r.Name, r)
		}
		if stack := i >= len(ThroughputBaselines); stack != (len(r.PairRatios) == 2) {
			t.Errorf("%s: pair ratios %v", r.Name, r.PairRatios)
		}
	}
	if len(res.TLSEncryptGbps) != 2 || res.TLSEncryptGbps[0] <= 0 || !strings.HasPrefix(res.CipherSuite, "TLS_") {
		t.Errorf("TLS encryption microbenchmark: %v %q", res.TLSEncryptGbps, res.CipherSuite)
	}
}

// TestChaChaConnShortReadsAndTampering reads a raw ChaCha20-Poly1305 stream
// with a buffer smaller than a message, and sees a flipped ciphertext bit
// refused.
func TestChaChaConnShortReadsAndTampering(t *testing.T) {
	srv, err := StartRawServer(RawChaCha)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := srv.Dial(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Ask for 200,000 bytes back (three messages), upload nothing.
	hdr := make([]byte, 8)
	binary.BigEndian.PutUint64(hdr, 200000)
	if _, err := c.Write(hdr); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, buf := 0, make([]byte, 1000)
	for {
		n, err := c.Read(buf)
		got += n
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v", got, err)
		}
	}
	if got != 200000 {
		t.Fatalf("read %d bytes, want 200000", got)
	}

	keys, err := newChaChaKeys()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	w, err := newChaChaConn(client.(*net.TCPConn), keys, false)
	if err != nil {
		t.Fatal(err)
	}
	// Encrypt a message, flip a bit of its ciphertext, send it raw.
	msg := w.seal.Seal(make([]byte, chachaPrefix), nonce(0), []byte("hello"), nil)
	binary.BigEndian.PutUint16(msg, uint16(len(msg)-chachaPrefix))
	msg[chachaPrefix] ^= 1
	if _, err := client.Write(msg); err != nil {
		t.Fatal(err)
	}
	r, err := newChaChaConn(server.(*net.TCPConn), keys, true)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := r.Read(make([]byte, 100)); err == nil || !strings.Contains(err.Error(), "chacha open") {
		t.Fatalf("tampered message: read %d bytes, err %v; want an authentication error", n, err)
	}
}

func TestBaselineCheckFlagsAnOffBaseline(t *testing.T) {
	sound := PairedResult{TLSEncryptGbps: []float64{30, 32, 31}, CipherSuite: "TLS_AES_128_GCM_SHA256"}
	raw := &Throughput{Name: "raw-tls", AllGbps: []float64{10, 11, 10.5}, SpreadPct: 9.5}
	if c := NewBaselineCheck(sound, raw); c.Flagged || c.RawTLSOverEncrypt < 0.33 || c.RawTLSOverEncrypt > 0.35 {
		t.Errorf("sound baseline: %+v", c)
	}
	// Raw TLS at half its usual share of the encryption rate.
	low := &Throughput{Name: "raw-tls", AllGbps: []float64{3, 3.2, 3.1}, SpreadPct: 6}
	if c := NewBaselineCheck(sound, low); !c.Flagged || !strings.Contains(c.Reason, "outside the sound") || strings.Contains(c.Reason, "busy") {
		t.Errorf("off baseline not flagged: %+v", c)
	}
	wild := &Throughput{Name: "raw-tls", AllGbps: []float64{5, 11, 10.5}, SpreadPct: 57}
	if c := NewBaselineCheck(sound, wild); !c.Flagged || !strings.Contains(c.Reason, "spread") {
		t.Errorf("spread baseline not flagged: %+v", c)
	}
	busy := sound
	busy.TLSEncryptWallGbps = []float64{5, 6, 31}
	if c := NewBaselineCheck(busy, low); !c.Flagged || !strings.Contains(c.Reason, "busy: the microbenchmark got 0.19 of a core") {
		t.Errorf("busy machine not named: %+v", c)
	}
	if c := NewBaselineCheck(PairedResult{}, raw); !c.Flagged {
		t.Errorf("missing microbenchmark not flagged: %+v", c)
	}
}

func TestTuningVariantsBuildHosts(t *testing.T) {
	for _, v := range TuningVariants() {
		tr, err := NewLibp2pTransferer(Libp2pThroughput{Name: v.Name, Host: v.HostConfig(), ClientBuf: v.ClientBuf, ServerBuf: v.ServerBuf})
		if err != nil {
			t.Fatalf("%s/%s: %v", v.Stack, v.Name, err)
		}
		res, err := tr.Transfer(t.Context(), 1<<20)
		_ = tr.Close()
		if err != nil || res.Upload != 1<<20 || res.Download != 1<<20 {
			t.Errorf("%s/%s: %+v, %v", v.Stack, v.Name, res, err)
		}
	}
}

func TestSetupClosesConnections(t *testing.T) {
	for _, st := range []Stack{StackTCPNoise, StackQUIC} {
		s, err := MeasureLibp2pSetup(t.Context(), string(st), HostConfig{Stack: st}, 8)
		if err != nil {
			t.Fatalf("%s: %v", st, err)
		}
		if s.FirstByte.N != 8 || s.Errors != 0 || s.ServerConnsLeft != 0 || s.ServerPeerstorePeers > 2 || s.ClientPeerstorePeers > 2 {
			t.Errorf("%s: %+v", st, s)
		}
		if s.FirstByte.P50MS < s.Connect.P50MS {
			t.Errorf("%s: first byte p50 %.3f ms before connect p50 %.3f ms", st, s.FirstByte.P50MS, s.Connect.P50MS)
		}
		// The TCP stacks break connect down by phase, and negotiate the
		// muxer inside the handshake; QUIC has no such phases.
		if traced := st == StackTCPNoise; (s.TCP != nil) != traced || (s.Handshake != nil) != traced || s.EarlyMuxer != traced {
			t.Errorf("%s: breakdown tcp %v handshake %v early muxer %v, want traced %v", st, s.TCP, s.Handshake, s.EarlyMuxer, traced)
		} else if traced && (s.TCP.N != 8 || s.Stream.N != 8) {
			t.Errorf("%s: breakdown of %d/%d connections, want 8", st, s.TCP.N, s.Stream.N)
		}
	}
	for _, raw := range []Raw{RawTLS, RawQUIC} {
		s, err := MeasureRawSetup(t.Context(), raw, 8)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if s.FirstByte.N != 8 || s.Errors != 0 {
			t.Errorf("%s: %+v", raw, s)
		}
	}
	d, err := NewRawNoiseDialer()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	out, err := MeasureSetup(t.Context(), []Dialer{d}, 8)
	if err != nil || out[0].FirstByte.N != 8 || out[0].Errors != 0 {
		t.Errorf("%s: %+v, %v", RawNoiseXX, out[0], err)
	}
}

func TestManyConnsTrimsToWatermark(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 30 hosts and waits for the connection manager")
	}
	mc, err := MeasureManyConns(t.Context(), StackTCPNoise, 30, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(mc.Phases) != 3 {
		t.Fatalf("phases: %+v", mc.Phases)
	}
	for _, ph := range mc.Phases {
		if ph.Error != "" || !ph.StillServes {
			t.Errorf("%s: error %q, still serves %v (%s)", ph.Name, ph.Error, ph.StillServes, ph.ProbeError)
		}
		if ph.Succeeded != 30 {
			t.Errorf("%s: %d of 30 dials succeeded", ph.Name, ph.Succeeded)
		}
		// 30 clients stay under libp2p's default watermarks; the other
		// phases (high water 10) must trim.
		if ph.Name != "default-limits-libp2p-connmgr" && (ph.PeakConns <= ph.HighWater || ph.ConnsAfterTrim > ph.HighWater) {
			t.Errorf("%s: peak %d, after trim %d (high water %d)", ph.Name, ph.PeakConns, ph.ConnsAfterTrim, ph.HighWater)
		}
	}
}

func TestIdleHostsMemory(t *testing.T) {
	m, err := MeasureIdleHosts(t.Context(), StackTCPNoise, 5)
	if err != nil {
		t.Fatal(err)
	}
	if m.Count != 5 || m.After.RSSBytes == 0 || m.GoroutinesPer < 1 || m.HeapPerKB <= 0 {
		t.Errorf("%+v", m)
	}
}

func TestParseSize(t *testing.T) {
	good := map[string]uint64{"1": 1, "64MiB": 64 << 20, "1GiB": 1 << 30, "3K": 3 << 10, " 2 MiB ": 2 << 20}
	for in, want := range good {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "1TiB", "x", "2000GiB"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want error", in, got)
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("PLEXUS_BENCH_QUICK", "1")
	t.Setenv("PLEXUS_BENCH_BYTES", "8MiB")
	t.Setenv("PLEXUS_BENCH_RUNS", "2")
	c, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if !c.Quick || c.Bytes != 8<<20 || c.Runs != 2 || c.ManyConns != DefaultConfig(true).ManyConns || c.Tuning {
		t.Errorf("%+v", c)
	}
	for name, v := range map[string]string{"PLEXUS_BENCH_RUNS": "0", "PLEXUS_BENCH_MANY_CONNS": "9000", "PLEXUS_BENCH_TUNING": "maybe"} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, v)
			if _, err := ConfigFromEnv(); err == nil {
				t.Errorf("%s=%s accepted", name, v)
			}
		})
	}
}

func TestReportRatiosAndGoals(t *testing.T) {
	r := Report{
		Throughput: []Throughput{
			{Name: "raw-tcp", Gbps: 20, CPUNsPerByte: 0.4},
			{Name: "raw-tls", Gbps: 10, CPUNsPerByte: 1},
			{Name: "raw-chacha", Gbps: 8, CPUNsPerByte: 1.5},
			{Name: "tcp-tls", Baseline: "raw-tls", Gbps: 9.5, CPUNsPerByte: 1.25, PairRatios: []float64{0.8, 0.92, 0.91}, PairRatio: 0.91},
			{Name: "tcp-noise", Baseline: "raw-chacha", Gbps: 5, CPUNsPerByte: 2, PairRatios: []float64{0.6, 0.7, 0.5}, PairRatio: 0.6},
		},
		Setup: []Setup{
			{Name: "raw-tls", FirstByte: Latency{P50MS: 1, P99MS: 2}},
			{Name: "tcp-tls", Baseline: "raw-tls", FirstByte: Latency{P50MS: 1.5, P99MS: 4}},
		},
		IdleHosts: []IdleMemory{{Stack: StackAll, RSSPerKB: 600}},
		IdleConns: []IdleMemory{{Stack: StackTCPTLS, RSSPerKB: 90}},
	}
	r.Finish()
	tt := findThroughput(r.Throughput, "tcp-tls")
	if tt.Ratio != 0.95 || tt.RatioToTLS != 0.95 || tt.CPURatio != 0.8 {
		t.Errorf("tcp-tls ratios: %+v", tt)
	}
	if n := findThroughput(r.Throughput, "tcp-noise"); n.Ratio != 0.625 || n.RatioToTLS != 0.5 {
		t.Errorf("tcp-noise ratios: %+v", n)
	}
	if s := findSetup(r.Setup, "tcp-tls"); s.RatioP50 != 1.5 || s.RatioP99 != 2 {
		t.Errorf("setup ratios: %+v", s)
	}
	met := map[string]bool{}
	for _, g := range r.Goals {
		met[g.Metric] = g.Met
	}
	want := map[string]bool{
		"tcp-tls throughput / raw-tls":         true,
		"tcp-noise throughput / raw-chacha":    false,
		"tcp-tls setup p50 / raw-tls p50":      true,
		"tcp-tls setup p99":                    false,
		"RSS per idle host (TCP+QUIC+WS)":      false,
		"RSS per idle tcp-tls connection pair": true,
		"tcp-tls CPU efficiency / raw-tls":     false,
	}
	for k, v := range want {
		if got, ok := met[k]; !ok || got != v {
			t.Errorf("goal %q met=%v (present %v), want %v; goals %+v", k, got, ok, v, r.Goals)
		}
	}
	// The same figures from a run whose raw TLS baseline was off are not
	// judged.
	r.BaselineCheck = &BaselineCheck{Flagged: true, Reason: "raw TLS ran at 0.09"}
	r.Finish()
	for _, g := range r.Goals {
		if strings.Contains(g.Metric, "throughput /") && (g.Met || !g.Unsound) {
			t.Errorf("flagged run: goal %+v judged", g)
		}
		if g.Metric == "tcp-tls setup p50 / raw-tls p50" && (!g.Met || g.Unsound) {
			t.Errorf("flagged run: setup goal %+v", g)
		}
	}
	md := r.Markdown()
	for _, s := range []string{"not judged: baseline check flagged", "## Goals", "## Single-stream throughput", "| tcp-tls | 0.00 | 0.00 | 9.50 |", "91% (80%, 92%, 91%)", "## Connection setup", "## Memory"} {
		if !strings.Contains(md, s) {
			t.Errorf("markdown lacks %q:\n%s", s, md)
		}
	}
}
