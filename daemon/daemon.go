// Package daemon runs a node on a repo directory together with its HTTP
// API: it takes the repo lock, loads the identity and token, binds the API,
// builds and starts the node, and records the API address in the repo so
// the CLI can find it. "plexus daemon" runs one; "plexus devnet" runs many
// in one process. OpenAccounts serves the accounts routes of a repo whose
// daemon is not running.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/plexus-p2p/plexus/api"
	"github.com/plexus-p2p/plexus/auth"
	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/node"
	"github.com/plexus-p2p/plexus/ui"
)

// Options configure Start.
type Options struct {
	Repo   config.Repo
	Config config.Config // already loaded, with profile and flags applied
	// Profile names the profile applied on top of the config file at start
	// ("" for none); GET /v1/id reports it.
	Profile string
	Logger  *slog.Logger
}

// Daemon is a running node with its API.
type Daemon struct {
	Node    *node.Node
	APIAddr string // host:port the API is bound to
	// GatewayAddr is the host:port the trustless gateway is bound to
	// (gateway.listen), "" when it is off.
	GatewayAddr string

	repo     config.Repo
	cancel   context.CancelFunc
	unlock   func()
	shutdown chan struct{}
	errs     chan error
	watching chan struct{}  // closed when keepRepoFiles returns
	serving  sync.WaitGroup // the API and metrics servers
	closed   bool
}

// repoCheckInterval is how often a running daemon checks that the files the
// CLI finds it by are still in its repo: two stat calls.
const repoCheckInterval = time.Second

// Start locks the repo, binds the API, builds and starts the node. On error
// everything it started is stopped again.
func Start(ctx context.Context, o Options) (_ *Daemon, err error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	d := &Daemon{repo: o.Repo, shutdown: make(chan struct{}, 1), errs: make(chan error, 2)}
	var sctx context.Context
	sctx, d.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	if d.unlock, err = o.Repo.Lock(); err != nil {
		return nil, err
	}
	key, err := o.Repo.Key()
	if err != nil {
		return nil, err
	}
	token, err := o.Repo.Token()
	if err != nil {
		return nil, err
	}
	psk, err := o.Repo.SwarmKey() // nil without <repo>/swarm.key: a public node
	if err != nil {
		return nil, err
	}
	for _, w := range o.Repo.LoosePermissions() {
		o.Logger.Warn(w)
	}
	// Bind the API first: a busy API port fails before the node starts.
	apiLn, err := net.Listen("tcp", o.Config.API.Listen)
	if err != nil {
		return nil, fmt.Errorf("API listen on %s: %w", o.Config.API.Listen, err)
	}
	d.Node, err = node.New(ctx, node.Config{Config: o.Config, Identity: key, Logger: o.Logger,
		DatastorePath: o.Repo.File(config.DatastoreDir), PSK: psk})
	if err != nil {
		apiLn.Close()
		return nil, err
	}
	accounts, err := auth.New(d.Node.Datastore(), auth.WithSessionTTL(time.Duration(o.Config.API.SessionTTL)), auth.WithLogger(o.Logger))
	if err != nil {
		apiLn.Close()
		return nil, err
	}
	srv, err := api.New(Services(d.Node, accounts), api.Options{Token: token, Logger: o.Logger, Registry: d.Node.Registry(),
		MaxBodyBytes: maxBodyBytes(o.Config), Profile: o.Profile, UI: ui.Handler(),
		OpenRegistration: o.Config.API.Registration == config.RegistrationOpen,
		Shutdown: func() {
			select {
			case d.shutdown <- struct{}{}:
			default:
			}
		}})
	if err != nil {
		apiLn.Close()
		return nil, err
	}
	d.serving.Go(func() { d.errs <- api.ServeWith(sctx, apiLn, srv.Handler(), api.ServeOptionsFrom(o.Config.API)) })
	if o.Config.API.MetricsListen != "" {
		mln, err := net.Listen("tcp", o.Config.API.MetricsListen)
		if err != nil {
			return nil, fmt.Errorf("metrics listen on %s: %w", o.Config.API.MetricsListen, err)
		}
		d.serving.Go(func() { d.errs <- api.Serve(sctx, mln, srv.MetricsHandler()) })
	}
	d.APIAddr = apiLn.Addr().String()
	if err := d.Node.Start(ctx); err != nil {
		return nil, err
	}
	if o.Config.Gateway.Listen != "" {
		// Public content-addressed data, as Kubo's gateway serves it: no
		// token. Served once the node (and its block store) has started.
		gln, err := net.Listen("tcp", o.Config.Gateway.Listen)
		if err != nil {
			return nil, fmt.Errorf("gateway listen on %s: %w", o.Config.Gateway.Listen, err)
		}
		d.GatewayAddr = gln.Addr().String()
		gateway := d.Node.Files().GatewayHandler()
		d.serving.Go(func() { d.errs <- api.Serve(sctx, gln, gateway) })
	}
	// The API file appears once the node has started: a CLI that finds it
	// ("plexus wait", "plexus daemon --detach") finds a ready daemon.
	if err := o.Repo.WriteAPIAddr(d.APIAddr); err != nil {
		return nil, err
	}
	d.watching = make(chan struct{})
	go d.keepRepoFiles(sctx, o.Logger, token)
	return d, nil
}

