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
	"github.com/plexus-p2p/plexus/config"
)

func newDHTCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dht",
		Short: "Kademlia DHT: signed records, provider records, routing",
	}
	cmd.AddCommand(newPutCmd(g), newGetCmd(g), newRecordsCmd(g), newProvideCmd(g), newProvidedCmd(g), newFindProvsCmd(g),
		newDHTStatusCmd(g), newTableCmd(g), newFindPeerCmd(g), newClosestCmd(g))
	return cmd
}

func newPutCmd(g *globals) *cobra.Command {
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "put NAME [VALUE | -]",
		Short: "Store a signed record under /plexus/<this peer ID>/NAME (value at most 16 KiB by default)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("ttl") {
				if err := config.CheckRecordTTL(ttl); err != nil {
					return fmt.Errorf("--ttl: %w", err)
				}
			}
			value, err := readData(args, 1, maxStdin)
			if err != nil {
				return err
			}
			rec, err := call(cmd, g, func(ctx context.Context, c *client.Client) (wire.Record, error) {
				return c.Put(ctx, args[0], value, ttl)
			})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), rec, func(w io.Writer) {
				fmt.Fprintf(w, "stored %s (seq %d, %d bytes, valid until %s)\n", rec.Key, rec.Seq, len(rec.Value), rec.EOL.Local().Format(time.DateTime))
			})
		},
	}
	cmd.Flags().DurationVar(&ttl, "ttl", 0, "record lifetime, 1m to 8760h, e.g. 1h (default from the config, 24h)")
	return cmd
}

func newGetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "get KEY",
		Short: "Fetch a record from the network and print its raw value: /plexus/<peer ID>/<name>, /pk/<peer ID> (a public key) or /ipns/<name> (an IPNS record)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rec, err := call(cmd, g, func(ctx context.Context, c *client.Client) (wire.Record, error) {
				return c.Get(ctx, args[0])
			})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), rec, func(w io.Writer) { w.Write(rec.Value) })
		},
	}
}

func newRecordsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "records",
		Short: "List the records this node owns (and republishes)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			recs, err := call(cmd, g, func(ctx context.Context, c *client.Client) ([]wire.Record, error) { return c.OwnRecords(ctx) })
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), recs, func(w io.Writer) {
				rows := make([][]string, len(recs))
				for i, r := range recs {
					rows[i] = []string{r.Key, fmt.Sprint(r.Seq), fmt.Sprint(len(r.Value)), r.EOL.Local().Format(time.DateTime)}
				}
				table(w, []string{"KEY", "SEQ", "BYTES", "VALID UNTIL"}, rows)
			})
		},
	}
}

func newProvideCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "provide KEY",
		Short: "Announce that this node provides KEY (any string, or a CID); re-announced before expiry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := call(cmd, g, func(ctx context.Context, c *client.Client) (wire.ProvideResult, error) {
				return c.Provide(ctx, args[0])
			})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), res, func(w io.Writer) {
				fmt.Fprintf(w, "providing %s (%s)\n", res.Key, res.CID)
			})
		},
	}
}

func newProvidedCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "provided",
		Short: "List the keys this node provides (and re-announces)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ps, err := call(cmd, g, func(ctx context.Context, c *client.Client) ([]wire.Provision, error) { return c.Provided(ctx) })
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), ps, func(w io.Writer) {
				rows := make([][]string, len(ps))
				for i, p := range ps {
					rows[i] = []string{p.Key, p.CID, p.Since.Local().Format(time.DateTime)}
				}
				table(w, []string{"KEY", "CID", "SINCE"}, rows)
			})
		},
	}
}

func newFindProvsCmd(g *globals) *cobra.Command {
	count := 20
	cmd := &cobra.Command{
		Use:   "findprovs KEY",
		Short: "Find peers that provide KEY",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ps, err := call(cmd, g, func(ctx context.Context, c *client.Client) ([]wire.Provider, error) {
				return c.FindProviders(ctx, args[0], count)
			})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), ps, func(w io.Writer) {
				for _, p := range ps {
					fmt.Fprintf(w, "%s  %s\n", p.PeerID, strings.Join(p.Addrs, " "))
				}
				fmt.Fprintf(w, "%d provider(s)\n", len(ps))
			})
		},
	}
	cmd.Flags().VarP((*positiveInt)(&count), "count", "n", "stop after this many providers (1-100)")
	return cmd
}
