package main

import (
	"fmt"
	"io"
	"os"
	"strings"

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
	var force, private bool
	var profile string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a repo: identity key, config file and API token (--private: and a swarm key)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			repo, err := g.openRepo()
			if err != nil {
				return err
			}
			sk, err := repo.Init(config.InitOptions{Profile: profileFrom(profile), Force: force, Private: private})
			if err != nil {
				return err
			}
			id, _ := peer.IDFromPrivateKey(sk)
			out := map[string]string{"peer_id": id.String(), "repo": repo.Path}
			psk, err := repo.SwarmKey()
			if err != nil {
				return err
			}
			if psk != nil {
				out["swarm_key_fingerprint"] = swarmkey.Fingerprint(psk)
			}
			return g.print(cmd.OutOrStdout(), out, func(w io.Writer) {
				fmt.Fprintf(w, "initialized repo %s\npeer ID: %s\n", repo.Path, id)
				if psk != nil {
					fmt.Fprintf(w, "private network: swarm key %s, fingerprint %s\ngive the other nodes this key: plexus swarm-key show --reveal > swarm.key, then on each: plexus swarm-key import swarm.key\n",
						repo.File(config.SwarmKeyFile), out["swarm_key_fingerprint"])
				}
			})
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing identity (and swarm key, with --private)")
	cmd.Flags().BoolVar(&private, "private", false, "create a swarm key (<repo>/swarm.key, 0600): the node joins only nodes with the same key")
	cmd.Flags().StringVar(&profile, "profile", "", "config profile: default or local (loopback only, no mDNS or port mapping; default $PLEXUS_PROFILE)")
	return cmd
}

func newConfigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Show or edit the config file"}
	cmd.AddCommand(&cobra.Command{
		Use:   "show",
		Short: "Print the config file",
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
	cmd.AddCommand(&cobra.Command{
		Use:   "set KEY VALUE",
		Short: "Change one setting (validated before saving; lists take a JSON array or comma-separated items)",
		Args:  cobra.ExactArgs(2),
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
	})
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
