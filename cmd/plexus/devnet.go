package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/devnet"
)

func newDevnetCmd(g *globals) *cobra.Command {
	var nodes int
	var dir, logLevel string
	cmd := &cobra.Command{
		Use:   "devnet",
		Short: "Run N nodes on loopback in one process until Ctrl-C (node 1 is the bootstrap node)",
		Long: `Run a development network on loopback: N nodes with the local profile, each with its own
repo under --dir (default: a temporary directory removed on exit) and its own HTTP API, so
"plexus --repo <dir>/node3 peers" talks to node 3. Node 1 is the bootstrap node; the others
know only node 1 and find each other through the DHT. Ctrl-C stops every node.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := newLogger(config.Log{Level: logLevel, Format: "text"}, new(slog.LevelVar))
			ctx := cmd.Context()
			net, err := devnet.Start(ctx, devnet.Options{Nodes: nodes, Dir: dir, Logger: log})
			if err != nil {
				return err
			}
			defer net.Close()
			out := cmd.OutOrStdout()
			g.print(out, net.Members, func(w io.Writer) {
				rows := make([][]string, len(net.Members))
				for i, m := range net.Members {
					rows[i] = []string{strconv.Itoa(i + 1), m.PeerID, m.Addr, m.APIAddr, m.Repo}
				}
				table(w, []string{"NODE", "PEER ID", "MULTIADDR", "API", "REPO"}, rows)
				fmt.Fprintf(w, "%d nodes running; try: plexus --repo %s/node2 peers\nCtrl-C stops them all.\n", len(net.Members), net.Dir())
			})
			sigs := make(chan os.Signal, 2)
			signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
			defer signal.Stop(sigs)
			select {
			case <-sigs:
			case <-net.ShutdownRequested():
			}
			go forceExitOnSecondSignal(sigs)
			slog.Info("stopping devnet")
			if err := net.Close(); err != nil {
				return err
			}
			fmt.Fprintln(out, "devnet stopped")
			return nil
		},
	}
	cmd.Flags().IntVar(&nodes, "nodes", 4, fmt.Sprintf("number of nodes (1-%d)", devnet.MaxNodes))
	cmd.Flags().StringVar(&dir, "dir", "", "directory for the repos (kept); default a temporary directory (removed)")
	cmd.Flags().StringVar(&logLevel, "log-level", "warn", "debug, info, warn or error")
	return cmd
}
