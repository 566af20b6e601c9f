// Package bench is Plexus's benchmark suite: stream throughput, connection
// setup latency, memory per idle host and connection, and one host holding
// thousands of connections, each compared with a same-run baseline (raw
// TCP, raw TLS 1.3, raw quic-go, raw ChaCha20-Poly1305 framed like Noise).
// The libp2p side speaks the perf protocol (/perf/1.0.0, package perf); the
// baselines run the same perf exchange over raw connections. Everything
// runs on loopback. throughput.md explains the throughput figures.
//
// The measurements are plain functions so that both `go test -bench` and
// cmd/benchreport (which writes report.md and report.json) can run them.
package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Config sizes the suite. Every field can be set from the environment
// (ConfigFromEnv); the defaults finish in a few minutes on 2 cores.
type Config struct {
	// Quick selects small sizes for a CI smoke run. Env PLEXUS_BENCH_QUICK=1.
	Quick bool
	// Bytes moved each way per throughput run. Default 1 GiB, quick 64 MiB.
	// Env PLEXUS_BENCH_BYTES (accepts KiB/MiB/GiB suffixes).
	Bytes uint64
	// Runs per throughput measurement; the median is reported. Default 3,
	// quick 1. Env PLEXUS_BENCH_RUNS.
	Runs int
	// SetupConns is how many fresh connections each setup measurement
	// makes. Default 300, quick 40. Env PLEXUS_BENCH_SETUP_CONNS.
	SetupConns int
	// IdleHosts is how many hosts the idle-host memory measurement starts.
	// Default 200, quick 30. Env PLEXUS_BENCH_IDLE_HOSTS.
	IdleHosts int
	// IdleConns is how many connection pairs the idle-connection memory
	// measurement opens. Default 200, quick 30. Env PLEXUS_BENCH_IDLE_CONNS.
	IdleConns int
	// ManyConns is how many client hosts dial the one target host.
	// Default 2000, quick 200. Env PLEXUS_BENCH_MANY_CONNS.
	ManyConns int
	// HighWater is the target's connection-manager high watermark in the
	// many-connections run; low water is 80% of it. Default 1000, quick 100.
	// Env PLEXUS_BENCH_HIGH_WATER.
	HighWater int
	// Tuning adds the tuning variants to the report. Default true, quick
	// false. Env PLEXUS_BENCH_TUNING=0|1.
	Tuning bool
}

// DefaultConfig returns the full-size configuration, or the quick one.
func DefaultConfig(quick bool) Config {
	if quick {
		return Config{Quick: true, Bytes: 64 << 20, Runs: 1, SetupConns: 40, IdleHosts: 30, IdleConns: 30, ManyConns: 200, HighWater: 100}
	}
	return Config{Bytes: 1 << 30, Runs: 3, SetupConns: 300, IdleHosts: 200, IdleConns: 200, ManyConns: 2000, HighWater: 1000, Tuning: true}
}

// ConfigFromEnv reads PLEXUS_BENCH_* variables over the defaults.
func ConfigFromEnv() (Config, error) {
	quick, err := envBool("PLEXUS_BENCH_QUICK", false)
	if err != nil {
		return Config{}, err
	}
	c := DefaultConfig(quick)
	if v := os.Getenv("PLEXUS_BENCH_BYTES"); v != "" {
		n, err := ParseSize(v)
		if err != nil {
			return Config{}, fmt.Errorf("PLEXUS_BENCH_BYTES: %w", err)
		}
		c.Bytes = n
	}
	for _, f := range []struct {
		name string
		dst  *int
	}{
		{"PLEXUS_BENCH_RUNS", &c.Runs},
		{"PLEXUS_BENCH_SETUP_CONNS", &c.SetupConns},
		{"PLEXUS_BENCH_IDLE_HOSTS", &c.IdleHosts},
		{"PLEXUS_BENCH_IDLE_CONNS", &c.IdleConns},
		{"PLEXUS_BENCH_MANY_CONNS", &c.ManyConns},
		{"PLEXUS_BENCH_HIGH_WATER", &c.HighWater},
	} {
		v := os.Getenv(f.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return Config{}, fmt.Errorf("%s=%q: want a positive integer", f.name, v)
		}
		*f.dst = n
	}
	if c.Tuning, err = envBool("PLEXUS_BENCH_TUNING", c.Tuning); err != nil {
		return Config{}, err
	}
	if c.ManyConns > 5000 || c.IdleHosts > 2000 || c.IdleConns > 2000 {
		return Config{}, fmt.Errorf("bench: sizes above the bound (many conns 5000, idle hosts/conns 2000): %+v", c)
	}
	return c, nil
}

func envBool(name string, def bool) (bool, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q: %w", name, v, err)
	}
	return b, nil
}

// ParseSize parses a byte count such as "1073741824", "64MiB" or "1GiB".
func ParseSize(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	mult := uint64(1)
	for _, u := range []struct {
		suffix string
		mult   uint64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseUint(strings.TrimSpace(t), 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("size %q: want a positive byte count like 64MiB", s)
	}
	if n > (1<<40)/mult {
		return 0, fmt.Errorf("size %q: above 1 TiB", s)
	}
	return n * mult, nil
}
