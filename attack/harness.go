package attack

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/plexus-p2p/plexus/client"
	"github.com/plexus-p2p/plexus/config"
)

// Env is what every scenario runs in: the plexus binary, a temporary
// directory for repos, and the processes and hosts to clean up.
type Env struct {
	Bin   string // the plexus binary
	Dir   string // temporary directory; each daemon's repo is under it
	Quick bool   // reduced sizes (make test)
	Log   func(format string, args ...any)

	mu       sync.Mutex
	daemons  []*Daemon
	cleanups []func()
	repos    int
}

// NewEnv returns an environment whose repos live under a new temporary
// directory. Close stops everything it started and removes the directory.
func NewEnv(bin string, quick bool, log func(string, ...any)) (*Env, error) {
	dir, err := os.MkdirTemp("", "plexus-attack")
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = func(string, ...any) {}
	}
	return &Env{Bin: bin, Dir: dir, Quick: quick, Log: log}, nil
}

// Defer runs fn at Close, before the daemons are stopped (last in, first out).
func (e *Env) Defer(fn func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cleanups = append(e.cleanups, fn)
}

// Close runs the deferred cleanups, stops every daemon still running and
// removes the repos.
func (e *Env) Close() {
	e.mu.Lock()
	cleanups, daemons := e.cleanups, e.daemons
	e.cleanups, e.daemons = nil, nil
	e.mu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	for _, d := range daemons {
		d.Stop()
	}
	os.RemoveAll(e.Dir)
}

// size picks the full or the quick value.
func (e *Env) size(full, quick int) int {
	if e.Quick {
		return quick
	}
	return full
}

func (e *Env) dur(full, quick time.Duration) time.Duration {
	if e.Quick {
		return quick
	}
	return full
}

// DaemonOpts adjusts a daemon before it starts.
type DaemonOpts struct {
	Name string
	// Set are "plexus config set KEY VALUE" pairs applied after init (by
	// the binary under test, so that settings it adds work).
	Set [][2]string
	// DefaultsOf copies the default profile's value of every setting whose
	// key starts with one of these prefixes (such as "perf.") into the repo,
	// which "plexus init --profile local" wrote with the local profile's.
	DefaultsOf []string
	// Profile is the --profile flag: "local" unless NoProfile.
	NoProfile bool
	// Args are extra daemon flags.
	Args []string
	// NoFile, when positive, starts the daemon under prlimit with this
	// RLIMIT_NOFILE (soft and hard).
	NoFile int
}

// Daemon is a running plexus daemon process.
type Daemon struct {
	Name   string
	Repo   string
	Client *client.Client
	ID     peer.ID
	Addrs  []ma.Multiaddr // full multiaddrs with /p2p/
	opts   DaemonOpts
	env    *Env
	mu     sync.Mutex // guards cmd, out and done, replaced by a restart
	cmd    *exec.Cmd
	out    *syncBuffer
	done   chan struct{}
	err    error
}

// proc is the current process, its output and its exit channel.
func (d *Daemon) proc() (*exec.Cmd, *syncBuffer, chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cmd, d.out, d.done
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 1<<20 { // keep the last part only
		s.b.Next(s.b.Len() - 512<<10)
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// procEnv is the environment of every plexus process: no PLEXUS_ variable
// of the caller, and the local profile.
func procEnv(profile bool) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PLEXUS_") {
			out = append(out, kv)
		}
	}
	if profile {
		out = append(out, "PLEXUS_PROFILE=local")
	}
	return out
}

