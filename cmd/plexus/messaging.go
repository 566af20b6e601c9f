package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/client"
)

// maxStdin bounds data read from stdin for a request or a publish.
const maxStdin = 64 << 20

func newSendCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "send PEER PROTOCOL [DATA | -]",
		Short: "Send a request to a peer's application protocol and print the response",
		Long: `Send one request over a direct libp2p stream and print the raw response.
DATA is taken literally; "-" (or no DATA with piped stdin) reads it from stdin.
The peer must serve PROTOCOL (for example /app/recipes/1.0.0): see "plexus handler".`,
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readData(args, 2, maxStdin)
			if err != nil {
				return err
			}
			res, err := call(cmd, g, func(ctx context.Context, c *client.Client) (wire.SendResult, error) {
				return c.Send(ctx, args[0], args[1], data)
			})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), res, func(w io.Writer) { w.Write(res.Data) })
		},
	}
}

func newHandlerCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "handler",
		Short: "Serve application protocols from a local HTTP URL",
		Long: `An application in any language serves a protocol by registering it: the daemon
forwards each incoming request as an HTTP POST to the URL (body = request bytes, headers
X-Plexus-Peer and X-Plexus-Protocol) and returns the 2xx response body to the caller.
A non-2xx answer or an unreachable URL reaches the caller as a handler error.`,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "add PROTOCOL URL",
		Short: "Forward requests for PROTOCOL to URL",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := call(cmd, g, func(ctx context.Context, c *client.Client) (struct{}, error) {
				return struct{}{}, c.AddHandler(ctx, args[0], args[1])
			})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), wire.HandlerRequest{Protocol: args[0], URL: args[1]}, func(w io.Writer) {
				fmt.Fprintf(w, "serving %s from %s\n", args[0], args[1])
			})
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List registered handlers",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			hs, err := call(cmd, g, func(ctx context.Context, c *client.Client) ([]wire.Handler, error) { return c.Handlers(ctx) })
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), hs, func(w io.Writer) {
				rows := make([][]string, len(hs))
				for i, h := range hs {
					rows[i] = []string{h.Protocol, h.Kind, h.URL, fmt.Sprint(h.Handled), fmt.Sprint(h.Failed), h.Registered.Local().Format(time.DateTime)}
				}
				table(w, []string{"PROTOCOL", "KIND", "URL", "HANDLED", "FAILED", "SINCE"}, rows)
			})
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:     "rm PROTOCOL",
		Aliases: []string{"remove"},
		Short:   "Stop serving PROTOCOL",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := call(cmd, g, func(ctx context.Context, c *client.Client) (struct{}, error) {
				return struct{}{}, c.RemoveHandler(ctx, args[0])
			})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), map[string]string{"protocol": args[0]}, func(w io.Writer) {
				fmt.Fprintf(w, "stopped serving %s\n", args[0])
			})
		},
	})
	return cmd
}
