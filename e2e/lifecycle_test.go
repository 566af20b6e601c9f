package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/internal/testnet"
)

// detached is what "plexus daemon --detach --json" prints.
type detached struct {
	PID    int      `json:"pid"`
	PeerID string   `json:"peer_id"`
	Addrs  []string `json:"addrs"`
	API    string   `json:"api"`
	Log    string   `json:"log"`
}

// detach starts a daemon with --detach and stops it in t.Cleanup.
func detach(t *testing.T, repo string, args ...string) detached {
	t.Helper()
	var d detached
	okJSON(t, repo, &d, append([]string{"daemon", "--detach"}, args...)...)
	t.Cleanup(func() { stopPID(t, repo, d.PID) })
	return d
}

// stopPID stops the detached daemon pid of repo with SIGTERM (SIGKILL if it
// has not exited within 10s) and waits until it has exited.
func stopPID(t *testing.T, repo string, pid int) {
	if !alive(pid) {
		return
	}
	syscall.Kill(pid, syscall.SIGTERM)
	if !waitExit(pid, 10*time.Second) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("detached daemon %d on %s did not stop", pid, repo)
		waitExit(pid, 5*time.Second)
	}
}

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// waitExit waits at most d for process pid to exit.
func waitExit(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for alive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// procsMentioning lists the processes whose command line contains s (a
// test's temporary directory: only processes the test started).
func procsMentioning(s string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), s) && alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// "plexus daemon --detach" returns once the daemon is ready: its API
// answers at once, with the peer ID it printed. A daemon that cannot start
// is reported with its own error and a non-zero exit, and leaves no process
// behind. "plexus shutdown" returns once the daemon has stopped.
func TestDetach(t *testing.T) {
	base := t.TempDir()
	repo := filepath.Join(base, "r")
	d := detach(t, repo)
	if d.PID <= 0 || d.PeerID == "" || len(d.Addrs) == 0 || d.API == "" || d.Log != filepath.Join(repo, "daemon.log") {
		t.Fatalf("detach printed %+v", d)
	}
	var id wire.ID
	okJSON(t, repo, &id, "id") // no waiting: the daemon is ready
	if id.PeerID != d.PeerID || id.Addrs[0] != d.Addrs[0] {
		t.Fatalf("id %s %v, detach said %s %v", id.PeerID, id.Addrs, d.PeerID, d.Addrs)
	}
	if log, err := os.ReadFile(d.Log); err != nil || !strings.Contains(string(log), "Daemon is ready.") {
		t.Fatalf("daemon log %s: %v\n%s", d.Log, err, log)
	}

	// Failures to start: the daemon's error, a non-zero exit, no process.
	fails(t, repo, "the daemon failed to start: repo "+repo+" is locked", "daemon", "--detach")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	other := filepath.Join(base, "other")
	fails(t, other, "address already in use", "daemon", "--detach", "--api", busy.Addr().String())
	if pids := procsMentioning(other); len(pids) > 0 {
		t.Fatalf("a daemon that failed to start left processes %v", pids)
	}

	// The human form names the process, the log and how to stop it.
	out := ok(t, other, "daemon", "--detach")
	var pid int
	if i := strings.Index(out, "(pid "); i >= 0 {
		fmt.Sscan(out[i+len("(pid "):], &pid)
	}
	if pid <= 0 {
		t.Fatalf("detach output names no pid:\n%s", out)
	}
	t.Cleanup(func() { stopPID(t, other, pid) })
	for _, want := range []string{"Daemon started in the background (pid ", "log: " + filepath.Join(other, "daemon.log"),
		"Peer ID: 12D3Koo", "API:     http://127.0.0.1:", "plexus --repo " + other + " shutdown"} {
		if !strings.Contains(out, want) {
			t.Fatalf("detach output lacks %q:\n%s", want, out)
		}
	}

	// shutdown returns once the daemon has stopped: no api file, and the
	// process exits (right after releasing the repo lock).
	if out := ok(t, repo, "shutdown"); strings.TrimSpace(out) != "daemon stopped" {
		t.Fatalf("shutdown printed %q", out)
	}
	if _, err := os.Stat(filepath.Join(repo, "api")); !os.IsNotExist(err) {
		t.Fatalf("shutdown returned before the daemon removed its api file: %v", err)
	}
	if !waitExit(d.PID, 10*time.Second) {
		t.Fatalf("daemon %d still runs after shutdown returned", d.PID)
	}
}