// CLI runs the plexus CLI on repo and returns its combined output.
func (e *Env) CLI(ctx context.Context, repo string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.Bin, append([]string{"--repo", repo}, args...)...)
	cmd.Env = procEnv(true)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("plexus %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// Init creates a repo (plexus init --profile local) and applies the
// settings of o.
func (e *Env) Init(ctx context.Context, name string, o DaemonOpts) (string, error) {
	repo := e.newRepo(name)
	if _, err := e.CLI(ctx, repo, "init", "--profile", "local"); err != nil {
		return "", err
	}
	set := o.Set
	if len(o.DefaultsOf) > 0 {
		defaults := e.newRepo(name + "-defaults")
		if _, err := e.CLI(ctx, defaults, "init"); err != nil {
			return "", err
		}
		keys, err := e.CLI(ctx, defaults, "config", "keys")
		if err != nil {
			return "", err
		}
		for _, line := range strings.Split(keys, "\n") {
			f := strings.Fields(line)
			if len(f) == 0 || !slices.ContainsFunc(o.DefaultsOf, func(p string) bool { return strings.HasPrefix(f[0], p) }) {
				continue
			}
			v, err := e.CLI(ctx, defaults, "config", "get", f[0])
			if err != nil {
				return "", err
			}
			set = append(set, [2]string{f[0], strings.TrimSpace(v)})
		}
	}
	for _, kv := range set {
		if _, err := e.CLI(ctx, repo, "config", "set", kv[0], kv[1]); err != nil {
			return "", err
		}
	}
	return repo, nil
}

func (e *Env) newRepo(name string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.repos++
	return filepath.Join(e.Dir, fmt.Sprintf("%02d-%s", e.repos, name))
}

// Start initialises a repo and starts a daemon on it.
func (e *Env) Start(ctx context.Context, o DaemonOpts) (*Daemon, error) {
	if o.Name == "" {
		o.Name = "node"
	}
	repo, err := e.Init(ctx, o.Name, o)
	if err != nil {
		return nil, err
	}
	d := &Daemon{Name: o.Name, Repo: repo, opts: o, env: e}
	if err := d.start(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// Restart starts the daemon again on the same repo (after Stop or Kill).
func (d *Daemon) Restart(ctx context.Context) error { return d.start(ctx) }

func (d *Daemon) start(ctx context.Context) error {
	e := d.env
	args := []string{"--repo", d.Repo, "daemon", "--log-level", "warn"}
	if !d.opts.NoProfile {
		args = append(args, "--profile", "local")
	}
	args = append(args, d.opts.Args...)
	name := e.Bin
	if d.opts.NoFile > 0 {
		args = append([]string{fmt.Sprintf("--nofile=%d:%d", d.opts.NoFile, d.opts.NoFile), e.Bin}, args...)
		name = "prlimit"
	}
	// The API file of the previous run must not be mistaken for this one's.
	os.Remove(filepath.Join(d.Repo, config.APIAddrFile))
	cmd := exec.Command(name, args...)
	cmd.Env = procEnv(!d.opts.NoProfile)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	d.mu.Lock()
	d.cmd, d.out, d.done = cmd, out, done
	d.mu.Unlock()
	go func() {
		err := cmd.Wait()
		d.mu.Lock()
		d.err = err
		d.mu.Unlock()
		close(done)
	}()
	e.mu.Lock()
	e.daemons = append(e.daemons, d)
	e.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := d.connectClient(ctx); err == nil {
			return nil
		}
		select {
		case <-done:
			d.mu.Lock()
			err := d.err
			d.mu.Unlock()
			return fmt.Errorf("daemon %s exited early: %v\n%s", d.Name, err, out)
		case <-ctx.Done():
			d.Kill()
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.Kill()
			return fmt.Errorf("daemon %s did not become ready in 30s\n%s", d.Name, out)
		}
	}
}

// connectClient reads the API address and token and asks for the ID.
func (d *Daemon) connectClient(ctx context.Context) error {
	repo := config.Repo{Path: d.Repo}
	addr, err := repo.APIAddr()
	if err != nil {
		return err
	}
	tok, err := os.ReadFile(repo.File(config.TokenFile))
	if err != nil {
		return err
	}
	c := client.New(addr, strings.TrimSpace(string(tok)))
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	id, err := c.ID(ctx)
	if err != nil {
		return err
	}
	pid, err := peer.Decode(id.PeerID)
	if err != nil {
		return err
	}
	var addrs []ma.Multiaddr
	for _, s := range id.Addrs {
		if a, err := ma.NewMultiaddr(s); err == nil {
			addrs = append(addrs, a)
		}
	}
	d.mu.Lock()
	d.Client, d.ID, d.Addrs = c, pid, addrs
	d.mu.Unlock()
	return nil
}

// AddrInfo is the daemon's peer ID and transport addresses (TCP first, so
// that hostile hosts built with TCP only can dial it).
func (d *Daemon) AddrInfo() peer.AddrInfo {
	ai := peer.AddrInfo{ID: d.ID}
	for _, a := range d.Addrs {
		t, _ := ma.SplitLast(a) // drop /p2p/
		ai.Addrs = append(ai.Addrs, t)
	}
	return ai
}

// TCPAddr is the daemon's first plain TCP multiaddr with /p2p/, for "plexus connect".
func (d *Daemon) TCPAddr() string {
	for _, a := range d.Addrs {
		s := a.String()
		if strings.Contains(s, "/tcp/") && !strings.Contains(s, "/ws") {
			return s
		}
	}
	if len(d.Addrs) > 0 {
		return d.Addrs[0].String()
	}
	return ""
}

// PID is the daemon's process ID (prlimit execs the daemon in place).
func (d *Daemon) PID() int {
	cmd, _, _ := d.proc()
	return cmd.Process.Pid
}

// Running reports whether the process has not exited.
func (d *Daemon) Running() bool {
	cmd, _, done := d.proc()
	if cmd == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// Stop sends SIGTERM and waits up to 10 s, then kills.
func (d *Daemon) Stop() {
	cmd, _, done := d.proc()
	if cmd == nil || !d.Running() {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// Kill sends SIGKILL (kill -9) and waits for the process to exit.
func (d *Daemon) Kill() {
	cmd, _, done := d.proc()
	if cmd == nil || !d.Running() {
		return
	}
	cmd.Process.Kill()
	<-done
}

// Output is what the daemon printed (its last 512 KiB at least).
func (d *Daemon) Output() string {
	_, out, _ := d.proc()
	if out == nil {
		return ""
	}
	return out.String()
}

// EchoServer is a local HTTP endpoint that answers a forwarded request with
// its own body: the application behind a target's /app/echo handler.
func (e *Env) EchoServer() string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 2<<20))
		w.Write(b)
	}))
	e.Defer(srv.Close)
	return srv.URL
}

