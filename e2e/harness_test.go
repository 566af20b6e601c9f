// Package e2e drives the real plexus binary like a user: daemons as separate
// processes on loopback (local profile), commands through the CLI.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/internal/testnet"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "plexus-e2e-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "plexus")
	build := exec.Command("go", "build", "-o", binary, "../cmd/plexus")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build plexus:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is the environment of every process the tests start.
func env(extra ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PLEXUS_") {
			out = append(out, kv)
		}
	}
	return append(append(out, "PLEXUS_PROFILE=local"), extra...)
}

// result is what one CLI run produced.
type result struct {
	stdout, stderr string
	code           int
}

// plexus runs the CLI with --repo and returns its output and exit code.
func plexus(t *testing.T, repo string, args ...string) result {
	t.Helper()
	return plexusEnv(t, repo, nil, args...)
}

func plexusEnv(t *testing.T, repo string, extraEnv []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append([]string{"--repo", repo}, args...)...)
	cmd.Env = env(extraEnv...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run plexus %v: %v", args, err)
	}
	return result{so.String(), se.String(), code}
}

// ok runs the CLI and fails the test unless it exits 0.
func ok(t *testing.T, repo string, args ...string) string {
	t.Helper()
	r := plexus(t, repo, args...)
	if r.code != 0 {
		t.Fatalf("plexus %v: exit %d\nstdout: %s\nstderr: %s", args, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// okJSON runs the CLI with --json and decodes its output into v.
func okJSON(t *testing.T, repo string, v any, args ...string) {
	t.Helper()
	out := ok(t, repo, append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("plexus %v: output is not JSON: %v\n%s", args, err, out)
	}
}

// fails runs the CLI, requires a non-zero exit and a one-line error on
// stderr containing want.
func fails(t *testing.T, repo, want string, args ...string) {
	t.Helper()
	failsEnv(t, repo, nil, want, args...)
}

func failsEnv(t *testing.T, repo string, extraEnv []string, want string, args ...string) {
	t.Helper()
	r := plexusEnv(t, repo, extraEnv, args...)
	if r.code == 0 {
		t.Fatalf("plexus %v: exit 0, want failure\nstdout: %s", args, r.stdout)
	}
	msg := strings.TrimSpace(r.stderr)
	if !strings.Contains(msg, want) {
		t.Fatalf("plexus %v: stderr %q does not contain %q", args, msg, want)
	}
	if strings.Count(msg, "\n") > 0 && !strings.Contains(msg, "level=") {
		t.Fatalf("plexus %v: error is not one line: %q", args, msg)
	}
}

// daemon is a plexus daemon process.
type daemon struct {
	repo string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error
}

// syncBuffer collects a process's output while tests read it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startDaemon starts "plexus daemon" on repo with args and waits until its
// API answers. It is stopped in t.Cleanup.
func startDaemon(t *testing.T, repo string, args ...string) *daemon {
	t.Helper()
	d := &daemon{repo: repo, out: &syncBuffer{}, done: make(chan error, 1)}
	d.cmd = exec.Command(binary, append([]string{"--repo", repo, "daemon", "--log-level", "warn"}, args...)...)
	d.cmd.Env = env()
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() { d.stop(t) })
	deadline := time.Now().Add(30 * time.Second)
	for {
		if r := plexus(t, repo, "id", "--timeout", "2s"); r.code == 0 {
			return d
		}
		select {
		case err := <-d.done:
			d.done <- err
			t.Fatalf("daemon exited early: %v\n%s", err, d.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not become ready\n%s", d.out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for the daemon to exit, killing it after 10s.
func (d *daemon) stop(t *testing.T) error {
	select {
	case err := <-d.done: // already exited (reading ProcessState here would race with Wait)
		d.done <- err
		return nil
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	return d.wait(t)
}

func (d *daemon) wait(t *testing.T) error {
	select {
	case err := <-d.done:
		d.done <- err
		return err
	case <-time.After(10 * time.Second):
		d.cmd.Process.Kill()
		t.Errorf("daemon on %s did not stop within 10s\n%s", d.repo, d.out)
		return <-d.done
	}
}

// waitConnected waits until the daemon on repo is connected to n distinct
// peers.
func waitConnected(t *testing.T, repo string, n int) {
	t.Helper()
	testnet.Eventually(t, 20*time.Second, func() bool {
		var peers []wire.Peer
		okJSON(t, repo, &peers, "peers")
		seen := map[string]bool{}
		for _, p := range peers {
			seen[p.PeerID] = true
		}
		return len(seen) == n
	}, "%s is not connected to %d peers", filepath.Base(repo), n)
}

// freeAddr returns a loopback host:port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
