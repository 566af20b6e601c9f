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
	"github.com/plexus-p2p/plexus/discovery"
)

// printKnownPeers is "plexus peers --known".
func printKnownPeers(cmd *cobra.Command, g *globals) error {
	kps, err := call(cmd, g, func(ctx context.Context, c *client.Client) ([]discovery.KnownPeer, error) { return c.KnownPeers(ctx) })
	if err != nil {
		return err
	}
	return g.print(cmd.OutOrStdout(), kps, func(w io.Writer) {
		rows := make([][]string, len(kps))
		for i, k := range kps {
			srcs := make([]string, len(k.Sources))
			for j, s := range k.Sources {
				srcs[j] = string(s)
			}
			addr := "-"
			if len(k.Addrs) > 0 {
				addr = k.Addrs[0].String()
			}
			rows[i] = []string{k.ID.String(), addr, strings.Join(srcs, ","), strconv.FormatBool(k.Connected), k.LastSeen.Local().Format(time.DateTime)}
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
			st, err := call(cmd, g, func(ctx context.Context, c *client.Client) ([]discovery.BootstrapStatus, error) {
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
					rows[i] = []string{s.Peer.String(), strconv.FormatBool(s.Connected), strconv.Itoa(s.Attempts), next, s.LastError}
				}
				table(w, []string{"PEER", "CONNECTED", "FAILED ATTEMPTS", "NEXT RETRY", "LAST ERROR"}, rows)
			})
		},
	}
}

func newTableCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "table",
		Short: "Show the Kademlia routing table by bucket",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rt, err := call(cmd, g, func(ctx context.Context, c *client.Client) ([]wire.RoutingEntry, error) { return c.RoutingTable(ctx) })
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), rt, func(w io.Writer) {
				rows := make([][]string, len(rt))
				for i, e := range rt {
					useful := "-"
					if !e.LastUseful.IsZero() && e.LastUseful.Year() > 1 {
						useful = e.LastUseful.Local().Format(time.TimeOnly)
					}
					rows[i] = []string{strconv.Itoa(e.Bucket), e.PeerID, e.Addr, useful, strconv.FormatBool(e.Connected)}
				}
				table(w, []string{"BUCKET", "PEER", "ADDRESS", "LAST USEFUL", "CONNECTED"}, rows)
				fmt.Fprintf(w, "%d peer(s) in the routing table\n", len(rt))
			})
		},
	}
}

func newFindPeerCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "findpeer PEER",
		Short: "Find a peer's addresses (open connection, or a DHT lookup)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := call(cmd, g, func(ctx context.Context, c *client.Client) (wire.FoundPeer, error) { return c.FindPeer(ctx, args[0]) })
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), res, func(w io.Writer) {
				fmt.Fprintf(w, "%s found via %s in %.1f ms\n", res.PeerID, res.Via, res.DurationMS)
				for _, a := range res.Addrs {
					fmt.Fprintln(w, "  "+a)
				}
			})
		},
	}
}

func newClosestCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "closest KEY",
		Short: "Find the K closest peers to a key (a DHT lookup)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := call(cmd, g, func(ctx context.Context, c *client.Client) (wire.ClosestPeers, error) {
				return c.ClosestPeers(ctx, args[0])
			})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), res, func(w io.Writer) {
				for _, p := range res.Peers {
					fmt.Fprintln(w, p)
				}
				fmt.Fprintf(w, "%d closest peer(s) to %q in %.1f ms\n", len(res.Peers), res.Key, res.DurationMS)
			})
		},
	}
}

func newExploreCmd(g *globals) *cobra.Command {
	var dot bool
	cmd := &cobra.Command{
		Use:   "explore",
		Short: "Crawl the network from this node's routing table and report every node found",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := call(cmd, g, func(ctx context.Context, c *client.Client) (discovery.Report, error) { return c.Explore(ctx) })
			if err != nil {
				return err
			}
			if dot {
				return discovery.WriteDOT(cmd.OutOrStdout(), rep)
			}
			return g.print(cmd.OutOrStdout(), rep, func(w io.Writer) {
				rows := make([][]string, len(rep.Nodes))
				for i, n := range rep.Nodes {
					addr := "-"
					if len(n.Addrs) > 0 {
						addr = n.Addrs[0].String()
					}
					rows[i] = []string{n.ID.String(), addr, n.AgentVersion, strconv.Itoa(len(n.Protocols)), strconv.FormatBool(n.Dialable || n.Self)}
				}
				table(w, []string{"PEER", "ADDRESS", "AGENT", "PROTOCOLS", "DIALABLE"}, rows)
				fmt.Fprintf(w, "%d node(s): %d dialable, %d not; crawl took %d ms (complete: %t)\n",
					rep.Total, rep.Dialable, rep.Undialable, rep.DurationMS, rep.Complete)
			})
		},
	}
	cmd.Flags().BoolVar(&dot, "dot", false, "print a Graphviz graph (nodes and routing-table edges)")
	return cmd
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
