// Package devnet runs a development network of N Plexus nodes on loopback in
// one process: each node has its own repo (under a temporary or given
// directory), its own HTTP API, and the local profile; node 1 is the
// bootstrap node and the others know only node 1.
package devnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/daemon"
)

// MaxNodes bounds one devnet: each node costs a few MB and a few goroutines.
const MaxNodes = 200

// ErrInvalidSize is returned for a node count outside 1..MaxNodes.
var ErrInvalidSize = errors.New("invalid devnet size")

// Options configure Start.
type Options struct {
	Nodes int
	// Dir holds the repos (node1, node2, ...). Empty: a temporary directory
	// removed by Close.
	Dir    string
	Logger *slog.Logger
}

// Member is one node of the devnet.
type Member struct {
	Name    string `json:"name"`
	PeerID  string `json:"peer_id"`
	Addr    string `json:"addr"` // first full multiaddr
	APIAddr string `json:"api"`
	Repo    string `json:"repo"`
	daemon  *daemon.Daemon
}

// Net is a running devnet.
type Net struct {
	Members []*Member
	dir     string
	tempDir bool
}

// Start starts the nodes one after the other (node 1 first) and returns when
// all have started. On error it stops those already running.
func Start(ctx context.Context, o Options) (_ *Net, err error) {
	if o.Nodes < 1 || o.Nodes > MaxNodes {
		return nil, fmt.Errorf("%w: --nodes %d is outside 1..%d", ErrInvalidSize, o.Nodes, MaxNodes)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	n := &Net{dir: o.Dir}
	if n.dir == "" {
		if n.dir, err = os.MkdirTemp("", "plexus-devnet-"); err != nil {
			return nil, err
		}
		n.tempDir = true
	}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	first, err := startMember(ctx, n.dir, 1, nil, o.Logger)
	if err != nil {
		return nil, err
	}
	n.Members = append(n.Members, first)
	// The others start in parallel (bounded), all pointed at node 1.
	rest := make([]*Member, o.Nodes-1)
	errs := make([]error, o.Nodes-1)
	sem := make(chan struct{}, startParallelism)
	var wg sync.WaitGroup
	for i := range rest {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			rest[i], errs[i] = startMember(ctx, n.dir, i+2, []string{first.Addr}, o.Logger)
		}()
	}
	wg.Wait()
	for _, m := range rest {
		if m != nil {
			n.Members = append(n.Members, m)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return n, nil
}

// startParallelism bounds how many nodes start at once.
const startParallelism = 8

func startMember(ctx context.Context, base string, i int, boot []string, log *slog.Logger) (_ *Member, err error) {
	name := fmt.Sprintf("node%d", i)
	defer func() {
		if err != nil {
			err = fmt.Errorf("%s: %w", name, err)
		}
	}()
	dir := filepath.Join(base, name)
	repo := config.Repo{Path: dir}
	if _, err := repo.Prepare(config.InitOptions{Profile: "local"}); err != nil {
		return nil, err
	}
	cfg, err := repo.Config()
	if err != nil {
		return nil, err
	}
	if err := cfg.ApplyProfile("local"); err != nil {
		return nil, err
	}
	cfg.Network.Bootstrap = boot
	d, err := daemon.Start(ctx, daemon.Options{Repo: repo, Config: cfg, Profile: "local", Logger: log.With("node", name)})
	if err != nil {
		return nil, err
	}
	id := d.Node.Info()
	return &Member{Name: name, PeerID: id.ID.String(), Addr: id.Addrs[0].String(), APIAddr: d.APIAddr, Repo: dir, daemon: d}, nil
}

// Dir is the directory holding the repos.
func (n *Net) Dir() string { return n.dir }

// ShutdownRequested receives when any member is asked to shut down through
// its API (plexus --repo <member repo> shutdown).
func (n *Net) ShutdownRequested() <-chan struct{} {
	ch := make(chan struct{}, 1)
	for _, m := range n.Members {
		go func() {
			<-m.daemon.ShutdownRequested()
			select {
			case ch <- struct{}{}:
			default:
			}
		}()
	}
	return ch
}

// Close stops every node in parallel and removes a temporary directory.
func (n *Net) Close() error {
	var wg sync.WaitGroup
	errs := make([]error, len(n.Members))
	for i, m := range n.Members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = m.daemon.Close()
		}()
	}
	wg.Wait()
	if n.tempDir {
		errs = append(errs, os.RemoveAll(n.dir))
	}
	return errors.Join(errs...)
}
