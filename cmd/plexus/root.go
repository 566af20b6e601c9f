package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/plexus-p2p/plexus/client"
	"github.com/plexus-p2p/plexus/node"
)

// globals are the flags every command accepts.
type globals struct {
	repo    string
	api     string
	json    bool
	timeout time.Duration
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "plexus",
		Short:         "Plexus: a ready peer-to-peer node built on libp2p",
		Long:          "Plexus runs a libp2p node (\"plexus daemon\") and drives it from the command line.\nEvery command except init, daemon, config and swarm-key talks to the daemon's HTTP API\n(users and tokens open the repo itself when no daemon runs).",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       node.Version,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.repo, "repo", "", "repo directory (default $PLEXUS_PATH or ~/.plexus)")
	pf.StringVar(&g.api, "api", "", "daemon API address host:port (default $PLEXUS_API or the repo's api file)")
	pf.BoolVar(&g.json, "json", false, "print JSON for scripts")
	g.timeout = 30 * time.Second
	pf.Var((*positiveDuration)(&g.timeout), "timeout", "give up after this long")
	root.AddCommand(
		newInitCmd(g), newConfigCmd(g), newDaemonCmd(g),
		newIDCmd(g), newPeersCmd(g), newConnectCmd(g), newDisconnectCmd(g), newPingCmd(g),
		newEventsCmd(g), newShutdownCmd(g),
		newSendCmd(g), newHandlerCmd(g), newPubSubCmd(g), newDHTCmd(g), newDevnetCmd(g), newPerfCmd(g),
		newBootstrapCmd(g), newExploreCmd(g), newDiscoverCmd(g),
		newNATCmd(g), newVersionCmd(g), newWaitCmd(g), newSwarmKeyCmd(g),
		newUsersCmd(g), newTokensCmd(g),
		newTunnelCmd(g),
		newAddCmd(g), newGetFilesCmd(g), newCatCmd(g), newLsCmd(g), newPinCmd(g), newFilesCmd(g),
	)
	return root
}

// client locates the daemon of the selected repo.
func (g *globals) client() (*client.Client, error) { return client.Locate(g.repo, g.api) }

// ctx returns a context bounded by --timeout.
func (g *globals) ctx(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), g.timeout)
}

// call runs fn against the daemon with the --timeout bound and a clearer
// message when the bound is hit.
func call[T any](cmd *cobra.Command, g *globals, fn func(context.Context, *client.Client) (T, error)) (T, error) {
	var zero T
	c, err := g.client()
	if err != nil {
		return zero, err
	}
	ctx, cancel := g.ctx(cmd)
	defer cancel()
	v, err := fn(ctx, c)
	if err != nil && errors.Is(err, context.DeadlineExceeded) {
		return zero, fmt.Errorf("timed out after %s (raise --timeout): %w", g.timeout, err)
	}
	return v, err
}

// print writes v as JSON with --json, otherwise calls human.
func (g *globals) print(w io.Writer, v any, human func(w io.Writer)) error {
	if g.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	human(w)
	return nil
}

// table writes rows under a header, aligned with tabs.
func table(w io.Writer, header []string, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

// readData returns args[i] as bytes, or stdin when it is "-" or absent and
// stdin is not a terminal.
func readData(args []string, i int, max int64) ([]byte, error) {
	if len(args) > i && args[i] != "-" {
		return []byte(args[i]), nil
	}
	if len(args) <= i {
		if st, err := os.Stdin.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return nil, errors.New("no data given: pass it as an argument or pipe it on stdin with \"-\"")
		}
	}
	b, err := io.ReadAll(io.LimitReader(os.Stdin, max+1))
	if err != nil {
		return nil, fmt.Errorf("read stdin: %w", err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("stdin has more than %d bytes, the limit", max)
	}
	return b, nil
}
