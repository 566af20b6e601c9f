package natlab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/config"
)

// LabPort is the port daemons listen on unless told otherwise.
const LabPort = 4001

// NodeConfig is what differs between the lab's daemons.
type NodeConfig struct {
	// Transports are "tcp" and/or "quic" (default both).
	Transports []string
	// Port to listen on (default LabPort; 0 picks a free port).
	Port int
	// RandomPort listens on port 0.
	RandomPort bool
	// Reachability is nat.reachability ("auto" by default).
	Reachability string
	// RelayService turns the relay service on (it is off by default in the
	// lab, so that only the relays relay).
	RelayService bool
	// StaticRelays and Bootstrap are full multiaddrs.
	StaticRelays, Bootstrap []string
	// RelayCount is nat.relay_count (default 2).
	RelayCount int
	// LogLevel is log.level (default "info").
	LogLevel string
	// RelayCircuitDuration is nat.relay_circuit_duration (0: the default).
	RelayCircuitDuration time.Duration
	// PublishWait is pubsub.publish_wait (0: the default).
	PublishWait time.Duration
	// NoBirthday turns nat.birthday_punch off (DCUtR only).
	NoBirthday bool
}

// Daemon is a plexus daemon running in a lab namespace.
type Daemon struct {
	Host *Host
	Repo string
	ID   peer.ID
	Cfg  NodeConfig

	bin  string
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
	err  error

	mu    sync.Mutex
	hc    *http.Client
	base  string
	token string
}

// StartDaemon initialises a repo under dir for a node on h and starts
// "plexus daemon" in h's namespace with the lab's public range switch. It
// returns once the API answers.
func StartDaemon(ctx context.Context, bin string, h *Host, dir string, nc NodeConfig) (*Daemon, error) {
	if len(nc.Transports) == 0 {
		nc.Transports = []string{"tcp", "quic"}
	}
	if nc.Port == 0 && !nc.RandomPort {
		nc.Port = LabPort
	}
	if nc.RandomPort {
		nc.Port = 0
	}
	if nc.Reachability == "" {
		nc.Reachability = "auto"
	}
	if nc.RelayCount == 0 {
		nc.RelayCount = 2
	}
	repo := config.Repo{Path: dir}
	key, err := repo.Init(config.InitOptions{})
	if err != nil {
		return nil, err
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, err
	}
	cfg, err := repo.Config()
	if err != nil {
		return nil, err
	}
	cfg.Network.Listen = nil
	for _, t := range nc.Transports {
		switch t {
		case "tcp":
			cfg.Network.Listen = append(cfg.Network.Listen, fmt.Sprintf("/ip4/0.0.0.0/tcp/%d", nc.Port))
		case "quic":
			cfg.Network.Listen = append(cfg.Network.Listen, fmt.Sprintf("/ip4/0.0.0.0/udp/%d/quic-v1", nc.Port))
		default:
			return nil, fmt.Errorf("unknown lab transport %q", t)
		}
	}
	cfg.Network.Bootstrap = append([]string{}, nc.Bootstrap...)
	cfg.Transports.TCP = contains(nc.Transports, "tcp")
	cfg.Transports.QUIC = contains(nc.Transports, "quic")
	cfg.Transports.WebSocket, cfg.Transports.WebRTCDirect, cfg.Transports.WebTransport = false, false, false
	cfg.Discovery.MDNS = false
	cfg.NAT.PortMapping = false
	cfg.NAT.Reachability = nc.Reachability
	cfg.NAT.RelayService = nc.RelayService
	cfg.NAT.StaticRelays = append([]string{}, nc.StaticRelays...)
	cfg.NAT.RelayCount = nc.RelayCount
	if nc.PublishWait > 0 {
		cfg.PubSub.PublishWait = config.Duration(nc.PublishWait)
	}
	if nc.RelayCircuitDuration > 0 {
		cfg.NAT.RelayCircuitDuration = config.Duration(nc.RelayCircuitDuration)
	}
	cfg.NAT.BirthdayPunch = !nc.NoBirthday
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Log.Level = "info"
	if nc.LogLevel != "" {
		cfg.Log.Level = nc.LogLevel
	} else if l := os.Getenv("PLEXUS_NATLAB_LOG"); l != "" {
		cfg.Log.Level = l // debugging the lab
	}
	if err := config.Save(repo.File(config.ConfigFile), cfg); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "daemon.log"))
	if err != nil {
		return nil, err
	}
	d := &Daemon{Host: h, Repo: dir, ID: id, Cfg: nc, bin: bin, log: logf, done: make(chan struct{})}
	d.cmd = exec.Command("ip", "netns", "exec", h.NS, bin, "--repo", dir, "daemon")
	d.cmd.Env = Env()
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start daemon on %s: %w", h.Name, err)
	}
	go func() {
		d.err = d.cmd.Wait()
		close(d.done)
	}()
	for {
		var id wire.ID
		if err := d.api(ctx, "/v1/id", &id); err == nil {
			return d, nil
		}
		select {
		case <-d.done:
			return nil, fmt.Errorf("daemon on %s exited: %v\n%s", h.Name, d.err, d.LogTail(30))
		case <-ctx.Done():
			d.Kill()
			return nil, fmt.Errorf("daemon on %s did not answer: %w\n%s", h.Name, ctx.Err(), d.LogTail(30))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Env is the environment of lab daemons and CLI runs.
func Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PLEXUS_") {
			env = append(env, kv)
		}
	}
	return append(env, "PLEXUS_NATLAB_PUBLIC="+InternetCIDR)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Addr returns the daemon's full multiaddr for a transport on the lab
