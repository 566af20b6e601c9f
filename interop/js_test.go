//go:build interop

package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// jsDir is the npm project of the js side (package.json, package-lock.json).
const jsDir = "js"

// nodeArgs are the node flags every js program runs with: js-libp2p 3 wants
// Node 22, and on Node 20 it needs the global WebSocket (a flag there) and
// Promise.withResolvers (polyfill.mjs).
var nodeArgs = []string{"--experimental-websocket", "--no-warnings", "--import", "./polyfill.mjs"}

// requireJS fails the test when node or the npm packages are missing.
func requireJS(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node is not installed: run scripts/install-deps.sh (installs nodejs, npm and the js-libp2p packages): %v", err)
	}
	if _, err := os.Stat(filepath.Join(jsDir, "node_modules", "libp2p", "package.json")); err != nil {
		t.Fatalf("js-libp2p is not installed in interop/js: run scripts/install-deps.sh (npm ci from package-lock.json): %v", err)
	}
}

// jsSources are the files build.mjs bundles into dist/.
var jsSources = []string{"peer.mjs", "request.mjs", "plexus-record.mjs", "browser-peer.mjs", "build.mjs", "package-lock.json", "polyfill.mjs"}

// ensureBuilt runs build.mjs (esbuild) when a bundle in interop/js/dist is
// missing or older than a source.
func ensureBuilt(t testing.TB) {
	t.Helper()
	oldest := time.Time{}
	for _, f := range []string{"dist/peer.mjs", "dist/request.mjs", "dist/browser-peer.js"} {
		st, err := os.Stat(filepath.Join(jsDir, f))
		if err != nil {
			oldest = time.Time{}
			break
		}
		if oldest.IsZero() || st.ModTime().Before(oldest) {
			oldest = st.ModTime()
		}
	}
	stale := oldest.IsZero()
	for _, f := range jsSources {
		if st, err := os.Stat(filepath.Join(jsDir, f)); err == nil && st.ModTime().After(oldest) {
			stale = true
		}
	}
	if !stale {
		return
	}
	cmd := exec.Command("node", "build.mjs")
	cmd.Dir = jsDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("bundle the js programs (node build.mjs in interop/js): %v\n%s", err, out)
	}
}

// jsConfig configures a js peer (peer.mjs).
type jsConfig struct {
	Listen []string `json:"listen"`
	DHT    bool     `json:"dht"`
	// Amino makes the DHT speak /ipfs/kad/1.0.0 with kad-dht's own
	// validators (pk) instead of /plexus/kad/1.0.0.
	Amino bool `json:"amino,omitempty"`
	// NoSelfQuery turns off the DHT's periodic self-lookup, so that the peer
	// learns of others only through what the test does.
	NoSelfQuery bool `json:"noSelfQuery,omitempty"`
}

// jsPeer is a running js-libp2p node (interop/js/peer.mjs).
type jsPeer struct {
	t     testing.TB
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	ID    peer.ID
	Addrs []ma.Multiaddr
	// Protocols are the protocols the js node handles at start.
	Protocols []string

	mu      sync.Mutex
	next    int
	pending map[int]chan jsReply
	exited  chan struct{}
	msgs    chan jsMessage
	stderr  lockedBuffer
}

type jsReply struct {
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
}

// jsMessage is a pub/sub message the js peer received.
type jsMessage struct {
	Topic     string `json:"topic"`
	Type      string `json:"type"`
	From      string `json:"from"`
	Data      []byte `json:"data"`
	Seqno     string `json:"seqno"`
	Signature []byte `json:"signature"`
	Key       []byte `json:"key"`
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 {
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startJS starts a js peer and waits until it listens. It is stopped (and
// its process group killed if it does not exit) in t.Cleanup.
func startJS(t testing.TB, name string, cfg jsConfig) *jsPeer {
	t.Helper()
	requireJS(t)
	if cfg.Listen == nil {
		cfg.Listen = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/tcp/0/ws", "/ip4/127.0.0.1/udp/0/quic-v1"}
	}
	conf, _ := json.Marshal(cfg)
	return startProgram(t, name, append(append([]string{}, nodeArgs...), "dist/peer.mjs", string(conf)))
}

// startBrowser starts js-libp2p in headless Chromium (browser.mjs).
func startBrowser(t testing.TB, name string) *jsPeer {
	t.Helper()
	requireJS(t)
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("Debian's chromium is not installed: run scripts/install-deps.sh: %v", err)
	}
	return startProgram(t, name, []string{"--no-warnings", "browser.mjs", chromium})
}

// startProgram runs node with args in interop/js and waits for its ready line.
func startProgram(t testing.TB, name string, args []string) *jsPeer {
	t.Helper()
	p := &jsPeer{t: t, name: name, pending: map[int]chan jsReply{}, exited: make(chan struct{}), msgs: make(chan jsMessage, 64)}
	p.cmd = exec.Command("node", args...)
	p.cmd.Dir = jsDir
	p.cmd.Stderr = &p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start js peer %s: %v", name, err)
	}
	ready := make(chan json.RawMessage, 1)
	go p.read(stdout, ready)
	t.Cleanup(p.stop)
	select {
	case line := <-ready:
		var r struct {
			ID        string   `json:"id"`
			Addrs     []string `json:"addrs"`
			Protocols []string `json:"protocols"`
		}
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("js peer %s: ready line %s: %v", name, line, err)
		}
		if p.ID, err = peer.Decode(r.ID); err != nil {
			t.Fatalf("js peer %s: peer ID %q: %v", name, r.ID, err)
		}
		for _, s := range r.Addrs {
			a, err := ma.NewMultiaddr(s)
			if err != nil {
				t.Fatalf("js peer %s: address %q: %v", name, s, err)
			}
			a, _ = ma.SplitLast(a) // drop /p2p/<id>
			p.Addrs = append(p.Addrs, a)
		}
		p.Protocols = r.Protocols
	case <-p.exited:
		t.Fatalf("js peer %s exited before it was ready: %v\nstderr:\n%s", name, p.cmd.ProcessState, p.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("js peer %s not ready within 30s\nstderr:\n%s", name, p.stderr.String())
	}
	return p
}

func (p *jsPeer) read(stdout io.Reader, ready chan<- json.RawMessage) {
	defer close(p.exited)
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 1<<16), 16<<20)
	for sc.Scan() {
		line := append([]byte(nil), sc.Bytes()...)
		var head struct {
			ID    json.RawMessage `json:"id"`
			Event string          `json:"event"`
		}
		if err := json.Unmarshal(line, &head); err != nil {
			fmt.Fprintf(&p.stderr, "[stdout, not JSON] %s\n", line)
			continue
		}
		switch {
		case head.Event == "ready":
			ready <- line
		case head.Event == "message":
			var m jsMessage
			if err := json.Unmarshal(line, &m); err == nil {
				select {
				case p.msgs <- m:
				default: // the test reads only the messages it waits for
				}
			}
		case head.ID != nil:
			var id int
			if err := json.Unmarshal(head.ID, &id); err != nil {
				fmt.Fprintf(&p.stderr, "[stdout, bad id] %s\n", line)
				continue
			}
			var r jsReply
			if err := json.Unmarshal(line, &r); err != nil {
				r = jsReply{Error: fmt.Sprintf("bad reply %s: %v", line, err)}
			}
			p.mu.Lock()
			ch := p.pending[id]
			delete(p.pending, id)
			p.mu.Unlock()
			if ch != nil {
				ch <- r
			}
		default:
			fmt.Fprintf(&p.stderr, "[stdout] %s\n", line)
		}
	}
	_ = p.cmd.Wait()
}

