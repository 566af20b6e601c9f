package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Files holds the file sharing figures of issue 12, parsed from the output
// of `go test -bench 'Files(Add|Get|Providers)' -count N ./files` (each
// benchmark reports its figures, with the baseline measured in the same
// run, as metrics).
type Files struct {
	Bytes   uint64        `json:"bytes"`
	Metrics []FilesMetric `json:"metrics"`
}

// FilesMetric is one metric of one benchmark over its runs.
type FilesMetric struct {
	Bench  string    `json:"bench"`  // FilesAdd, FilesGet, FilesGetRAM, FilesProviders
	Name   string    `json:"name"`   // the metric's unit as reported, e.g. get/perf
	Median float64   `json:"median"` // of Values
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Values []float64 `json:"values"` // one per run, in run order
}

// ParseFiles reads go test benchmark output: lines such as
// "BenchmarkFilesGet-2  1  26576189779 ns/op  0.22 get/perf  94.33 get_MB/s".
func ParseFiles(out []byte, size uint64) (*Files, error) {
	f := &Files{Bytes: size}
	idx := map[[2]string]int{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "BenchmarkFiles") {
			continue
		}
		name := strings.TrimPrefix(fields[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i]
		}
		// fields[1] is the iteration count; then value-unit pairs
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return nil, fmt.Errorf("benchmark line %q: %v", sc.Text(), err)
			}
			unit := fields[i+1]
			if unit == "ns/op" {
				continue
			}
			k := [2]string{name, unit}
			j, ok := idx[k]
			if !ok {
				j = len(f.Metrics)
				idx[k] = j
				f.Metrics = append(f.Metrics, FilesMetric{Bench: name, Name: unit})
			}
			f.Metrics[j].Values = append(f.Metrics[j].Values, v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(f.Metrics) == 0 {
		return nil, fmt.Errorf("no BenchmarkFiles lines in the output")
	}
	for i := range f.Metrics {
		m := &f.Metrics[i]
		s := slices.Clone(m.Values)
		slices.Sort(s)
		m.Min, m.Max = s[0], s[len(s)-1]
		if len(s)%2 == 1 {
			m.Median = s[len(s)/2]
		} else {
			m.Median = (s[len(s)/2-1] + s[len(s)/2]) / 2
		}
	}
	return f, nil
}

// Metric returns the metric name of benchmark b, or nil.
func (f *Files) Metric(b, name string) *FilesMetric {
	if f == nil {
		return nil
	}
	for i := range f.Metrics {
		if f.Metrics[i].Bench == b && f.Metrics[i].Name == name {
			return &f.Metrics[i]
		}
	}
	return nil
}

// filesGoals are issue 12's goals on the medians.
func (f *Files) goals() []Goal {
	var gs []Goal
	if m := f.Metric("FilesGet", "get/perf"); m != nil {
		gs = append(gs, Goal{Metric: "files get / perf single stream (median)", Measured: m.Median, Unit: "ratio",
			Goal: ">= 0.5", Reference: "Kubo 0.43.1: 67 MB/s against ~800 MB/s", limit: 0.5})
	}
	if m := f.Metric("FilesGetRAM", "get/perf"); m != nil {
		gs = append(gs, Goal{Metric: "files get in RAM / perf single stream (median; block stores on tmpfs, no disk)", Measured: m.Median,
			Unit: "ratio", Goal: ">= 0.5", Reference: "the same get on disk (row above)", limit: 0.5})
	}
	for _, b := range []string{"FilesAdd", "FilesGet", "FilesGetRAM", "FilesProviders"} {
		if m := f.Metric(b, "rss_growth_MiB"); m != nil {
			gs = append(gs, Goal{Metric: b + " peak RSS growth (max of runs)", Measured: m.Max, Unit: "MiB",
				Goal: "<= 64", Reference: "-", limit: 64, atMost: true})
		}
	}
	return gs
}

// FilesMarkdown renders the file sharing section.
func (r *Report) FilesMarkdown() string {
	f := r.Files
	if f == nil {
		return ""
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	runs := 0
	if len(f.Metrics) > 0 {
		runs = len(f.Metrics[0].Values)
	}
	p("\n## File sharing (issue 12, %s, %d runs)\n\n", sizeString(f.Bytes), runs)
	p("Each run measures its baseline in the same process just before: add against sha256 of the same bytes and the disk's write speed; get (two nodes on loopback, TCP) against the perf protocol's single stream between the same nodes (FilesGetRAM: the same with both block stores on a RAM-backed tmpfs, which tells the transfer's own speed apart from the disk that both nodes share here; busy_cores and iowait_cores: the whole machine's cores busy, and idle waiting on I/O, during the get; disk_requests/s and disk_writes/block: the requests the block stores' device completed during the get, both nodes' and the file system's own); 4 providers against 1. CPU s/GiB is process CPU time (both nodes are in the process) per GiB moved: unlike MB/s it holds when other processes take the cores. rss_growth_MiB is the peak VmRSS growth during the operation.\n\n")
	p("| benchmark | metric | median | min | max | runs |\n|---|---|---|---|---|---|\n")
	for _, m := range f.Metrics {
		p("| %s | %s | %.2f | %.2f | %.2f | %s |\n", m.Bench, m.Name, m.Median, m.Min, m.Max, floats(m.Values))
	}
	gs := f.goals()
	for i := range gs {
		g := &gs[i]
		if g.atMost {
			g.Met = g.Measured <= g.limit
		} else {
			g.Met = g.Measured >= g.limit
		}
	}
	if len(gs) > 0 {
		p("\n| goal | measured | goal | met |\n|---|---|---|---|\n")
		for _, g := range gs {
			met := "no"
			if g.Met {
				met = "yes"
			}
			p("| %s | %.2f %s | %s | %s |\n", g.Metric, g.Measured, g.Unit, g.Goal, met)
		}
	}
	return b.String()
}
