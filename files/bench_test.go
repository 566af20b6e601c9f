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
	"fmt"
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

	"golang.org/x/sys/unix"

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
	nodes, _ := startFileNodesDirs(b, n, "")
	return nodes
}

// startFileNodesDirs is startFileNodes with the block stores under root
// ("": the test's temporary directory), also returning each node's block
// store directory ("" when in memory).
func startFileNodesDirs(b *testing.B, n int, root string) ([]*node.Node, []string) {
	dirs := make([]string, n)
	nodes := testnet.Start(b, n, testnet.Options{Mutate: func(i int, c *node.Config) {
		if os.Getenv("PLEXUS_BENCH_FILES_MEMORY") == "" {
			c.BlocksPath = blocksDir(b, root)
			dirs[i] = c.BlocksPath
		}
		c.Transports.QUIC = false
		c.Network.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	}})
	return nodes, dirs
}

// blocksDir is a new block store directory under root ("": the
// benchmark's temporary directory), removed at the end.
func blocksDir(b *testing.B, root string) string {
	if root == "" {
		return b.TempDir()
	}
	dir, err := os.MkdirTemp(root, "plexus-bench-blocks-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
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

// fetchRun is what fetchMeasured measured of one fetch of n bytes.
type fetchRun struct {
	got       files.Fetched
	mbps      float64
	rssMiB    float64 // peak RSS growth
	cpuPerGiB float64 // process CPU seconds per GiB (both nodes are in this process)
	// the whole machine's cores busy and idle waiting on I/O (machineOK:
	// measured), and the requests of the device named to fetchMeasured
	// (diskOK: measured), over the fetch alone
	busy, iowait float64
	machineOK    bool
	disk         diskStats
	diskOK       bool
	seconds      float64
}

// fetchMeasured fetches c on nd and measures it; dev names the block
// device whose requests to count ("": none).
func fetchMeasured(b *testing.B, nd *node.Node, c cid.Cid, n int64, dev string) fetchRun {
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
	m0, mok := readMachineCPU()
	d0, dok := readDiskStats(dev)
	cpu0 := cpuTime()
	start := time.Now()
	got, err := nd.Files().Fetch(context.Background(), c, nil)
	d := time.Since(start)
	cpu := cpuTime() - cpu0
	d1, dok1 := readDiskStats(dev)
	m1, mok1 := readMachineCPU()
	growth := rss.stop()
	if err != nil {
		b.Fatal(err)
	}
	r := fetchRun{got: got, mbps: mbps(n, d), rssMiB: growth, cpuPerGiB: cpuPerGiB(cpu, n), seconds: d.Seconds(),
		machineOK: mok && mok1, diskOK: dok && dok1}
	if r.machineOK {
		r.busy, r.iowait = m1.since(m0)
	}
	if r.diskOK {
		r.disk = d1.since(d0)
	}
	return r
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
	nodes, dirs := startFileNodesDirs(b, 2, "")
	benchGet(b, nodes, dirs)
}

// BenchmarkFilesGetRAM is BenchmarkFilesGet with both nodes' block stores
// on a RAM-backed file system (/dev/shm): the same code path (the flatfs
// layout, blocks written directly where the file system accepts O_DIRECT,
// as tmpfs does since Linux 6.6) without the disk, which both nodes share
// on one machine. It tells the transfer's own speed apart from the disk's.
func BenchmarkFilesGetRAM(b *testing.B) {
	const root = "/dev/shm"
	var st syscall.Statfs_t
	if err := syscall.Statfs(root, &st); err != nil || st.Type != tmpfsMagic {
		b.Skipf("%s is not a tmpfs here", root)
	}
	if free := int64(st.Bavail) * int64(st.Bsize); free < 3*benchBytes(b) {
		b.Skipf("%s has %d bytes free; the benchmark needs 3 times the file size", root, free)
	}
	nodes, dirs := startFileNodesDirs(b, 2, root)
	benchGet(b, nodes, dirs)
}

// tmpfsMagic is TMPFS_MAGIC, statfs(2)'s f_type of a tmpfs.
const tmpfsMagic = 0x01021994

// benchGet runs the get benchmark on nodes 0 (provider) and 1 (getter),
// whose block stores are in dirs. Where those are on a block device
// (Linux), it also reports the device's requests during the get (both
// nodes' reads and writes, with the file system's own).
func benchGet(b *testing.B, nodes []*node.Node, dirs []string) {
	n := benchBytes(b)
	dev := blockDevice(dirs[1])
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
		r := fetchMeasured(b, nodes[1], added.CID, n, dev)
		get, growth, getCPU, got := r.mbps, r.rssMiB, r.cpuPerGiB, r.got
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
		if r.machineOK {
			b.Logf("machine during the get: %.2f cores busy, %.2f cores idle waiting on I/O (of %d)", r.busy, r.iowait, runtime.NumCPU())
			b.ReportMetric(r.busy, "busy_cores")
			b.ReportMetric(r.iowait, "iowait_cores")
		}
		if r.diskOK {
			dk := r.disk
			reqs := float64(dk.reads+dk.writes) / r.seconds
			b.Logf("disk %s during the get: %d reads, %d writes completed (%.0f requests/s), %.0f MB read, %.0f MB written",
				dev, dk.reads, dk.writes, reqs, float64(dk.readBytes)/1e6, float64(dk.writeBytes)/1e6)
			b.ReportMetric(reqs, "disk_requests/s")
			b.ReportMetric(float64(dk.writes)/float64(got.Blocks), "disk_writes/block")
		}
		// forget the fetched copy for the next round
		if _, err := nodes[1].Files().GC(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// blockDevice names the block device (as in /proc/diskstats) holding
// dir, or "" (not Linux, a device-less file system such as tmpfs, or
// unknown).
func blockDevice(dir string) string {
	var st syscall.Stat_t
	if dir == "" || syscall.Stat(dir, &st) != nil {
		return ""
	}
	dev := uint64(st.Dev) // int32 on some platforms
	uevent, err := os.ReadFile(fmt.Sprintf("/sys/dev/block/%d:%d/uevent", unix.Major(dev), unix.Minor(dev)))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(uevent), "\n") {
		if name, ok := strings.CutPrefix(line, "DEVNAME="); ok {
			return name
		}
	}
	return ""
}

// diskStats are a block device's completed requests and bytes since boot.
type diskStats struct{ reads, writes, readBytes, writeBytes uint64 }

// since returns the requests and bytes completed between d0 and d.
func (d diskStats) since(d0 diskStats) diskStats {
	return diskStats{reads: d.reads - d0.reads, writes: d.writes - d0.writes,
		readBytes: d.readBytes - d0.readBytes, writeBytes: d.writeBytes - d0.writeBytes}
}

// readDiskStats reads dev's line of /proc/diskstats; ok is false when
// there is none.
func readDiskStats(dev string) (d diskStats, ok bool) {
	if dev == "" {
		return d, false
	}
	data, err := os.ReadFile("/proc/diskstats")
	if err != nil {
		return d, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		// major minor name reads merged sectors ms writes merged sectors ...
		if len(f) < 10 || f[2] != dev {
			continue
		}
		var v [4]uint64
		for i, j := range []int{3, 5, 7, 9} {
			if v[i], err = strconv.ParseUint(f[j], 10, 64); err != nil {
				return d, false
			}
		}
		return diskStats{reads: v[0], readBytes: v[1] * 512, writes: v[2], writeBytes: v[3] * 512}, true
	}
	return d, false
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
		r1 := fetchMeasured(b, getter, added.CID, n, "")
		one, growth1, cpu1, got1 := r1.mbps, r1.rssMiB, r1.cpuPerGiB, r1.got
		if _, err := getter.Files().GC(context.Background()); err != nil {
			b.Fatal(err)
		}
		for i := 1; i < 4; i++ {
			addAndProvide(b, nodes[i], 3, n)
		}
		r4 := fetchMeasured(b, getter, added.CID, n, "")
		four, growth4, cpu4, got4 := r4.mbps, r4.rssMiB, r4.cpuPerGiB, r4.got
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
