package main

import (
	"bufio"
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

// The routing commands of "plexus dht": status, table, findpeer, closest;
// and "plexus explore".

func newDHTStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the node's DHTs: the Plexus DHT and, with dht.amino on, the public IPFS (Amino) DHT",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := call(cmd, g, func(ctx context.Context, c *client.Client) (wire.DHTStatus, error) { return c.DHTStatus(ctx) })
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), st, func(w io.Writer) {
				rows := make([][]string, len(st.DHTs))
				for i, d := range st.DHTs {
					rows[i] = []string{d.Name, d.Protocol, d.Mode, strconv.Itoa(d.TableSize)}
				}
				table(w, []string{"DHT", "PROTOCOL", "MODE", "PEERS"}, rows)
				if !st.Amino {
					fmt.Fprintln(w, "Amino DHT (IPFS network): off (dht.amino = false)")
				}
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
			var prog *progressLine
			if !dot {
				prog = newProgressLine(g, cmd.OutOrStdout())
			}
			rep, err := call(cmd, g, func(ctx context.Context, c *client.Client) (wire.ExploreReport, error) {
				if prog != nil {
					return c.ExploreProgress(ctx, prog.explore)
				}
				return c.Explore(ctx)
			})
			prog.clear()
			if err != nil {
				return err
			}
			if dot {
				return writeDOT(cmd.OutOrStdout(), rep)
			}
			return g.print(cmd.OutOrStdout(), rep, func(w io.Writer) {
				rows := make([][]string, len(rep.Nodes))
				for i, n := range rep.Nodes {
					addr := "-"
					if len(n.Addrs) > 0 {
						addr = n.Addrs[0]
					}
					rows[i] = []string{n.PeerID, addr, n.AgentVersion, strconv.Itoa(len(n.Protocols)), strconv.FormatBool(n.Dialable || n.Self)}
				}
				table(w, []string{"PEER", "ADDRESS", "AGENT", "PROTOCOLS", "DIALABLE"}, rows)
				fmt.Fprintf(w, "%d node(s): %d dialable, %d not; crawl took %.0f ms (complete: %t)\n",
					rep.Total, rep.Dialable, rep.Undialable, rep.DurationMS, rep.Complete)
			})
		},
	}
	cmd.Flags().BoolVar(&dot, "dot", false, "print a Graphviz graph (nodes and routing-table edges)")
	return cmd
}

// writeDOT writes r as a Graphviz digraph: one vertex per node (this node
// filled, undialable nodes dashed), one edge from each node to each of its
// routing-table neighbours.
func writeDOT(w io.Writer, r wire.ExploreReport) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "digraph plexus {")
	fmt.Fprintln(bw, "  node [shape=box, fontname=\"monospace\", fontsize=10];")
	for _, n := range r.Nodes {
		label := shortID(n.PeerID)
		if n.AgentVersion != "" {
			label += "\n" + n.AgentVersion
		}
		attrs := []string{"label=" + dotQuote(label)}
		if n.Self {
			attrs = append(attrs, "style=filled", "fillcolor=lightblue")
		}
		if !n.Dialable {
			attrs = append(attrs, "style=dashed", "color=gray")
		}
		fmt.Fprintf(bw, "  %s [%s];\n", dotQuote(n.PeerID), strings.Join(attrs, ", "))
	}
	for _, n := range r.Nodes {
		for _, nb := range n.Neighbours {
			fmt.Fprintf(bw, "  %s -> %s;\n", dotQuote(n.PeerID), dotQuote(nb))
		}
	}
	fmt.Fprintln(bw, "}")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write dot: %w", err)
	}
	return nil
}

// shortID returns the last 8 characters of a peer ID, enough to tell
// the nodes of one network apart.
func shortID(p string) string {
	if len(p) > 8 {
		return "…" + p[len(p)-8:]
	}
	return p
}

// dotQuote returns s as a DOT double-quoted string.
func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", "")
	return `"` + r.Replace(s) + `"`
}