// call runs one command on the js peer and decodes its result into out
// (unless out is nil).
func (p *jsPeer) call(ctx context.Context, cmd string, args map[string]any, out any) error {
	p.mu.Lock()
	p.next++
	id := p.next
	ch := make(chan jsReply, 1)
	p.pending[id] = ch
	p.mu.Unlock()
	msg := map[string]any{}
	for k, v := range args {
		msg[k] = v
	}
	msg["id"], msg["cmd"] = id, cmd
	line, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if _, err := p.stdin.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("js peer %s: send %s: %w", p.name, cmd, err)
	}
	select {
	case r := <-ch:
		if !r.OK {
			return fmt.Errorf("js peer %s: %s: %s", p.name, cmd, r.Error)
		}
		if out != nil {
			return json.Unmarshal(r.Result, out)
		}
		return nil
	case <-p.exited:
		return fmt.Errorf("js peer %s exited during %s: %v\nstderr:\n%s", p.name, cmd, p.cmd.ProcessState, p.stderr.String())
	case <-ctx.Done():
		return fmt.Errorf("js peer %s: %s: %w", p.name, cmd, ctx.Err())
	}
}

// must is call that fails the test on error.
func (p *jsPeer) must(ctx context.Context, cmd string, args map[string]any, out any) {
	p.t.Helper()
	if err := p.call(ctx, cmd, args, out); err != nil {
		p.t.Fatal(err)
	}
}

// AddrInfo returns the js peer's ID with its addresses of one transport
// ("tcp" or "ws"; "" for all).
func (p *jsPeer) AddrInfo(transport string) peer.AddrInfo {
	ai := peer.AddrInfo{ID: p.ID}
	for _, a := range p.Addrs {
		if transport == "" || transportOf(a) == transport {
			ai.Addrs = append(ai.Addrs, a)
		}
	}
	return ai
}

// waitMessage waits for a message on topic.
func (p *jsPeer) waitMessage(ctx context.Context, topic string) (jsMessage, error) {
	for {
		select {
		case m := <-p.msgs:
			if m.Topic == topic {
				return m, nil
			}
		case <-p.exited:
			return jsMessage{}, fmt.Errorf("js peer %s exited: %s", p.name, p.stderr.String())
		case <-ctx.Done():
			return jsMessage{}, fmt.Errorf("js peer %s: no message on %q: %w", p.name, topic, ctx.Err())
		}
	}
}

// stop closes stdin (the peer stops its node, or its browser, and exits).
// If it has not exited within 10 seconds its process group gets SIGTERM
// (playwright then closes Chromium, which it starts in a group of its own),
// and SIGKILL 3 seconds later.
func (p *jsPeer) stop() {
	_ = p.stdin.Close()
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(3 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.exited
		}
	}
	if p.t.Failed() {
		p.t.Logf("js peer %s stderr:\n%s", p.name, tail(p.stderr.String(), 4000))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// transportOf names the transport of an address as the matrix does: "tcp",
// "ws", "quic", "webtransport", "webrtc-direct".
func transportOf(a ma.Multiaddr) string {
	name := ""
	for _, c := range a {
		switch c.Protocol().Code {
		case ma.P_TCP:
			name = "tcp"
		case ma.P_WS:
			name = "ws"
		case ma.P_QUIC_V1:
			name = "quic"
		case ma.P_WEBTRANSPORT:
			name = "webtransport"
		case ma.P_WEBRTC_DIRECT:
			name = "webrtc-direct"
		}
	}
	return name
}
