package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/plexus-p2p/plexus/api"
	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/client"
	"github.com/plexus-p2p/plexus/node"
)

func newVersionCmd(g *globals) *cobra.Command {
	var ofDaemon bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, Go and go-libp2p versions (--daemon: the running daemon's)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := api.VersionWire(node.BuildInfo())
			if ofDaemon {
				var err error
				if v, err = call(cmd, g, func(ctx context.Context, c *client.Client) (wire.Version, error) { return c.Version(ctx) }); err != nil {
					return err
				}
			}
			return g.print(cmd.OutOrStdout(), v, func(w io.Writer) { printVersion(w, v) })
		},
	}
	cmd.Flags().BoolVar(&ofDaemon, "daemon", false, "ask the running daemon of the repo instead (GET /v1/version)")
	return cmd
}

func printVersion(w io.Writer, v wire.Version) {
	commit := v.Commit
	switch {
	case commit == "":
		commit = "unknown (the build recorded no revision)"
	case v.Modified:
		commit += " (with uncommitted changes)"
	}
	if v.CommitTime != nil {
		commit += ", " + v.CommitTime.Format("2006-01-02 15:04:05 MST")
	}
	fmt.Fprintf(w, "plexus %s\ncommit:    %s\ngo:        %s %s\ngo-libp2p: %s\n", v.Version, commit, v.Go, v.Platform, v.Libp2p)
}
