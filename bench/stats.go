package bench

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Latency summarises a set of durations in milliseconds.
type Latency struct {
	N      int     `json:"n"`
	P50MS  float64 `json:"p50_ms"`
	P90MS  float64 `json:"p90_ms"`
	P99MS  float64 `json:"p99_ms"`
	MeanMS float64 `json:"mean_ms"`
	MinMS  float64 `json:"min_ms"`
	MaxMS  float64 `json:"max_ms"`
}

// Summarize computes percentiles (nearest rank) of ds.
func Summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	ms := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return Latency{
		N:      len(s),
		P50MS:  ms(rank(0.50)),
		P90MS:  ms(rank(0.90)),
		P99MS:  ms(rank(0.99)),
		MeanMS: ms(sum / time.Duration(len(s))),
		MinMS:  ms(s[0]),
		MaxMS:  ms(s[len(s)-1]),
	}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// MemSample is the process's memory at one moment, after a full GC.
type MemSample struct {
	RSSBytes       uint64 `json:"rss_bytes"`
	HeapInuseBytes uint64 `json:"heap_inuse_bytes"`
	StackBytes     uint64 `json:"stack_inuse_bytes"`
	Goroutines     int    `json:"goroutines"`
}

// SampleMemory runs the GC, returns freed memory to the OS, and samples
// VmRSS from /proc/self/status and the runtime's counters.
func SampleMemory() (MemSample, error) {
	for range 2 {
		runtime.GC()
		debug.FreeOSMemory()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss, err := procStatusKB("VmRSS")
	if err != nil {
		return MemSample{}, err
	}
	return MemSample{
		RSSBytes:       rss * 1024,
		HeapInuseBytes: ms.HeapInuse,
		StackBytes:     ms.StackInuse,
		Goroutines:     runtime.NumGoroutine(),
	}, nil
}

// procStatusKB reads a "Name:   123 kB" line of /proc/self/status.
func procStatusKB(name string) (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("bench: read memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != name {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			break
		}
		n, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bench: parse %s %q: %w", name, v, err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("bench: %s not in /proc/self/status", name)
}

// Machine describes where the suite ran.
type Machine struct {
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	MemoryMB   uint64 `json:"memory_mb"`
	OS         string `json:"os"`
	Kernel     string `json:"kernel,omitempty"`
	Go         string `json:"go"`
	Libp2p     string `json:"go_libp2p"`
	QUICGo     string `json:"quic_go"`
	Date       string `json:"date"`
}

// DescribeMachine gathers Machine from /proc and the build info.
func DescribeMachine() Machine {
	m := Machine{
		Cores:      runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		OS:         runtime.GOOS + "/" + runtime.GOARCH,
		Go:         runtime.Version(),
		Date:       time.Now().UTC().Format(time.RFC3339),
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && k == "MemTotal" {
				if f := strings.Fields(v); len(f) > 0 {
					kb, _ := strconv.ParseUint(f[0], 10, 64)
					m.MemoryMB = kb / 1024
				}
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			switch d.Path {
			case "github.com/libp2p/go-libp2p":
				m.Libp2p = d.Version
			case "github.com/quic-go/quic-go":
				m.QUICGo = d.Version
			}
		}
	}
	return m
}
