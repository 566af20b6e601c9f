package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/client"
)

func newIDCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "id",
		Short: "Show the node's peer ID, addresses and protocols",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, err := call(cmd, g, func(ctx context.Context, c *client.Client) (wire.ID, error) { return c.ID(ctx) })
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), id, func(w io.Writer) {
				profile := id.Profile
				if profile == "" {
					profile = "none (the config file as written)"
				}
				fmt.Fprintf(w, "Peer ID:   %s\nAgent:     %s\nProfile:   %s\nDHT mode:  %s\nReachable: %s (see \"plexus nat status\")\n",
					id.PeerID, id.AgentVersion, profile, id.DHTMode, id.Reachability)
				fmt.Fprintf(w, "Private:   %s\n", privateText(id.PrivateNetwork))
				if id.BootstrapNode {
					fmt.Fprintln(w, "Bootstrap: none (this node is a bootstrap node)")
				} else {
					fmt.Fprintf(w, "Bootstrap: %s\n", strings.Join(id.Bootstrap, ", "))
				}
				fmt.Fprintln(w, "Addresses:")
				for _, a := range id.Addrs {
					fmt.Fprintln(w, "  "+a)
				}
				fmt.Fprintln(w, "Protocols:")
				for _, p := range id.Protocols {
					fmt.Fprintln(w, "  "+p)
				}
			})
		},
	}
}

func newPeersCmd(g *globals) *cobra.Command {
	var known bool
	cmd := &cobra.Command{
		Use:   "peers",
		Short: "List connected peers (--known: every peer the node knows)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if known {
				return printKnownPeers(cmd, g)
			}
			peers, err := call(cmd, g, func(ctx context.Context, c *client.Client) ([]wire.Peer, error) { return c.Peers(ctx) })
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), peers, func(w io.Writer) {
				rows := make([][]string, 0, len(peers))
				for _, p := range peers {
					lat := "-"
					if p.LatencyMS > 0 {
						lat = strconv.FormatFloat(p.LatencyMS, 'f', 2, 64) + "ms"
					}
					rows = append(rows, []string{p.PeerID, p.Addr, p.Direction, p.Transport, p.Security, lat})
				}
				table(w, []string{"PEER", "ADDRESS", "DIRECTION", "TRANSPORT", "SECURITY", "LATENCY"}, rows)
				fmt.Fprintf(w, "%d connection(s)\n", len(peers))
			})
		},
	}
	cmd.Flags().BoolVar(&known, "known", false, "every peer the node knows, with how it learnt of it and when it last saw it")
	cmd.AddCommand(newACLCmds(g)...)
	return cmd
}

func newConnectCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "connect MULTIADDR",
		Short: "Connect to a peer by its full multiaddr (ending in /p2p/<peer ID>)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := call(cmd, g, func(ctx context.Context, c *client.Client) (wire.ConnectResult, error) {
				return c.Connect(ctx, args[0])
			})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), res, func(w io.Writer) {
				fmt.Fprintf(w, "connected to %s via %s\n", res.PeerID, res.Addr)
			})
		},
	}
}

func newDisconnectCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "disconnect PEER",
		Short: "Close every connection to a peer",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := call(cmd, g, func(ctx context.Context, c *client.Client) (struct{}, error) {
				return struct{}{}, c.Disconnect(ctx, args[0])
			})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), map[string]string{"peer_id": args[0]}, func(w io.Writer) {
				fmt.Fprintf(w, "disconnected from %s\n", args[0])
			})
		},
	}
}

func newPingCmd(g *globals) *cobra.Command {
	count := 3
	cmd := &cobra.Command{
		Use:   "ping PEER|MULTIADDR",
		Short: "Measure round-trip times with the libp2p ping protocol",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := call(cmd, g, func(ctx context.Context, c *client.Client) (wire.PingResult, error) {
				return c.Ping(ctx, args[0], count)
			})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), res, func(w io.Writer) {
				for i, rtt := range res.RTTsMS {
					fmt.Fprintf(w, "ping %d: %s in %.3f ms\n", i+1, res.PeerID, rtt)
				}
				if len(res.RTTsMS) > 0 {
					fmt.Fprintf(w, "min/avg/max = %.3f/%.3f/%.3f ms\n", slices.Min(res.RTTsMS), avg(res.RTTsMS), slices.Max(res.RTTsMS))
				}
			})
		},
	}
	cmd.Flags().VarP((*positiveInt)(&count), "count", "n", "number of pings (1-100)")
	return cmd
}

func avg(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func newEventsCmd(g *globals) *cobra.Command {
	var types []string
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Follow the node's live event stream (Ctrl-C to stop)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			st, err := c.Events(ctx, types...)
			if err != nil {
				return err
			}
			defer st.Close()
			out := cmd.OutOrStdout()
			for {
				ev, err := st.NextEvent()
				switch {
				case err == nil:
				case ctx.Err() != nil:
					return nil // Ctrl-C
				case errors.Is(err, io.EOF):
					// The daemon ends the stream after node.stopping.
					if g.json {
						out = cmd.ErrOrStderr() // keep stdout JSON only
					}
					fmt.Fprintln(out, "daemon stopped: the event stream ended")
					return nil
				default:
					return fmt.Errorf("the event stream broke off (did the daemon crash?): %w", err)
				}
				if g.json {
					g.print(out, ev, nil)
					continue
				}
				fmt.Fprintf(out, "%s  %-22s %s\n", ev.Time.Local().Format("15:04:05.000"), ev.Type, string(ev.Data))
			}
		},
	}
	cmd.Flags().StringSliceVar(&types, "type", nil, "only events whose type starts with this prefix (repeatable), e.g. peer.")
	return cmd
}

func newShutdownCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "shutdown",
		Short: "Stop the daemon; returns once it has stopped (node and datastore closed)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := call(cmd, g, func(ctx context.Context, c *client.Client) (struct{}, error) {
				if err := c.Shutdown(ctx); err != nil {
					return struct{}{}, err
				}
				return struct{}{}, waitStopped(ctx, g, c)
			})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), map[string]string{"status": "stopped"}, func(w io.Writer) {
				fmt.Fprintln(w, "daemon stopped")
			})
		},
	}
}