// EchoProtocol is the application protocol every target serves.
const EchoProtocol = "/app/echo"

// AddEcho registers EchoProtocol on d, forwarded to url, unless d already
// serves it (a daemon that keeps registrations across restarts).
func (d *Daemon) AddEcho(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := d.Client.AddHandler(ctx, EchoProtocol, url)
	if err == nil {
		return nil
	}
	if hs, lerr := d.Client.Handlers(ctx); lerr == nil {
		for _, h := range hs {
			if h.Protocol == EchoProtocol && h.URL == url {
				return nil
			}
		}
	}
	return err
}

// Usage is what a daemon's process uses at one moment.
type Usage struct {
	RSS, HWM   int64 // bytes: resident now, peak resident (VmHWM)
	FDs        int   // open file descriptors (/proc/PID/fd)
	Goroutines int   // go_goroutines from /metrics; -1 when unavailable
}

// ReadUsage reads /proc/PID/status and /proc/PID/fd.
func ReadUsage(pid int) (Usage, error) {
	u := Usage{Goroutines: -1}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(fields[0], 10, 64)
		switch k {
		case "VmRSS":
			u.RSS = n << 10
		case "VmHWM":
			u.HWM = n << 10
		}
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err == nil {
		u.FDs = len(ents)
	}
	return u, nil
}

// goroutines reads go_goroutines from the daemon's /metrics (with its token).
func (d *Daemon) goroutines(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	d.mu.Lock()
	c := d.Client // replaced by a restart
	d.mu.Unlock()
	text, err := c.Metrics(ctx)
	if err != nil {
		return -1, err
	}
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, "go_goroutines "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int(f), err
		}
	}
	return -1, errors.New("no go_goroutines in /metrics")
}

// Sampler records a daemon's peak resource use while it runs.
type Sampler struct {
	d      *Daemon
	stop   chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	peak   Usage
	misses int // /metrics reads that failed
}

// Sample starts sampling d every 250 ms (goroutines every second).
func Sample(d *Daemon) *Sampler {
	s := &Sampler{d: d, stop: make(chan struct{}), done: make(chan struct{})}
	go s.loop()
	return s
}

func (s *Sampler) loop() {
	defer close(s.done)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		if s.d.Running() {
			if u, err := ReadUsage(s.d.PID()); err == nil {
				s.mu.Lock()
				s.peak.RSS = max(s.peak.RSS, u.RSS)
				s.peak.HWM = max(s.peak.HWM, u.HWM)
				s.peak.FDs = max(s.peak.FDs, u.FDs)
				s.mu.Unlock()
			}
			if i%4 == 0 {
				// Bounded by its own 2 s timeout; a daemon whose API is
				// flooded may not answer, which is counted.
				g, err := s.d.goroutines(context.Background())
				s.mu.Lock()
				if err != nil {
					s.misses++
				} else {
					s.peak.Goroutines = max(s.peak.Goroutines, g)
				}
				s.mu.Unlock()
			}
		}
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
	}
}

// Stop ends sampling and returns the peaks and the number of failed
// /metrics reads.
func (s *Sampler) Stop() (Usage, int) {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.peak
	if p.Goroutines == 0 {
		p.Goroutines = -1
	}
	return p, s.misses
}
