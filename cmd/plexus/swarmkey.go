package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/node"
	"github.com/plexus-p2p/plexus/swarmkey"
)

// swarmKeyInfo is what "plexus swarm-key" prints with --json.
type swarmKeyInfo struct {
	Private     bool   `json:"private"`
	Path        string `json:"path"`
	Fingerprint string `json:"fingerprint,omitempty"`
	Changed     *bool  `json:"changed,omitempty"` // import and new: whether the file changed
}

func newSwarmKeyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "swarm-key",
		Short: "The private network's pre-shared key (<repo>/swarm.key, Kubo's format): show, import, new",
		Long: `A repo with a swarm.key file is private: its node connects only to nodes with the
same key, over TCP and WebSocket (go-libp2p's private networks do not support
QUIC, WebTransport or WebRTC-direct). The file uses Kubo's format, so one key
works for Plexus and IPFS nodes. These commands edit the repo; restart the
daemon to apply a change. Remove the file (and restart) to leave the private network.`,
	}
	cmd.AddCommand(newSwarmKeyShowCmd(g), newSwarmKeyImportCmd(g), newSwarmKeyNewCmd(g))
	return cmd
}

func newSwarmKeyShowCmd(g *globals) *cobra.Command {
	var reveal bool
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Print the swarm key's fingerprint (--reveal: the key file itself, to copy to another node)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			repo, err := g.openRepo()
			if err != nil {
				return err
			}
			k, err := repo.SwarmKey()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			path := repo.File(config.SwarmKeyFile)
			if reveal {
				if k == nil {
					return fmt.Errorf("repo %s has no swarm key (%s): the node is public", repo.Path, path)
				}
				_, err := out.Write(swarmkey.Encode(k))
				return err
			}
			info := swarmKeyInfo{Private: k != nil, Path: path}
			if k != nil {
				info.Fingerprint = swarmkey.Fingerprint(k)
			}
			return g.print(out, info, func(w io.Writer) {
				if k == nil {
					fmt.Fprintf(w, "no swarm key (%s): the node is public\ncreate one with \"plexus swarm-key new\" or import a network's with \"plexus swarm-key import FILE\"\n", path)
					return
				}
				fmt.Fprintf(w, "swarm key:   %s\nfingerprint: %s\nthe node is private: it connects only to nodes with the same key, over TCP and WebSocket\n", path, info.Fingerprint)
			})
		},
	}
	cmd.Flags().BoolVar(&reveal, "reveal", false, "print the key file (a secret: anyone with it can join the network)")
	return cmd
}

func newSwarmKeyImportCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "import [FILE|-]",
		Short: "Make a swarm key file (Kubo's format) this repo's key; \"-\" or no FILE reads stdin",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, err := g.openRepo()
			if err != nil {
				return err
			}
			src := "-"
			if len(args) == 1 {
				src = args[0]
			} else if st, err := os.Stdin.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				return errors.New("no swarm key given: pass a file, or pipe it on stdin with \"-\"")
			}
			k, err := config.ReadSwarmKeyFile(src, cmd.InOrStdin())
			if err != nil {
				return err
			}
			changed, err := repo.ImportSwarmKey(k, force)
			if err != nil {
				return err
			}
			return printSwarmKeyWrite(cmd.OutOrStdout(), g, repo, k, changed, "imported")
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace a different swarm key (the node leaves that private network)")
	return cmd
}

func newSwarmKeyNewCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "new",
		Short: "Create a swarm key for a new private network",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			repo, err := g.openRepo()
			if err != nil {
				return err
			}
			k, err := swarmkey.Generate()
			if err != nil {
				return err
			}
			if _, err := repo.ImportSwarmKey(k, force); err != nil {
				return err
			}
			return printSwarmKeyWrite(cmd.OutOrStdout(), g, repo, k, true, "created")
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing swarm key (the node leaves that private network)")
	return cmd
}

func printSwarmKeyWrite(out io.Writer, g *globals, repo config.Repo, k []byte, changed bool, verb string) error {
	info := swarmKeyInfo{Private: true, Path: repo.File(config.SwarmKeyFile), Fingerprint: swarmkey.Fingerprint(k), Changed: &changed}
	return g.print(out, info, func(w io.Writer) {
		if !changed {
			fmt.Fprintf(w, "the repo already has this swarm key (fingerprint %s): nothing changed\n", info.Fingerprint)
			return
		}
		fmt.Fprintf(w, "%s swarm key %s (mode 0600), fingerprint %s\n", verb, info.Path, info.Fingerprint)
		if _, err := repo.APIAddr(); err == nil {
			fmt.Fprintln(w, "a daemon is running on this repo: restart it to join the private network")
		}
	})
}

// privateText describes a node's private network in one line.
func privateText(p wire.PrivateNetwork) string {
	if !p.Enabled {
		return "no (public network: any libp2p node can connect)"
	}
	s := "yes, swarm key " + p.Fingerprint + ": only nodes with the same key connect, over TCP and WebSocket"
	if len(p.DisabledTransports) > 0 {
		s += " (turned off: " + strings.Join(p.DisabledTransports, ", ") + ")"
	}
	return s
}

// printPrivateBanner is the daemon's start banner line for a private node.
func printPrivateBanner(w io.Writer, p node.PrivateNetwork) {
	if !p.Enabled {
		return
	}
	fmt.Fprintf(w, "Private network: swarm key %s; only nodes with the same key can connect.\n", p.Fingerprint)
	if len(p.DisabledTransports) > 0 {
		fmt.Fprintf(w, "  Turned off: %s (go-libp2p private networks work over TCP and WebSocket only).\n", strings.Join(p.DisabledTransports, ", "))
	}
}