// keepRepoFiles puts back the API token and address files when they are
// deleted while the daemon runs (the same token, mode 0600): without them
// the CLI cannot reach the daemon, not even to shut it down.
func (d *Daemon) keepRepoFiles(ctx context.Context, log *slog.Logger, token string) {
	defer close(d.watching)
	files := map[string]string{config.TokenFile: token, config.APIAddrFile: d.APIAddr}
	failed := map[string]bool{} // log a failure once, not every second
	t := time.NewTicker(repoCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for name, content := range files {
			restored, err := d.repo.Restore(name, content)
			switch {
			case err != nil && !failed[name]:
				log.Error("cannot restore a deleted repo file: the CLI cannot reach this daemon without it", "file", d.repo.File(name), "err", err)
			case restored && err == nil:
				log.Warn("restored a repo file deleted while the daemon runs", "file", d.repo.File(name))
			}
			failed[name] = err != nil
		}
	}
}

// Services are the node's capabilities the API serves, with the accounts
// kept in the node's datastore.
func Services(n *node.Node, accounts *auth.Service) api.Services {
	return api.Services{
		Node:      n,
		Discovery: n.Discovery(),
		Routing:   n.Router(),
		Records:   n.Records(),
		Perf:      n,
		PubSub:    api.PubSubService(n.PubSub()),
		Messaging: n,
		NAT:       n.NAT(),
		ACL:       n.ACL(),
		Auth:      accounts,
		Tunnels:   n.Tunnels(),
		Files:     n.Files(),
	}
}

// maxBodyBytes bounds API request bodies so that the largest message the
// config allows still fits: base64 makes 3 bytes 4, plus room for the rest
// of the JSON; never below the API's 4 MiB default.
func maxBodyBytes(c config.Config) int64 {
	largest := max(c.PubSub.MaxMessageSize, c.Messaging.MaxMessageSize, c.Records.MaxValueSize)
	return max(4<<20, int64(largest)/3*4+64<<10)
}

// ShutdownRequested receives when a client calls POST /v1/shutdown.
func (d *Daemon) ShutdownRequested() <-chan struct{} { return d.shutdown }

// Errors receives a fatal API server error.
func (d *Daemon) Errors() <-chan error { return d.errs }

// Close stops the API from accepting connections, closes the node
// (services in reverse order, then the datastore), waits for the API's
// requests in flight to end (event streams end cleanly with node.stopping),
// removes the API address file and releases the repo lock. It is
// idempotent.
func (d *Daemon) Close() error {
	if d.closed {
		return nil
	}
	d.closed = true
	d.cancel()
	if d.watching != nil {
		<-d.watching // before the API file is removed, so it stays removed
	}
	var errs []error
	if d.Node != nil {
		errs = append(errs, d.Node.Close())
	}
	d.serving.Wait()
	if d.Node != nil {
		d.repo.RemoveAPIAddr()
	}
	if d.unlock != nil {
		d.unlock()
	}
	return errors.Join(errs...)
}
