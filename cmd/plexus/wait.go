package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/client"
	"github.com/plexus-p2p/plexus/config"
)

// pollInterval is how often wait and shutdown look at the daemon again.
const pollInterval = 100 * time.Millisecond

func newWaitCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "wait",
		Short: "Wait until the repo's daemon is ready: its node has started and its API answers (at most --timeout)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := g.ctx(cmd)
			defer cancel()
			var last error
			for {
				id, err := tryID(ctx, g)
				if err == nil {
					return g.print(cmd.OutOrStdout(), id, func(w io.Writer) {
						fmt.Fprintf(w, "daemon ready: %s\n", id.PeerID)
					})
				}
				last = err
				select {
				case <-ctx.Done():
					repo, _ := config.RepoPath(g.repo)
					return fmt.Errorf("no daemon was ready on repo %s within %s: %w", repo, g.timeout, last)
				case <-time.After(pollInterval):
				}
			}
		},
	}
}

// tryID asks the repo's daemon, located afresh (its api file appears once
// it is ready), for its identity, giving one attempt at most 2s.
func tryID(ctx context.Context, g *globals) (wire.ID, error) {
	c, err := g.client()
	if err != nil {
		return wire.ID{}, err
	}
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return c.ID(actx)
}

// waitStopped waits (bounded by ctx) until the daemon that accepted a
// shutdown has stopped: its api file is gone (it removes the file once its
// node and datastore are closed), or, for a daemon addressed by --api or
// $PLEXUS_API, its API no longer answers.
func waitStopped(ctx context.Context, g *globals, c *client.Client) error {
	path, err := config.RepoPath(g.repo)
	if err != nil {
		return err
	}
	repo := config.Repo{Path: path}
	viaFile := g.api == "" && os.Getenv("PLEXUS_API") == ""
	addr, _ := repo.APIAddr()
	for {
		if viaFile {
			if a, err := repo.APIAddr(); err != nil || a != addr {
				return nil
			}
		} else {
			hctx, cancel := context.WithTimeout(ctx, time.Second)
			err := c.Health(hctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the daemon accepted the shutdown but had not stopped after %s", g.timeout)
		case <-time.After(pollInterval):
		}
	}
}
