package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/gologshim"
	"github.com/spf13/cobra"

	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/daemon"
)

type daemonFlags struct {
	profile   string
	bootstrap []string
	listen    []string
	api       string
	logLevel  string
	logFormat string

	relayService optBool // --relay-service[=false]: overrides nat.relay_service
}

func newDaemonCmd(g *globals) *cobra.Command {
	f := &daemonFlags{}
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Run the node (initialises the repo on first run)",
		Long: `Run the node. With no bootstrap peers it is the first node of a new network;
with --bootstrap MULTIADDR it joins the network of that peer.
Stop it with Ctrl-C, SIGTERM or "plexus shutdown"; a second signal forces exit.

On first run it initialises the repo as "plexus init" does. A repo whose identity.key is
gone is refused (restore it, or "plexus init --new-identity"); a repo whose config.toml is
gone gets the defaults. --profile and $PLEXUS_PROFILE apply on top of config.toml at start
and are never written into it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDaemon(cmd, g, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.profile, "profile", "", "config profile applied on top of the config file at start, not written into it: default or local (default $PLEXUS_PROFILE)")
	fl.StringArrayVar(&f.bootstrap, "bootstrap", nil, "peer to join the network through, a full multiaddr (repeatable; added to the config's)")
	fl.StringArrayVar(&f.listen, "listen", nil, "multiaddr to listen on (repeatable; replaces the config's)")
	fl.StringVar(&f.api, "api-listen", "", "HTTP API address host:port (port 0 picks one); also accepted as --api")
	fl.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error (default from config)")
	fl.StringVar(&f.logFormat, "log-format", "", "text or json (default from config)")
	fl.VarPF(&f.relayService, "relay-service", "", "serve as a circuit relay v2 for private nodes while publicly reachable (overrides nat.relay_service; --relay-service=false turns it off)").NoOptDefVal = "true"
	return cmd
}

// daemonConfig readies the repo (initialising it on first run), loads its
// config and applies the profile and flags on top; the profile is not
// written into the file. It returns the profile applied ("" for none).
func daemonConfig(repo config.Repo, g *globals, f *daemonFlags, out io.Writer) (config.Config, string, error) {
	profile := profileFrom(f.profile)
	if profile == "default" {
		profile = ""
	}
	cfg := config.Default()
	if err := cfg.ApplyProfile(profile); err != nil { // an unknown profile fails before the repo is touched
		return cfg, "", err
	}
	switch created, err := repo.Prepare(config.InitOptions{}); {
	case err != nil:
		return cfg, "", err
	case created == config.PreparedRepo:
		fmt.Fprintf(out, "Initialized new repo at %s\n", repo.Path)
	case created == config.PreparedConfig:
		fmt.Fprintf(out, "Wrote a default %s to %s (it was missing; the identity is unchanged)\n", config.ConfigFile, repo.Path)
	}
	cfg, err := repo.Config()
	if err != nil {
		return cfg, "", err
	}
	if err := cfg.ApplyProfile(profile); err != nil {
		return cfg, "", err
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
	if f.relayService.set {
		cfg.NAT.RelayService = f.relayService.val
	}
	return cfg, profile, cfg.Validate()
}

// describeProfile says which profile a daemon runs with: applied, the profile
// named; otherwise whether the config file itself holds a profile's settings.
func describeProfile(applied string, file config.Config) string {
	switch {
	case applied != "":
		return applied + " (applied at start on top of " + config.ConfigFile + ", which it does not change)"
	case config.ProfileOf(file) != "":
		return "none (" + config.ConfigFile + " as written, which holds the " + config.ProfileOf(file) + " profile's settings)"
	}
	return "none (" + config.ConfigFile + " as written)"
}

func runDaemon(cmd *cobra.Command, g *globals, f *daemonFlags) error {
	out := cmd.OutOrStdout()
	repo, err := g.openRepo()
	if err != nil {
		return err
	}
	cfg, profile, err := daemonConfig(repo, g, f, out)
	if err != nil {
		return err
	}
	file, err := repo.Config()
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log)
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	d, err := daemon.Start(ctx, daemon.Options{Repo: repo, Config: cfg, Profile: profile, Logger: log})
	if err != nil {
		return err
	}
	defer d.Close()

	id := d.Node.Info()
	fmt.Fprintf(out, "Plexus daemon %s\nRepo:    %s\nProfile: %s\nPeer ID: %s\nListening on:\n",
		id.AgentVersion, repo.Path, describeProfile(profile, file), id.ID)
	for _, a := range id.Addrs {
		fmt.Fprintf(out, "  %s\n", a)
	}
	fmt.Fprintf(out, "API:     http://%s\n", d.APIAddr)
	printPrivateBanner(out, id.Private)
	if len(cfg.Network.Bootstrap) == 0 {
		fmt.Fprintln(out, "No bootstrap peers configured: running as a bootstrap node (the first node of a new network).")
	} else {
		fmt.Fprintf(out, "Joining the network through %d bootstrap peer(s).\n", len(cfg.Network.Bootstrap))
	}
	fmt.Fprintln(out, "Daemon is ready.")

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	select {
	case s := <-sigs:
		log.Info("signal received, shutting down (send it again to force exit)", "signal", s)
	case <-d.ShutdownRequested():
		log.Info("shutdown requested through the API")
	case err := <-d.Errors():
		return fmt.Errorf("API server: %w", err)
	}
	go forceExitOnSecondSignal(sigs)
	if err := d.Close(); err != nil {
		log.Warn("closing node", "err", err)
	}
	fmt.Fprintln(out, "Daemon stopped.")
	return nil
}

// forceExitOnSecondSignal exits at a second signal or when shutdown hangs.
func forceExitOnSecondSignal(sigs <-chan os.Signal) {
	select {
	case <-sigs:
		fmt.Fprintln(os.Stderr, "second signal: forcing exit")
	case <-time.After(30 * time.Second):
		fmt.Fprintln(os.Stderr, "shutdown took longer than 30s: forcing exit")
	}
	os.Exit(1)
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
