package files_test

// Benchmarks of issue 12, run by `make bench` (bench/run.sh) with
// -benchtime 1x; each reports its figures as metrics, with the baseline
// measured in the same run:
//
//	go test -run '^$' -bench FilesAdd -benchtime 1x ./files
//	go test -run '^$' -bench 'FilesGet$' -benchtime 1x ./files
//	go test -run '^$' -bench FilesGetRAM -benchtime 1x ./files
//	go test -run '^$' -bench FilesProviders -benchtime 1x ./files
//
// PLEXUS_BENCH_FILES_BYTES sets the file size (default 1 GiB).

import (
	"bufio"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	bfiles "github.com/ipfs/boxo/files"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/bench"
	"github.com/plexus-p2p/plexus/files"
	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/node"
)

func benchBytes(b *testing.B) int64 {
	if s := os.Getenv("PLEXUS_BENCH_FILES_BYTES"); s != "" {
		n, err := bench.ParseSize(s)
		if err != nil {
			b.Fatal(err)
		}
		return int64(n)
	}
	return 1 << 30
}

// source is n pseudo-random bytes (ChaCha8), generated as read.
func source(seed byte, n int64) io.Reader {
	var s [32]byte
	s[0] = seed
	return io.LimitReader(rand.NewChaCha8(s), n)
}

func mbps(n int64, d time.Duration) float64 { return float64(n) / d.Seconds() / 1e6 }

// cpuTime is the CPU time (user + system) this process has used: both
// nodes of a benchmark run in it, so it is the whole transfer's cost, which
// holds even when other processes take the cores (wall time does not).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuPerGiB is CPU seconds per GiB moved.
func cpuPerGiB(d time.Duration, n int64) float64 { return d.Seconds() / (float64(n) / (1 << 30)) }

// rssPeak samples VmRSS every 10 ms until stop, returning the growth of
// its peak over the RSS at start (after a GC).
type rssPeak struct {
	base, peak atomic.Uint64
	done       chan struct{}
	stopped    chan struct{}
}

func vmRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			kb, _ := strconv.ParseUint(strings.Fields(l)[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func startRSS() *rssPeak {
	runtime.GC()
	debug.FreeOSMemory()
	r := &rssPeak{done: make(chan struct{}), stopped: make(chan struct{})}
	r.base.Store(vmRSS())
	r.peak.Store(r.base.Load())
	go func() {
		defer close(r.stopped)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-r.done:
				return
			case <-t.C:
				if v := vmRSS(); v > r.peak.Load() {
					r.peak.Store(v)
				}
			}
		}
	}()
	return r
}

// stop returns the peak growth in MiB.
func (r *rssPeak) stop() float64 {
	close(r.done)
	<-r.stopped
	return float64(r.peak.Load()-r.base.Load()) / (1 << 20)
}

// BenchmarkFilesAdd: add of a file from disk against sha256 of the same
// bytes (the floor: add hashes every byte once) and against the disk's
// write speed (writing the source file, with an fsync at the end as the
// commit sync policy does once per add).
func BenchmarkFilesAdd(b *testing.B) {
	n := benchBytes(b)
	dir := b.TempDir()
	src := filepath.Join(dir, "source")
	for range b.N {
		start := time.Now()
		f, err := os.Create(src)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyBuffer(f, source(1, n), make([]byte, 256<<10)); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		f.Close()
		disk := mbps(n, time.Since(start))

		start = time.Now()
		f, _ = os.Open(src)
		h := sha256.New()
		io.CopyBuffer(h, f, make([]byte, 256<<10))
		f.Close()
		sha := mbps(n, time.Since(start))

		s := newBenchService(b, filepath.Join(dir, "blocks"))
		f, _ = os.Open(src)
		rss := startRSS()
		start = time.Now()
		added, err := s.Add(context.Background(), bfiles.NewReaderFile(bufio.NewReaderSize(f, 1<<20)), files.AddOptions{Pin: true})
		d := time.Since(start)
		growth := rss.stop()
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		add := mbps(n, d)
		b.Logf("add %d bytes -> %s (%d blocks): add %.0f MB/s, sha256 %.0f MB/s, disk write %.0f MB/s, RSS +%.1f MiB",
			n, added.CID, added.Blocks, add, sha, disk, growth)
		b.ReportMetric(add, "add_MB/s")
		b.ReportMetric(sha, "sha256_MB/s")
		b.ReportMetric(disk, "disk_MB/s")
		b.ReportMetric(add/sha, "add/sha256")
		b.ReportMetric(add/disk, "add/disk")
		b.ReportMetric(growth, "rss_growth_MiB")
		s.Close()
		os.RemoveAll(filepath.Join(dir, "blocks"))
	}
}

