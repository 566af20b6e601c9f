package node

// This file is the part of the Go API written for programs that embed a
// node as an application (examples/recipes, examples/chat): opening a node
// on a repo directory without the HTTP API, and waiting until it has joined
// its network.

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/routing"
)

// RepoOptions tell OpenRepo which repo to use and how to run its node.
type RepoOptions struct {
	// Path is the repo directory (required). It is created and initialised
	// (identity key, config.toml) on first use, as "plexus daemon" does.
	Path string
	// Profile is applied on top of the repo's config at every open, never
	// written into it: "default" or "local" (see config.ApplyProfile).
	// Default "" (the config as it is).
	Profile string
	// Bootstrap peers (full multiaddrs ending in /p2p/<peer ID>) are added
	// to the config's. Default none.
	Bootstrap []string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// LogFile, when set, is a file name in the repo that the node logs to
	// (appended, mode 0600) instead of Logger: for apps whose terminal is
	// their user interface. Default "".
	LogFile string
}

// OpenRepo builds a node from a repo directory, like "plexus daemon" but
// without the HTTP API: it takes the repo's lock (so that no daemon or
// other program uses the repo at the same time), initialises the repo on
// first use, loads its config and identity and opens its datastore, so
// that the node keeps its peer ID, its known peers and the application's
// data across restarts. Close releases the lock after everything else.
// Call Start to join the network.
func OpenRepo(ctx context.Context, o RepoOptions) (_ *Node, err error) {
	if o.Path == "" {
		return nil, fmt.Errorf("%w: repo path is empty", ErrInvalidArgument)
	}
	path, err := filepath.Abs(o.Path)
	if err != nil {
		return nil, fmt.Errorf("repo %s: %w", o.Path, err)
	}
	repo := config.Repo{Path: path}
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("create repo %s: %w", path, err)
	}
	// As the daemon does: initialise an empty repo, refuse one that lost
	// its identity, never overwrite anything (Prepare locks for its writes).
	if _, err := repo.Prepare(config.InitOptions{}); err != nil {
		return nil, err
	}
	unlock, err := repo.Lock()
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			unlock()
		}
	}()
	cfg, err := repo.Config()
	if err != nil {
		return nil, err
	}
	if err := cfg.ApplyProfile(o.Profile); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	for _, b := range o.Bootstrap {
		if !slices.Contains(cfg.Network.Bootstrap, b) {
			cfg.Network.Bootstrap = append(cfg.Network.Bootstrap, b)
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	key, err := repo.Key()
	if err != nil {
		return nil, err
	}
	logger, closeLog := o.Logger, func() error { return nil }
	if o.LogFile != "" {
		var f *os.File
		if f, err = os.OpenFile(repo.File(o.LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
			return nil, fmt.Errorf("open log file: %w", err)
		}
		defer func() {
			if err != nil {
				f.Close()
			}
		}()
		logger, closeLog = slog.New(slog.NewTextHandler(f, nil)), f.Close
	}
	n, err := New(ctx, Config{Config: cfg, Identity: key, Logger: logger,
		DatastorePath: repo.File(config.DatastoreDir)})
	if err != nil {
		return nil, err
	}
	// Closers run in reverse order: the first ones run last, after the
	// datastore is closed and the node has logged its last line.
	n.mu.Lock()
	n.closers = slices.Insert(n.closers, 0, func() error { unlock(); return nil }, closeLog)
	n.mu.Unlock()
	return n, nil
}

// WaitReady blocks until the node can use its network: until its DHT
// routing table holds a peer, so that DHT lookups, records and rendezvous
// (which pub/sub topics use to find their peers) work. A node without
// bootstrap peers is ready at once: it is the first node of its network,
// or it rejoins through the peers it remembers, in the background. Call it
// after Start. It returns ctx's error if ctx ends first, and ErrClosed if
// the node is closed.
func (n *Node) WaitReady(ctx context.Context) error {
	if n.isClosed() {
		return ErrClosed
	}
	if len(n.cfg.Network.Bootstrap) == 0 {
		return nil
	}
	added := make(chan struct{}, 1)
	cancel := n.routing.Subscribe(func(c routing.Change) {
		select {
		case added <- struct{}{}:
		default:
		}
	})
	defer cancel()
	for n.routing.Size() == 0 {
		select {
		case <-added:
		case <-ctx.Done():
			return fmt.Errorf("wait for a peer in the routing table: %w", ctx.Err())
		case <-n.done:
			return ErrClosed
		}
	}
	return nil
}
