package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/client"
)

// printKnownPeers is "plexus peers --known".
func printKnownPeers(cmd *cobra.Command, g *globals) error {
	kps, err := call(cmd, g, func(ctx context.Context, c *client.Client) ([]wire.KnownPeer, error) { return c.KnownPeers(ctx) })
	if err != nil {
		return err
	}
	return g.print(cmd.OutOrStdout(), kps, func(w io.Writer) {
		rows := make([][]string, len(kps))
		for i, k := range kps {
			addr := "-"
			if len(k.Addrs) > 0 {
				addr = k.Addrs[0]
			}
			rows[i] = []string{k.PeerID, addr, strings.Join(k.Sources, ","), strconv.FormatBool(k.Connected), k.LastSeen.Local().Format(time.DateTime)}
		}
		table(w, []string{"PEER", "ADDRESS", "LEARNT FROM", "CONNECTED", "LAST SEEN"}, rows)
		fmt.Fprintf(w, "%d known peer(s)\n", len(kps))
	})
}

func newBootstrapCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "bootstrap",
		Short: "Show the configured bootstrap peers: connected, failed attempts, next retry",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := call(cmd, g, func(ctx context.Context, c *client.Client) ([]wire.BootstrapStatus, error) {
				return c.BootstrapStatus(ctx)
			})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), st, func(w io.Writer) {
				if len(st) == 0 {
					fmt.Fprintln(w, "no bootstrap peers configured: this node is a bootstrap node")
					return
				}
				rows := make([][]string, len(st))
				for i, s := range st {
					next := "-"
					if !s.NextRetry.IsZero() {
						next = s.NextRetry.Local().Format(time.TimeOnly)
					}
					rows[i] = []string{s.Peer, strconv.FormatBool(s.Connected), strconv.Itoa(s.Attempts), next, s.LastError}
				}
				table(w, []string{"PEER", "CONNECTED", "FAILED ATTEMPTS", "NEXT RETRY", "LAST ERROR"}, rows)
			})
		},
	}
}

func newDiscoverCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "discover",
		Short: "Find the other nodes of an application topic anywhere in the network (DHT rendezvous)",
	}
	simple := func(use, short string, fn func(*client.Client, context.Context, string) error, done string) *cobra.Command {
		return &cobra.Command{
			Use: use + " TOPIC", Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				_, err := call(cmd, g, func(ctx context.Context, c *client.Client) (struct{}, error) {
					return struct{}{}, fn(c, ctx, args[0])
				})
				if err != nil {
					return err
				}
				return g.print(cmd.OutOrStdout(), map[string]string{"topic": args[0]}, func(w io.Writer) {
					fmt.Fprintf(w, "%s %s\n", done, args[0])
				})
			},
		}
	}
	cmd.AddCommand(
		simple("join", "Advertise this node under TOPIC and connect to its other nodes (re-advertised before expiry)",
			(*client.Client).JoinRendezvous, "joined"),
		simple("leave", "Stop advertising TOPIC", (*client.Client).LeaveRendezvous, "left"),
		&cobra.Command{
			Use: "peers TOPIC", Short: "List the other nodes that joined TOPIC", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				res, err := call(cmd, g, func(ctx context.Context, c *client.Client) (wire.RendezvousPeers, error) {
					return c.RendezvousPeers(ctx, args[0])
				})
				if err != nil {
					return err
				}
				return g.print(cmd.OutOrStdout(), res, func(w io.Writer) {
					for _, p := range res.Peers {
						fmt.Fprintf(w, "%s  %s\n", p.PeerID, strings.Join(p.Addrs, " "))
					}
					fmt.Fprintf(w, "%d peer(s) in %s\n", len(res.Peers), res.Topic)
				})
			},
		},
		&cobra.Command{
			Use: "ls", Short: "List joined topics", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				ts, err := call(cmd, g, func(ctx context.Context, c *client.Client) ([]string, error) { return c.RendezvousTopics(ctx) })
				if err != nil {
					return err
				}
				return g.print(cmd.OutOrStdout(), ts, func(w io.Writer) {
					for _, t := range ts {
						fmt.Fprintln(w, t)
					}
				})
			},
		},
	)
	return cmd
}
