package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/client"
)

// newACLCmds are the access list subcommands of "plexus peers".
func newACLCmds(g *globals) []*cobra.Command {
	change := func(use, short string, fn func(*client.Client, context.Context, string) (wire.ACLChange, error)) *cobra.Command {
		return &cobra.Command{
			Use:   use + " PEER",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				ch, err := call(cmd, g, func(ctx context.Context, c *client.Client) (wire.ACLChange, error) { return fn(c, ctx, args[0]) })
				if err != nil {
					return err
				}
				return g.print(cmd.OutOrStdout(), ch, func(w io.Writer) { printACLChange(w, ch) })
			},
		}
	}
	list := &cobra.Command{
		Use:   "acl",
		Short: "List the peer allowlist and denylist",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := call(cmd, g, func(ctx context.Context, c *client.Client) (wire.ACL, error) { return c.ACL(ctx) })
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), a, func(w io.Writer) { printACL(w, a) })
		},
	}
	return []*cobra.Command{
		change("allow", "Put a peer on the allowlist: once it has entries, only they (and the bootstrap peers, static relays) may connect",
			(*client.Client).Allow),
		change("deny", "Put a peer on the denylist: its connections close at once and it cannot connect again",
			(*client.Client).Deny),
		change("rm", "Take a peer off the allowlist or the denylist", (*client.Client).Unlist),
		list,
	}
}

func printACLChange(w io.Writer, ch wire.ACLChange) {
	switch {
	case ch.List == ch.Previous:
		fmt.Fprintf(w, "%s is already on the %slist\n", ch.PeerID, ch.List)
	case ch.List == "":
		fmt.Fprintf(w, "removed %s from the %slist\n", ch.PeerID, ch.Previous)
	case ch.Previous != "":
		fmt.Fprintf(w, "moved %s from the %slist to the %slist\n", ch.PeerID, ch.Previous, ch.List)
	case ch.List == "allow":
		fmt.Fprintf(w, "allowed %s: only allowed peers (and the bootstrap peers, static relays) may connect now\n", ch.PeerID)
	default:
		fmt.Fprintf(w, "denied %s\n", ch.PeerID)
	}
	if len(ch.Disconnected) > 0 {
		fmt.Fprintf(w, "disconnected %d peer(s) no longer admitted: %s\n", len(ch.Disconnected), strings.Join(ch.Disconnected, ", "))
	}
}

func printACL(w io.Writer, a wire.ACL) {
	if a.AllowlistActive {
		fmt.Fprintln(w, "Allowlist active: only the allowed peers below, the bootstrap peers and static relays may connect; denied peers never.")
	} else {
		fmt.Fprintln(w, "Allowlist empty: every peer that is not denied may connect.")
	}
	rows := [][]string{}
	for _, e := range a.Allowed {
		rows = append(rows, []string{"allow", e.PeerID, e.Added.Local().Format(time.DateTime)})
	}
	for _, e := range a.Denied {
		rows = append(rows, []string{"deny", e.PeerID, e.Added.Local().Format(time.DateTime)})
	}
	if a.AllowlistActive {
		for _, im := range a.Implicit {
			rows = append(rows, []string{"implicit", im.PeerID, im.Reason})
		}
	}
	if len(rows) > 0 {
		table(w, []string{"LIST", "PEER", "ADDED"}, rows)
	}
	fmt.Fprintf(w, "%d allowed, %d denied; refused since start: %d inbound, %d outbound connection attempt(s)\n",
		len(a.Allowed), len(a.Denied), a.RefusedInbound, a.RefusedOutbound)
}