func newBenchService(b *testing.B, dir string) *files.Service {
	b.Helper()
	opts := []files.Option{files.WithBlocksDir(dir), files.WithLogger(testnet.Quiet)}
	if p := os.Getenv("PLEXUS_BENCH_FILES_SYNC"); p != "" {
		opts = append(opts, files.WithSync(p))
	}
	s, err := files.New(nil, mapDatastore(), nil, opts...)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// startFileNodes starts n nodes on loopback (TCP only) with blocks on disk.
func startFileNodes(b *testing.B, n int) []*node.Node {
	return startFileNodesIn(b, n, "")
}

// startFileNodesIn is startFileNodes with the block stores under root
// ("": the test's temporary directory).
func startFileNodesIn(b *testing.B, n int, root string) []*node.Node {
	return testnet.Start(b, n, testnet.Options{Mutate: func(i int, c *node.Config) {
		if os.Getenv("PLEXUS_BENCH_FILES_MEMORY") == "" {
			c.BlocksPath = b.TempDir()
			if root != "" {
				dir, err := os.MkdirTemp(root, "plexus-bench-blocks-")
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { os.RemoveAll(dir) })
				c.BlocksPath = dir
			}
		}
		c.Transports.QUIC = false
		c.Network.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	}})
}

// addAndProvide adds n bytes (seed) on nd and waits until the DHT has the
// provider record.
func addAndProvide(b *testing.B, nd *node.Node, seed byte, n int64) files.Added {
	b.Helper()
	sub := nd.Events().Subscribe(256)
	defer sub.Close()
	added, err := nd.Files().Add(context.Background(), bfiles.NewReaderFile(source(seed, n)), files.AddOptions{Pin: true})
	if err != nil {
		b.Fatal(err)
	}
	deadline := time.After(time.Minute)
	for {
		select {
		case ev := <-sub.C():
			if p, ok := ev.Data.(files.ProvidedEvent); ok && p.CID == added.CID {
				return added
			}
		case <-deadline:
			b.Fatal("no files.provided within a minute")
		}
	}
}

