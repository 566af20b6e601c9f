package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/gologshim"
	"github.com/spf13/cobra"

	"github.com/plexus-p2p/plexus/api"
	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/node"
)

type daemonFlags struct {
	profile   string
	bootstrap []string
	listen    []string
	api       string
	logLevel  string
	logFormat string
}

func newDaemonCmd(g *globals) *cobra.Command {
	f := &daemonFlags{}
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Run the node (initialises the repo on first run)",
		Long: `Run the node. With no bootstrap peers it is the first node of a new network;
with --bootstrap MULTIADDR it joins the network of that peer.
Stop it with Ctrl-C, SIGTERM or "plexus shutdown"; a second signal forces exit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDaemon(cmd, g, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.profile, "profile", "", "config profile applied on top of the config file: default or local (default $PLEXUS_PROFILE)")
	fl.StringArrayVar(&f.bootstrap, "bootstrap", nil, "peer to join the network through, a full multiaddr (repeatable; added to the config's)")
	fl.StringArrayVar(&f.listen, "listen", nil, "multiaddr to listen on (repeatable; replaces the config's)")
	fl.StringVar(&f.api, "api-listen", "", "HTTP API address host:port (port 0 picks one); also accepted as --api")
	fl.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error (default from config)")
	fl.StringVar(&f.logFormat, "log-format", "", "text or json (default from config)")
	return cmd
}

// daemonConfig loads the repo's config (initialising the repo on first run)
// and applies the profile and flags.
func daemonConfig(repo config.Repo, g *globals, f *daemonFlags, out io.Writer) (config.Config, error) {
	profile := profileFrom(f.profile)
	if !repo.Initialized() {
		sk, err := repo.Init(config.InitOptions{Profile: profile})
		if err != nil {
			return config.Config{}, err
		}
		_ = sk
		fmt.Fprintf(out, "Initialized new repo at %s\n", repo.Path)
	}
	cfg, err := repo.Config()
	if err != nil {
		return cfg, err
	}
	if err := cfg.ApplyProfile(profile); err != nil {
		return cfg, err
	}
	if len(f.listen) > 0 {
		cfg.Network.Listen = f.listen
	}
	for _, b := range f.bootstrap {
		if !slices.Contains(cfg.Network.Bootstrap, b) {
			cfg.Network.Bootstrap = append(cfg.Network.Bootstrap, b)
		}
	}
	if f.api != "" {
		cfg.API.Listen = f.api
	} else if g.api != "" {
		cfg.API.Listen = g.api
	}
	if f.logLevel != "" {
		cfg.Log.Level = f.logLevel
	}
	if f.logFormat != "" {
		cfg.Log.Format = f.logFormat
	}
	return cfg, cfg.Validate()
}

func runDaemon(cmd *cobra.Command, g *globals, f *daemonFlags) error {
	out := cmd.OutOrStdout()
	repo, err := g.openRepo()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(repo.Path, 0o700); err != nil {
		return fmt.Errorf("create repo %s: %w", repo.Path, err)
	}
	unlock, err := repo.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	cfg, err := daemonConfig(repo, g, f, out)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log)
	key, err := repo.Key()
	if err != nil {
		return err
	}
	token, err := repo.Token()
	if err != nil {
		return err
	}

	// Bind the API first: a busy API port fails before the node starts.
	apiLn, err := net.Listen("tcp", cfg.API.Listen)
	if err != nil {
		return fmt.Errorf("API listen on %s: %w", cfg.API.Listen, err)
	}
	defer apiLn.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n, err := node.New(ctx, node.Config{Config: cfg, Identity: key, Logger: log,
		DatastorePath: repo.File(config.DatastoreDir)})
	if err != nil {
		return err
	}
	defer n.Close()

	shutdown := make(chan struct{}, 1)
	srv, err := api.New(n, api.Options{Token: token, Logger: log, Registry: n.Registry(),
		Shutdown: func() { shutdown <- struct{}{} }})
	if err != nil {
		return err
	}
	serveErr := make(chan error, 2)
	go func() { serveErr <- api.Serve(ctx, apiLn, srv.Handler()) }()
	if cfg.API.MetricsListen != "" {
		mln, err := net.Listen("tcp", cfg.API.MetricsListen)
		if err != nil {
			return fmt.Errorf("metrics listen on %s: %w", cfg.API.MetricsListen, err)
		}
		go func() { serveErr <- api.Serve(ctx, mln, srv.MetricsHandler()) }()
	}
	apiAddr := apiLn.Addr().String()
	if err := repo.WriteAPIAddr(apiAddr); err != nil {
		return err
	}
	defer repo.RemoveAPIAddr()

	id := n.Info()
	fmt.Fprintf(out, "Plexus daemon %s\nRepo:    %s\nPeer ID: %s\nListening on:\n", id.AgentVersion, repo.Path, id.PeerID)
	for _, a := range id.Addrs {
		fmt.Fprintf(out, "  %s\n", a)
	}
	fmt.Fprintf(out, "API:     http://%s\n", apiAddr)
	if len(cfg.Network.Bootstrap) == 0 {
		fmt.Fprintln(out, "No bootstrap peers configured: running as a bootstrap node (the first node of a new network).")
	} else {
		fmt.Fprintf(out, "Joining the network through %d bootstrap peer(s).\n", len(cfg.Network.Bootstrap))
	}
	if err := n.Start(ctx); err != nil {
		return err
	}
	fmt.Fprintln(out, "Daemon is ready.")

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	select {
	case s := <-sigs:
		log.Info("signal received, shutting down (send it again to force exit)", "signal", s)
	case <-shutdown:
		log.Info("shutdown requested through the API")
	case err := <-serveErr:
		return fmt.Errorf("API server: %w", err)
	}
	go func() {
		select {
		case <-sigs:
			fmt.Fprintln(os.Stderr, "second signal: forcing exit")
			os.Exit(1)
		case <-time.After(30 * time.Second):
			fmt.Fprintln(os.Stderr, "shutdown took longer than 30s: forcing exit")
			os.Exit(1)
		}
	}()
	cancel() // stops the API servers
	if err := n.Close(); err != nil {
		log.Warn("closing node", "err", err)
	}
	fmt.Fprintln(out, "Daemon stopped.")
	return nil
}

// newLogger builds the slog logger and routes go-libp2p's logs through it
// (at warn and above unless the level is debug).
func newLogger(c config.Log) *slog.Logger {
	var lvl slog.Level
	lvl.UnmarshalText([]byte(c.Level))
	hopts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, hopts)
	if c.Format == "json" {
		h = slog.NewJSONHandler(os.Stderr, hopts)
	}
	libp2pLevel := max(lvl, slog.LevelWarn)
	if lvl <= slog.LevelDebug {
		libp2pLevel = lvl
	}
	gologshim.SetDefaultHandler(levelHandler{Handler: h, min: libp2pLevel})
	log := slog.New(h)
	slog.SetDefault(log)
	return log
}

// levelHandler raises the minimum level of a handler.
type levelHandler struct {
	slog.Handler
	min slog.Level
}

func (h levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return levelHandler{Handler: h.Handler.WithAttrs(a), min: h.min}
}

func (h levelHandler) WithGroup(name string) slog.Handler {
	return levelHandler{Handler: h.Handler.WithGroup(name), min: h.min}
}