// "plexus wait" blocks until the repo's daemon is ready, and fails with the
// reason after --timeout when none is.
func TestWait(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "r")
	failsEnv(t, repo, nil, "no daemon was ready on repo "+repo+" within 1s", "wait", "--timeout", "1s")

	d := &daemon{repo: repo, out: &syncBuffer{}, done: make(chan error, 1)}
	d.cmd = exec.Command(binary, "--repo", repo, "daemon", "--log-level", "warn")
	d.cmd.Env = env()
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() { d.stop(t) })
	var id wire.ID
	okJSON(t, repo, &id, "wait") // at once, as a script would
	if id.PeerID == "" || !strings.Contains(d.out.String(), "Peer ID: "+id.PeerID) {
		t.Fatalf("wait answered %+v; the daemon printed:\n%s", id, d.out)
	}
	if out := ok(t, repo, "wait"); strings.TrimSpace(out) != "daemon ready: "+id.PeerID {
		t.Fatalf("wait printed %q", out)
	}
}

// "plexus events" while the daemon shuts down prints node.stopping, then a
// line saying the daemon stopped, and exits 0.
func TestEventsEndWhenTheDaemonStops(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "r")
	startDaemon(t, repo)
	for _, jsonOut := range []bool{false, true} {
		if jsonOut {
			startDaemon(t, repo)
		}
		args := []string{"--repo", repo, "events"}
		if jsonOut {
			args = append(args, "--json")
		}
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, binary, args...)
		cmd.Env = env()
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr syncBuffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 100)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// The stream is open once an event made after it started shows.
		testnet.Eventually(t, 20*time.Second, func() bool {
			ok(t, repo, "pubsub", "join", "lifecycle")
			ok(t, repo, "pubsub", "leave", "lifecycle")
			for {
				select {
				case l := <-lines:
					if strings.Contains(l, "pubsub.joined") {
						return true
					}
				default:
					return false
				}
			}
		}, "the event stream showed no pubsub.joined")
		ok(t, repo, "shutdown")
		var rest []string
		for l := range lines {
			rest = append(rest, l)
		}
		err = cmd.Wait()
		out := strings.Join(rest, "\n")
		if err != nil {
			t.Fatalf("events (json %v) exit %v when the daemon stopped\nstdout: %s\nstderr: %s", jsonOut, err, out, stderr.String())
		}
		stopped := out
		if jsonOut {
			stopped = stderr.String()
		}
		if !strings.Contains(out, "node.stopping") || !strings.Contains(stopped, "daemon stopped: the event stream ended") {
			t.Fatalf("events (json %v) at shutdown:\nstdout: %s\nstderr: %s", jsonOut, out, stderr.String())
		}
	}
}

// "plexus version" prints the version, the commit, Go's and go-libp2p's
// versions; --json gives the same as GET /v1/version (--daemon).
func TestVersion(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "r")
	libp2p := goModVersion(t, "github.com/libp2p/go-libp2p")
	var v wire.Version
	okJSON(t, repo, &v, "version")
	if v.Version == "" || v.Go != runtime.Version() || v.Platform != runtime.GOOS+"/"+runtime.GOARCH || v.Libp2p != libp2p {
		t.Fatalf("version %+v; want Go %s, go-libp2p %s", v, runtime.Version(), libp2p)
	}
	out := ok(t, repo, "version")
	for _, want := range []string{"plexus " + v.Version + "\n", "commit:", "go:        " + runtime.Version(), "go-libp2p: " + libp2p} {
		if !strings.Contains(out, want) {
			t.Fatalf("version output lacks %q:\n%s", want, out)
		}
	}
	fails(t, repo, "no daemon is running", "version", "--daemon")
	startDaemon(t, repo)
	var dv wire.Version
	okJSON(t, repo, &dv, "version", "--daemon")
	if dv != v {
		t.Fatalf("daemon's version %+v, the CLI's %+v (the same binary)", dv, v)
	}
}

