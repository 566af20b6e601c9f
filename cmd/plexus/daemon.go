package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/gologshim"
	"github.com/spf13/cobra"

	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/daemon"
)

type daemonFlags struct {
	profile     string
	bootstrap   []string
	listen      []string
	api         string
	allowRemote bool
	logLevel    string
	logFormat   string

	relayService optBool // --relay-service[=false]: overrides nat.relay_service
	amino        optBool // --amino[=false]: overrides dht.amino, after the profile

	detach  bool // start in the background and return once ready
	readyFD int  // set by --detach for the background process: where it reports readiness
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
and are never written into it.

SIGHUP re-reads the config file's log.level (other settings need a restart).
With --detach it runs in the background (logs in <repo>/daemon.log) and the
command returns once the node has started and its API answers, or fails with
the daemon's error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.detach {
				return detachDaemon(cmd, g)
			}
			return runDaemon(cmd, g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.profile, "profile", "", "config profile applied on top of the config file at start, not written into it: default or local (default $PLEXUS_PROFILE)")
	fl.StringArrayVar(&f.bootstrap, "bootstrap", nil, "peer to join the network through, a full multiaddr (repeatable; added to the config's)")
	fl.StringArrayVar(&f.listen, "listen", nil, "multiaddr to listen on (repeatable; replaces the config's)")
	fl.StringVar(&f.api, "api-listen", "", "HTTP API address host:port (port 0 picks one); also accepted as --api")
	fl.BoolVar(&f.allowRemote, "api-allow-remote", false, "allow an API address beyond loopback, such as 0.0.0.0:5101 (sets api.allow_remote)")
	fl.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error (default from config)")
	fl.StringVar(&f.logFormat, "log-format", "", "text or json (default from config)")
	fl.VarPF(&f.relayService, "relay-service", "", "serve as a circuit relay v2 for private nodes while publicly reachable (overrides nat.relay_service; --relay-service=false turns it off)").NoOptDefVal = "true"
	fl.VarPF(&f.amino, "amino", "", "also join the public IPFS DHT, Amino (overrides dht.amino, also over the local profile, whose dht.amino_bootstrap is empty: the node then learns Amino peers from its connections; --amino=false turns it off)").NoOptDefVal = "true"
	fl.BoolVar(&f.detach, "detach", false, "run in the background; return once the daemon is ready, printing its peer ID and addresses")
	fl.IntVar(&f.readyFD, readyFDFlag, 0, "file descriptor to report readiness on (used by --detach)")
	fl.MarkHidden(readyFDFlag)
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
	if f.allowRemote {
		cfg.API.AllowRemote = true
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
	if f.amino.set {
		cfg.DHT.Amino = f.amino.val
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

func runDaemon(cmd *cobra.Command, g *globals, f *daemonFlags) (err error) {
	out := cmd.OutOrStdout()
	ready := newReadyReporter(f.readyFD)
	defer func() { ready.fail(err) }()
	// Signals are taken before anything starts: a SIGTERM during startup
	// still ends in a clean close of the datastore, and SIGHUP never kills
	// the daemon.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	hups := make(chan os.Signal, 1)
	signal.Notify(hups, syscall.SIGHUP)
	defer signal.Stop(hups)

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
	level := new(slog.LevelVar)
	log := newLogger(cfg.Log, level)
	if !config.IsLoopbackHostPort(cfg.API.Listen) {
		log.Warn("the API listens beyond loopback (api.allow_remote): anyone who reaches it and has the token controls the node",
			"api.listen", cfg.API.Listen)
	}
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
	if cfg.DHT.Amino {
		fmt.Fprintf(out, "Amino DHT (IPFS network, /ipfs/kad/1.0.0): on, %d bootstrap peer(s).\n", len(cfg.DHT.AminoBootstrap))
	}
	if len(cfg.Network.Bootstrap) == 0 {
		fmt.Fprintln(out, "No bootstrap peers configured: running as a bootstrap node (the first node of a new network).")
	} else {
		fmt.Fprintf(out, "Joining the network through %d bootstrap peer(s).\n", len(cfg.Network.Bootstrap))
	}
	fmt.Fprintln(out, "Daemon is ready.")
	ready.ok(id, d.APIAddr)
	sdNotify(log, "READY=1")

wait:
	for {
		select {
		case s := <-sigs:
			log.Info("signal received, shutting down (send it again to force exit)", "signal", s)
			break wait
		case <-hups:
			reloadConfig(repo, g, f, cfg, level, log)
		case <-d.ShutdownRequested():
			log.Info("shutdown requested through the API")
			break wait
		case err := <-d.Errors():
			return fmt.Errorf("API server: %w", err)
		}
	}
	sdNotify(log, "STOPPING=1")
	go forceExitOnSecondSignal(sigs)
	if err := d.Close(); err != nil {
		log.Warn("closing node", "err", err)
	}
	fmt.Fprintln(out, "Daemon stopped.")
	return nil
}

// reloadConfig applies what can change without a restart, at SIGHUP: the
// config file's log.level (unless --log-level set it). It logs what it did
// and which other settings differ from the running ones (they take effect at
// the next start); a config that does not load or validate changes nothing.
func reloadConfig(repo config.Repo, g *globals, f *daemonFlags, running config.Config, level *slog.LevelVar, log *slog.Logger) {
	cfg, _, err := daemonConfig(repo, g, f, io.Discard)
	if err != nil {
		log.Error("SIGHUP: config not reloaded, the daemon keeps its settings", "err", err)
		return
	}
	if f.logLevel != "" {
		log.Warn("SIGHUP: log.level is set by --log-level, which the config file does not override", "log.level", f.logLevel)
	} else {
		level.Set(slogLevel(cfg.Log.Level))
	}
	log.Info("config reloaded", "log.level", cfg.Log.Level)
	if changed := changedSections(running, cfg); len(changed) > 0 {
		log.Warn("SIGHUP: these settings changed in the config file and take effect at the next start", "sections", strings.Join(changed, ", "))
	}
}

// changedSections names the config sections other than log that differ
// between a and b.
func changedSections(a, b config.Config) []string {
	var out []string
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := range va.NumField() {
		sf := va.Type().Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("toml"), ",")
		if name == "log" || !sf.IsExported() {
			continue
		}
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			out = append(out, name)
		}
	}
	return out
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

// newLogger builds the slog logger at level (set from c.Level; change it
// later to change the level) and routes go-libp2p's logs through it (at warn
// and above unless the level is debug).
func newLogger(c config.Log, level *slog.LevelVar) *slog.Logger {
	level.Set(slogLevel(c.Level))
	hopts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, hopts)
	if c.Format == "json" {
		h = slog.NewJSONHandler(os.Stderr, hopts)
	}
	gologshim.SetDefaultHandler(levelHandler{Handler: h, level: level})
	log := slog.New(h)
	slog.SetDefault(log)
	return log
}

func slogLevel(s string) slog.Level {
	var l slog.Level
	l.UnmarshalText([]byte(s))
	return l
}

// levelHandler filters go-libp2p's logs: warn and above, or everything the
// handler takes when the level is debug.
type levelHandler struct {
	slog.Handler
	level *slog.LevelVar
}

func (h levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	lvl := h.level.Level()
	min := max(lvl, slog.LevelWarn)
	if lvl <= slog.LevelDebug {
		min = lvl
	}
	return l >= min && h.Handler.Enabled(ctx, l)
}

func (h levelHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return levelHandler{Handler: h.Handler.WithAttrs(a), level: h.level}
}

func (h levelHandler) WithGroup(name string) slog.Handler {
	return levelHandler{Handler: h.Handler.WithGroup(name), level: h.level}
}