// fetchMeasuredCPU fetches c on nd: MB/s, peak RSS growth in MiB, CPU
// seconds per GiB (both nodes are in this process) and the result.
func fetchMeasuredCPU(b *testing.B, nd *node.Node, c cid.Cid, n int64) (float64, float64, float64, files.Fetched) {
	b.Helper()
	rss := startRSS()
	if p := os.Getenv("PLEXUS_BENCH_FILES_CPUPROFILE"); p != "" {
		// a profile of the fetch alone (go test -cpuprofile covers the add too)
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	cpu0 := cpuTime()
	start := time.Now()
	got, err := nd.Files().Fetch(context.Background(), c, nil)
	d := time.Since(start)
	cpu := cpuTime() - cpu0
	growth := rss.stop()
	if err != nil {
		b.Fatal(err)
	}
	return mbps(n, d), growth, cpuPerGiB(cpu, n), got
}

// sha256Speed hashes n bytes in 256 KiB blocks in memory (what a get
// verifies): the floor of a get on one core, for context.
func sha256Speed(n int64) float64 {
	buf := make([]byte, files.ChunkSize)
	io.ReadFull(source(9, int64(len(buf))), buf)
	start := time.Now()
	for done := int64(0); done < n; done += int64(len(buf)) {
		sha256.Sum256(buf)
	}
	return mbps(n, time.Since(start))
}

// BenchmarkFilesGet: get of a file between two nodes on loopback against
// the perf protocol's single stream between the same nodes, in the same run.
// busy_cores and iowait_cores are the whole machine's during the get (of
// its 2 cores here): iowait with idle cores means the disk sets the pace.
func BenchmarkFilesGet(b *testing.B) {
	benchGet(b, startFileNodes(b, 2))
}

// BenchmarkFilesGetRAM is BenchmarkFilesGet with both nodes' block stores
// on a RAM-backed file system (/dev/shm): the same code path (flatfs; the
// file system has no O_DIRECT, so blocks go through its page cache) without
// the disk, which both nodes share on one machine. It tells the transfer's
// own speed apart from the disk's.
func BenchmarkFilesGetRAM(b *testing.B) {
	const root = "/dev/shm"
	var st syscall.Statfs_t
	if err := syscall.Statfs(root, &st); err != nil || st.Type != tmpfsMagic {
		b.Skipf("%s is not a tmpfs here", root)
	}
	if free := int64(st.Bavail) * int64(st.Bsize); free < 3*benchBytes(b) {
		b.Skipf("%s has %d bytes free; the benchmark needs 3 times the file size", root, free)
	}
	benchGet(b, startFileNodesIn(b, 2, root))
}

// tmpfsMagic is TMPFS_MAGIC, statfs(2)'s f_type of a tmpfs.
const tmpfsMagic = 0x01021994

func benchGet(b *testing.B, nodes []*node.Node) {
	n := benchBytes(b)
	added := addAndProvide(b, nodes[0], 2, n)
	for range b.N {
		cpu0 := cpuTime()
		res, err := nodes[1].Perf(context.Background(), peer.AddrInfo{ID: nodes[0].ID()}, 0, uint64(n), "", nil)
		if err != nil {
			b.Fatal(err)
		}
		perfCPU := cpuPerGiB(cpuTime()-cpu0, n)
		perf := mbps(n, res.DownloadDuration)
		sha := sha256Speed(n)
		m0, mok := readMachineCPU()
		get, growth, getCPU, got := fetchMeasuredCPU(b, nodes[1], added.CID, n)
		m1, _ := readMachineCPU()
		b.Logf("get %d bytes (%d blocks from %d peer): %.0f MB/s; perf single stream %.0f MB/s; ratio %.2f; CPU s/GiB get %.2f, perf %.2f (ratio %.2f); sha256 %.0f MB/s; RSS +%.1f MiB (both nodes, one process)",
			n, got.Blocks, got.Peers, get, perf, get/perf, getCPU, perfCPU, perfCPU/getCPU, sha, growth)
		b.ReportMetric(sha, "sha256_MB/s")
		b.ReportMetric(get, "get_MB/s")
		b.ReportMetric(perf, "perf_MB/s")
		b.ReportMetric(get/perf, "get/perf")
		b.ReportMetric(getCPU, "get_cpu_s/GiB")
		b.ReportMetric(perfCPU, "perf_cpu_s/GiB")
		b.ReportMetric(perfCPU/getCPU, "perf_cpu/get_cpu")
		b.ReportMetric(growth, "rss_growth_MiB")
		if mok {
			busy, iowait := m1.since(m0)
			b.Logf("machine during the get: %.2f cores busy, %.2f cores idle waiting on I/O (of %d)", busy, iowait, runtime.NumCPU())
			b.ReportMetric(busy, "busy_cores")
			b.ReportMetric(iowait, "iowait_cores")
		}
		// forget the fetched copy for the next round
		if _, err := nodes[1].Files().GC(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// machineCPU is the whole machine's CPU time from /proc/stat, in clock ticks.
type machineCPU struct{ busy, iowait, total uint64 }

// readMachineCPU reads /proc/stat's cpu line; ok is false where there is none.
func readMachineCPU() (m machineCPU, ok bool) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return m, false
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return m, false
	}
	// user nice system idle iowait irq softirq steal
	for i, f := range fields[1:9] {
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return m, false
		}
		m.total += v
		switch i {
		case 3: // idle
		case 4:
			m.iowait += v
		default:
			m.busy += v
		}
	}
	return m, true
}

// since returns the cores busy and the cores idle waiting on I/O between
// m0 and m, averaged over the interval.
func (m machineCPU) since(m0 machineCPU) (busy, iowait float64) {
	total := float64(m.total - m0.total)
	if total == 0 {
		return 0, 0
	}
	cores := float64(runtime.NumCPU())
	return cores * float64(m.busy-m0.busy) / total, cores * float64(m.iowait-m0.iowait) / total
}

// BenchmarkFilesProviders: get from 4 providers at once against from 1
// (all nodes share this machine's cores).
func BenchmarkFilesProviders(b *testing.B) {
	n := benchBytes(b)
	nodes := startFileNodes(b, 5)
	added := addAndProvide(b, nodes[0], 3, n)
	getter := nodes[4]
	for range b.N {
		one, growth1, cpu1, got1 := fetchMeasuredCPU(b, getter, added.CID, n)
		if _, err := getter.Files().GC(context.Background()); err != nil {
			b.Fatal(err)
		}
		for i := 1; i < 4; i++ {
			addAndProvide(b, nodes[i], 3, n)
		}
		four, growth4, cpu4, got4 := fetchMeasuredCPU(b, getter, added.CID, n)
		b.Logf("get %d bytes: 1 provider %.0f MB/s (%d peer, %d blocks), 4 providers %.0f MB/s (%d peers, %d blocks); ratio %.2f; CPU s/GiB %.2f / %.2f; RSS +%.1f / +%.1f MiB",
			n, one, got1.Peers, got1.Blocks, four, got4.Peers, got4.Blocks, four/one, cpu1, cpu4, growth1, growth4)
		b.ReportMetric(cpu1, "get1_cpu_s/GiB")
		b.ReportMetric(cpu4, "get4_cpu_s/GiB")
		b.ReportMetric(one, "get1_MB/s")
		b.ReportMetric(four, "get4_MB/s")
		b.ReportMetric(four/one, "get4/get1")
		b.ReportMetric(float64(got4.Peers), "peers")
		b.ReportMetric(max(growth1, growth4), "rss_growth_MiB")
		if _, err := getter.Files().GC(context.Background()); err != nil {
			b.Fatal(err)
		}
		for i := 1; i < 4; i++ {
			nodes[i].Files().Unpin(context.Background(), added.CID)
			nodes[i].Files().GC(context.Background())
		}
	}
}
