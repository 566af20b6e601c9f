package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/client"
)

func newTunnelCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tunnel",
		Short: "Reach TCP services (SSH, a database, a web app) on other nodes through libp2p streams",
		Long: `A tunnel carries TCP connections over libp2p streams, as Kubo's "ipfs p2p" does:

  on the node with the service:  plexus tunnel expose /x/ssh 127.0.0.1:22 --allow <peer ID of the other node>
  on the node that wants it:     plexus tunnel forward 127.0.0.1:2222 <peer ID of the first node> /x/ssh
  then, there:                   ssh -p 2222 127.0.0.1

Protocols start with /x/. The daemon holds the tunnels until "plexus tunnel close ID" or until it
stops; they work through a relay when there is no direct path.`,
	}
	var allow []string
	expose := &cobra.Command{
		Use:   "expose PROTOCOL TARGET",
		Short: "Serve the local TCP address TARGET (host:port) to the allowed peers under PROTOCOL",
		Long: `Serve the local TCP address TARGET (for example 127.0.0.1:22) to other nodes under PROTOCOL
(for example /x/ssh). Only the peers named with --allow may connect; without --allow, the members of
a private network may, and on an open network nobody may.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := call(cmd, g, func(ctx context.Context, c *client.Client) (wire.Tunnel, error) {
				return c.Expose(ctx, args[0], args[1], allow)
			})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), t, func(w io.Writer) {
				fmt.Fprintf(w, "tunnel %s: exposing %s as %s to %s\n", t.ID, t.Target, t.Protocol, allowed(t))
				if len(t.Allow) == 0 && !t.DefaultAllow {
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: nobody may connect to tunnel %s: close it (plexus tunnel close %s) and expose again with --allow PEER\n", t.ID, t.ID)
				}
			})
		},
	}
	expose.Flags().StringArrayVar(&allow, "allow", nil, "peer ID that may connect (repeat for more)")

	forward := &cobra.Command{
		Use:   "forward LOCAL_ADDR PEER PROTOCOL",
		Short: "Listen on LOCAL_ADDR (host:port) and carry each connection to PEER's PROTOCOL",
		Long: `Listen on the local address LOCAL_ADDR (for example 127.0.0.1:2222; port 0 picks a free port)
and carry each connection to the service PEER exposes under PROTOCOL. PEER is contacted for each
connection: failures show in "plexus tunnel ls".`,
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := call(cmd, g, func(ctx context.Context, c *client.Client) (wire.Tunnel, error) {
				return c.Forward(ctx, args[0], args[1], args[2])
			})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), t, func(w io.Writer) {
				fmt.Fprintf(w, "tunnel %s: forwarding %s to %s on %s\n", t.ID, t.Listen, t.Protocol, t.Peer)
			})
		},
	}

	ls := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the tunnels with their connections, bytes and last error",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ts, err := call(cmd, g, func(ctx context.Context, c *client.Client) ([]wire.Tunnel, error) { return c.Tunnels(ctx) })
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), ts, func(w io.Writer) {
				if len(ts) == 0 {
					fmt.Fprintln(w, "no tunnels")
					return
				}
				rows := make([][]string, len(ts))
				for i, t := range ts {
					local, remote := t.Target, allowed(t)
					if t.Kind == "forward" {
						local, remote = t.Listen, t.Peer
					}
					rows[i] = []string{t.ID, t.Kind, t.Protocol, local, remote,
						fmt.Sprintf("%d/%d", t.Conns, t.MaxConns), fmt.Sprint(t.Accepted), fmt.Sprint(t.Failed), fmt.Sprint(t.Refused),
						ibytes(t.BytesIn), ibytes(t.BytesOut), t.LastError}
				}
				table(w, []string{"ID", "KIND", "PROTOCOL", "LOCAL", "PEERS", "OPEN", "CARRIED", "FAILED", "REFUSED", "IN", "OUT", "LAST ERROR"}, rows)
			})
		},
	}

	closeCmd := &cobra.Command{
		Use:   "close ID",
		Short: "Close a tunnel and cut the connections it carries",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := call(cmd, g, func(ctx context.Context, c *client.Client) (wire.Tunnel, error) { return c.CloseTunnel(ctx, args[0]) })
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), t, func(w io.Writer) {
				fmt.Fprintf(w, "closed tunnel %s (%s %s); %d open connections cut\n", t.ID, t.Kind, t.Protocol, t.Conns)
			})
		},
	}
	cmd.AddCommand(expose, forward, ls, closeCmd)
	return cmd
}

// allowed says who may connect to an exposed tunnel.
func allowed(t wire.Tunnel) string {
	switch {
	case len(t.Allow) > 0:
		return strings.Join(t.Allow, ",")
	case t.DefaultAllow:
		return "network members"
	}
	return "nobody"
}
