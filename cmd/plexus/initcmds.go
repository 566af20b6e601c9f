package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"

	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/swarmkey"
)

// profileFrom returns the --profile flag or $PLEXUS_PROFILE.
func profileFrom(flag string) string {
	if flag != "" {
		return flag
	}
	return os.Getenv("PLEXUS_PROFILE")
}

func (g *globals) openRepo() (config.Repo, error) {
	p, err := config.RepoPath(g.repo)
	return config.Repo{Path: p}, err
}

// loadConfig opens the selected repo and loads its config.
func (g *globals) loadConfig() (config.Repo, config.Config, error) {
	repo, err := g.openRepo()
	if err != nil {
		return repo, config.Config{}, err
	}
	c, err := repo.Config()
	return repo, c, err
}

func newInitCmd(g *globals) *cobra.Command {
	var opts config.InitOptions
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a repo: identity key, config file and API token (--private: and a swarm key)",
		Long: `Create a repo: an Ed25519 identity (identity.key), config.toml with every default written
out, and an API token (api.token). It never replaces an existing identity or config without
--force, and refuses while a daemon uses the repo.

  --profile P      write profile P's settings into config.toml (a profile given to the daemon
                   with --profile or $PLEXUS_PROFILE is applied at start and never written)
  --new-identity   make a new identity (a new peer ID), keeping config.toml and api.token
  --config-only    write config.toml only (for a repo whose config was lost), keeping the identity
  --private        also create a swarm key (swarm.key, 0600): the node joins only nodes with the same key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			repo, err := g.openRepo()
			if err != nil {
				return err
			}
			sk, err := repo.Init(opts)
			if err != nil {
				return err
			}
			res := map[string]string{"repo": repo.Path}
			var id peer.ID
			if sk != nil {
				id, _ = peer.IDFromPrivateKey(sk)
				res["peer_id"] = id.String()
			}
			psk, err := repo.SwarmKey()
			if err != nil {
				return err
			}
			if psk != nil {
				res["swarm_key_fingerprint"] = swarmkey.Fingerprint(psk)
			}
			env := os.Getenv("PLEXUS_PROFILE")
			return g.print(cmd.OutOrStdout(), res, func(w io.Writer) {
				switch {
				case opts.ConfigOnly:
					fmt.Fprintf(w, "wrote %s\n", repo.File(config.ConfigFile))
				case opts.NewIdentity:
					fmt.Fprintf(w, "new identity in repo %s (config kept)\n", repo.Path)
				default:
					fmt.Fprintf(w, "initialized repo %s\n", repo.Path)
				}
				if sk != nil {
					fmt.Fprintf(w, "peer ID: %s\n", id)
				}
				if psk != nil {
					fmt.Fprintf(w, "private network: swarm key %s, fingerprint %s\n", repo.File(config.SwarmKeyFile), res["swarm_key_fingerprint"])
					if opts.Private {
						fmt.Fprintln(w, "give the other nodes this key: plexus swarm-key show --reveal > swarm.key, then on each: plexus swarm-key import swarm.key")
					}
				}
				if env != "" && env != "default" && opts.Profile == "" && !opts.NewIdentity {
					fmt.Fprintf(w, "note: $PLEXUS_PROFILE=%s is applied when the daemon starts, not written into %s (use --profile %s to write it)\n", env, config.ConfigFile, env)
				}
			})
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.Force, "force", false, "replace an existing identity, config and token (with --new-identity or --config-only: only that)")
	fl.StringVar(&opts.Profile, "profile", "", "write this profile's settings into config.toml: default or local (loopback only, no mDNS or port mapping)")
	fl.BoolVar(&opts.NewIdentity, "new-identity", false, "make a new identity (new peer ID), keeping the config and token")
	fl.BoolVar(&opts.ConfigOnly, "config-only", false, "write config.toml only, keeping the identity and token")
	fl.BoolVar(&opts.Private, "private", false, "create a swarm key (<repo>/swarm.key, 0600): the node joins only nodes with the same key (with --force: replace one)")
	return cmd
}

func newConfigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Show or edit the config file"}
	cmd.AddCommand(&cobra.Command{
		Use:   "show",
		Short: "Print the config file, after a line saying which profile is in effect",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, c, err := g.loadConfig()
			if err != nil {
				return err
			}
			if g.json {
				return g.print(cmd.OutOrStdout(), c, nil)
			}
			b, err := config.Render(c)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "# Profile in effect: %s\n", g.profileInEffect(cmd, c))
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "get KEY",
		Short: "Print one setting, e.g. dht.mode",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, c, err := g.loadConfig()
			if err != nil {
				return err
			}
			v, err := config.Get(c, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), v)
			return nil
		},
	})
	set := &cobra.Command{
		Use:   "set KEY VALUE",
		Short: "Change one setting (validated before saving; lists take a JSON array or comma-separated items)",
		Args:  keyValueArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, c, err := g.loadConfig()
			if err != nil {
				return err
			}
			if err := config.Set(&c, args[0], args[1]); err != nil {
				return err
			}
			if err := config.Save(repo.File(config.ConfigFile), c); err != nil {
				return err
			}
			v, _ := config.Get(c, args[0])
			fmt.Fprintf(cmd.OutOrStdout(), "%s = %s (restart the daemon to apply)\n", args[0], v)
			return nil
		},
	}
	// Flags end at KEY, so a VALUE such as -5 or -1s is a value, not a flag;
	// keyValueArgs parses the flags that follow VALUE.
	set.Flags().SetInterspersed(false)
	cmd.AddCommand(set)
	cmd.AddCommand(&cobra.Command{
		Use:   "keys",
		Short: "List every setting name",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), strings.Join(config.Keys(), "\n"))
		},
	})
	return cmd
}

// profileInEffect says which profile applies on top of the config file c:
// the running daemon's (asked through the API), otherwise the one a daemon
// started now would apply ($PLEXUS_PROFILE).
func (g *globals) profileInEffect(cmd *cobra.Command, c config.Config) string {
	var s string
	if profile, running := g.daemonProfile(cmd); running {
		s = "none (the running daemon uses this file as written)"
		if profile != "" {
			s = profile + " (the running daemon applied it at start; it is not stored in this file)"
		}
	} else {
		s = "none (a daemon started now uses this file as written)"
		if p := os.Getenv("PLEXUS_PROFILE"); p != "" && p != "default" {
			s = p + " (from $PLEXUS_PROFILE: a daemon started now applies it on top of this file)"
		}
	}
	if p := config.ProfileOf(c); p != "" {
		s += "; the file itself holds the " + p + " profile's settings"
	}
	return s
}

// daemonProfile asks the daemon of the repo, if one is running, which
// profile it applied at start.
func (g *globals) daemonProfile(cmd *cobra.Command) (profile string, running bool) {
	c, err := g.client()
	if err != nil {
		return "", false
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), min(g.timeout, 2*time.Second))
	defer cancel()
	id, err := c.ID(ctx)
	return id.Profile, err == nil
}

// keyValueArgs takes KEY VALUE from args, where flag parsing stopped at KEY,
// and parses what follows VALUE as flags (plexus config set KEY -5 --json).
func keyValueArgs(cmd *cobra.Command, args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("accepts KEY VALUE, received %d argument(s)", len(args))
	}
	if err := cmd.Flags().Parse(args[2:]); err != nil {
		return err
	}
	if extra := cmd.Flags().Args(); len(extra) > 0 {
		return fmt.Errorf("accepts KEY VALUE, received extra argument(s) %q (quote a value with spaces)", extra)
	}
	return nil
}
