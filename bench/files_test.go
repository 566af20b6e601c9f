package bench

import (
	"strings"
	"testing"
)

func TestParseFiles(t *testing.T) {
	out := `goos: linux
BenchmarkFilesGet-2   	       1	26576189779 ns/op	         0.2211 get/perf	        94.33 get_MB/s	       426.6 perf_MB/s	        63.40 rss_growth_MiB
--- BENCH: BenchmarkFilesGet-2
    bench_test.go:240: get 1073741824 bytes
BenchmarkFilesGet-2   	       1	26576189779 ns/op	         0.6 get/perf	        200 get_MB/s	       333.3 perf_MB/s	        70 rss_growth_MiB
BenchmarkFilesGet-2   	       1	26576189779 ns/op	         0.5 get/perf	        150 get_MB/s	       300 perf_MB/s	        10 rss_growth_MiB
BenchmarkFilesAdd-2   	       1	1 ns/op	         300 add_MB/s
BenchmarkFilesGetRAM-2   	       1	1 ns/op	         0.45 get/perf	        1.6 busy_cores	        0 iowait_cores
ok  	github.com/plexus-p2p/plexus/files	32.577s
`
	f, err := ParseFiles([]byte(out), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	m := f.Metric("FilesGet", "get/perf")
	if m == nil || m.Median != 0.5 || m.Min != 0.2211 || m.Max != 0.6 || len(m.Values) != 3 || m.Values[0] != 0.2211 {
		t.Fatalf("get/perf: %+v", m)
	}
	if a := f.Metric("FilesAdd", "add_MB/s"); a == nil || a.Median != 300 {
		t.Fatalf("add_MB/s: %+v", a)
	}
	r := Report{Files: f}
	r.Finish()
	var met, rss, ram bool
	for _, g := range r.Goals {
		if strings.HasPrefix(g.Metric, "files get / perf") {
			met = g.Met
		}
		if strings.HasPrefix(g.Metric, "files get in RAM / perf") {
			ram = !g.Met && g.Measured == 0.45
		}
		if strings.HasPrefix(g.Metric, "FilesGet peak RSS") {
			rss = !g.Met && g.Measured == 70
		}
	}
	if !met || !rss || !ram {
		t.Fatalf("goals: %+v", r.Goals)
	}
	md := r.FilesMarkdown()
	if !strings.Contains(md, "| FilesGet | get/perf | 0.50 | 0.22 | 0.60 | 0.22, 0.60, 0.50 |") || !strings.Contains(md, "1 GiB, 3 runs") ||
		!strings.Contains(md, "| FilesGetRAM | iowait_cores | 0.00 |") {
		t.Fatalf("markdown:\n%s", md)
	}
	if _, err := ParseFiles([]byte("PASS\n"), 1); err == nil {
		t.Fatal("no benchmark lines: want an error")
	}
}