// internet (meaningful for public hosts).
func (d *Daemon) Addr(transport string) string {
	switch transport {
	case "quic":
		return fmt.Sprintf("/ip4/%s/udp/%d/quic-v1/p2p/%s", d.Host.PublicIP, d.Cfg.Port, d.ID)
	default:
		return fmt.Sprintf("/ip4/%s/tcp/%d/p2p/%s", d.Host.PublicIP, d.Cfg.Port, d.ID)
	}
}

// CircuitAddr returns the address of target through relay r.
func CircuitAddr(r *Daemon, transport string, target peer.ID) string {
	return r.Addr(transport) + "/p2p-circuit/p2p/" + target.String()
}

// api calls the daemon's HTTP API from inside its namespace (the API
// listens on the namespace's loopback) and decodes the JSON answer.
func (d *Daemon) api(ctx context.Context, path string, out any) error {
	d.mu.Lock()
	if d.hc == nil {
		addr, err := config.Repo{Path: d.Repo}.APIAddr()
		if err != nil {
			d.mu.Unlock()
			return err
		}
		token, err := os.ReadFile(filepath.Join(d.Repo, config.TokenFile))
		if err != nil {
			d.mu.Unlock()
			return err
		}
		d.base, d.token = "http://"+addr, strings.TrimSpace(string(token))
		d.hc = &http.Client{Transport: &http.Transport{DialContext: d.dial}}
	}
	hc, base, token := d.hc, d.base, d.token
	d.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, "GET", base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("GET %s on %s: %s: %s", path, d.Host.Name, resp.Status, bytes.TrimSpace(b))
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// dial connects to addr from inside the daemon's namespace.
func (d *Daemon) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var conn net.Conn
	err := InNetns(d.Host.NS, func() error {
		var err error
		conn, err = (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
		return err
	})
	return conn, err
}

// CLI runs the plexus CLI against the daemon inside its namespace.
func (d *Daemon) CLI(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", d.Host.NS, d.bin, "--repo", d.Repo}, args...)...)
	cmd.Env = Env()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("plexus %s on %s: %w: %s", strings.Join(args, " "), d.Host.Name, err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// Status returns the daemon's NAT status.
func (d *Daemon) Status(ctx context.Context) (wire.NATStatus, error) {
	var st wire.NATStatus
	return st, d.api(ctx, "/v1/nat", &st)
}

// Peers returns the daemon's connections.
func (d *Daemon) Peers(ctx context.Context) ([]wire.Peer, error) {
	var ps []wire.Peer
	return ps, d.api(ctx, "/v1/peers", &ps)
}

// Stop shuts the daemon down (SIGTERM), killing it after 10 s.
func (d *Daemon) Stop() error {
	if d.cmd.Process == nil {
		return nil
	}
	select {
	case <-d.done:
		return nil
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		d.Kill()
		return fmt.Errorf("daemon on %s did not stop within 10s", d.Host.Name)
	}
	d.log.Close()
	return nil
}

// Kill kills the daemon at once (a crash: TCP peers see the connection
// close, QUIC peers only time out).
func (d *Daemon) Kill() {
	if d.cmd.Process == nil {
		return
	}
	select {
	case <-d.done:
		return
	default:
	}
	// ip netns exec execs the daemon, so the process is the daemon itself.
	d.cmd.Process.Kill()
	<-d.done
	d.log.Close()
}

// Exited reports whether the daemon process has ended.
func (d *Daemon) Exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// LogTail returns the last n lines of the daemon's log.
func (d *Daemon) LogTail(n int) string {
	b, err := os.ReadFile(filepath.Join(d.Repo, "daemon.log"))
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ErrTimeout is returned by Wait when the condition did not hold in time.
var ErrTimeout = errors.New("timed out")

// Wait polls cond every 100 ms until it returns true, an error, or ctx ends.
func Wait(ctx context.Context, cond func(context.Context) (bool, error)) error {
	var last error
	for {
		ok, err := cond(ctx)
		if err != nil {
			last = err
		} else if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("%w (last error: %v)", ErrTimeout, last)
			}
			return ErrTimeout
		case <-time.After(100 * time.Millisecond):
		}
	}
}