// goModVersion returns the version go.mod requires of module.
func goModVersion(t *testing.T, module string) string {
	t.Helper()
	b, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == module {
			return f[1]
		}
	}
	t.Fatalf("go.mod does not require %s", module)
	return ""
}

// openPTY opens a pseudo-terminal pair.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// onTerminal runs the CLI with stdout (and stderr) on a pseudo-terminal and
// returns what the terminal received and the exit code.
func onTerminal(t *testing.T, repo string, args ...string) (string, int) {
	t.Helper()
	master, slave := openPTY(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append([]string{"--repo", repo}, args...)...)
	cmd.Env = env()
	cmd.Stdout, cmd.Stderr = slave, slave
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close() // the child has it; EOF (EIO) on the master once the child exits
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(master) // ends with EIO when the last slave closes
		got <- b
	}()
	err := cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(<-got), code
}

// perf and explore show a progress line on a terminal (bytes and rate; the
// nodes found), erased before the result; nothing of it with --json or when
// stdout is not a terminal.
func TestProgressOnTerminal(t *testing.T) {
	base := t.TempDir()
	a, b := filepath.Join(base, "a"), filepath.Join(base, "b")
	startDaemon(t, a)
	var ida wire.ID
	okJSON(t, a, &ida, "id")
	startDaemon(t, b, "--bootstrap", ida.Addrs[0])
	waitConnected(t, b, 1)
	testnet.Eventually(t, 20*time.Second, func() bool { // explore crawls from the routing table
		var table []wire.RoutingEntry
		okJSON(t, b, &table, "dht", "table")
		return len(table) == 1
	}, "a is not in b's routing table")
	const size = "3000000"
	perfArgs := []string{"perf", ida.PeerID, "--upload", size, "--download", size}

	out, code := onTerminal(t, b, perfArgs...)
	if code != 0 {
		t.Fatalf("perf on a terminal: exit %d\n%q", code, out)
	}
	for _, want := range []string{"\r\x1b[Kupload:   2.9 MiB of 2.9 MiB (100%), ", "\r\x1b[Kdownload: 2.9 MiB of 2.9 MiB (100%), ",
		" Gbit/s, ", "\r\x1b[Kupload:     3000000 bytes in "} {
		if !strings.Contains(out, want) {
			t.Fatalf("perf on a terminal lacks %q:\n%q", want, out)
		}
	}
	if plain := ok(t, b, perfArgs...); strings.ContainsAny(plain, "\r\x1b") || !strings.HasPrefix(plain, "upload:     3000000 bytes in ") {
		t.Fatalf("perf to a pipe: %q", plain)
	}
	out, code = onTerminal(t, b, append(perfArgs, "--json")...)
	var res wire.PerfResult
	if code != 0 || strings.ContainsAny(out, "\x1b") || json.Unmarshal([]byte(out), &res) != nil || res.UploadBytes != 3000000 {
		t.Fatalf("perf --json on a terminal: exit %d\n%q", code, out)
	}

	out, code = onTerminal(t, b, "explore")
	if code != 0 || !strings.Contains(out, "\r\x1b[Kexplore: 2 nodes found, ") || !strings.Contains(out, "\r\x1b[KPEER ") {
		t.Fatalf("explore on a terminal: exit %d\n%q", code, out)
	}
	if plain := ok(t, b, "explore"); strings.ContainsAny(plain, "\r\x1b") || !strings.HasPrefix(plain, "PEER ") {
		t.Fatalf("explore to a pipe: %q", plain)
	}
}
