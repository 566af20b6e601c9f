package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/client"
)

func newPubSubCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pubsub",
		Short: "Publish and subscribe to gossipsub topics",
	}
	cmd.AddCommand(newPubCmd(g), newSubCmd(g), newTopicsCmd(g), newTopicPeersCmd(g), newScoresCmd(g), newJoinLeaveCmd(g, "join"), newJoinLeaveCmd(g, "leave"))
	return cmd
}

func newPubCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "pub TOPIC [DATA | -]",
		Short: "Publish a message (DATA literally, or stdin with - for large or binary data)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readData(args, 1, maxStdin)
			if err != nil {
				return err
			}
			res, err := call(cmd, g, func(ctx context.Context, c *client.Client) (wire.PublishResult, error) {
				return c.Publish(ctx, args[0], data)
			})
			if err != nil {
				return err
			}
			if res.Warning != "" && !g.json {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", res.Warning)
			}
			return g.print(cmd.OutOrStdout(), res, func(w io.Writer) {
				fmt.Fprintf(w, "published %d bytes to %s (%d topic peers, %d in mesh)\n", len(data), res.Topic, res.Peers, res.MeshPeers)
			})
		},
	}
}

func newSubCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "sub TOPIC",
		Short: "Follow a topic's messages until Ctrl-C (from, seqno, topic, data, received time)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			st, err := c.Subscribe(ctx, args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			out := cmd.OutOrStdout()
			for {
				typ, data, err := st.NextRaw()
				if err != nil {
					if ctx.Err() != nil || errors.Is(err, io.EOF) {
						return nil
					}
					return err
				}
				switch typ {
				case "dropped":
					var d wire.DroppedEvent
					if err := json.Unmarshal(data, &d); err != nil {
						return fmt.Errorf("decode dropped event: %w", err)
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: %d messages dropped (reader too slow)\n", d.Dropped)
					continue
				case "closed":
					return fmt.Errorf("the daemon closed the subscription to %s (topic left?)", args[0])
				}
				if g.json {
					fmt.Fprintf(out, "%s\n", data)
					continue
				}
				var m wire.Message
				if err := json.Unmarshal(data, &m); err != nil {
					return fmt.Errorf("decode message: %w", err)
				}
				fmt.Fprintf(out, "%s  %s  seq=%d  %s  %s\n", m.ReceivedAt.Local().Format("15:04:05.000"), m.From, m.Seqno, m.Topic, printable(m.Data))
			}
		},
	}
}

// printable shows text as text and anything else as a byte count and hex.
func printable(b []byte) string {
	if utf8.Valid(b) && !strings.ContainsFunc(string(b), func(r rune) bool { return r < 0x20 && r != '\t' }) {
		return strconv.Quote(string(b))
	}
	if len(b) > 32 {
		return fmt.Sprintf("<%d bytes> %x...", len(b), b[:32])
	}
	return fmt.Sprintf("<%d bytes> %x", len(b), b)
}

func newTopicsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "ls",
		Aliases: []string{"topics"},
		Short:   "List joined topics with mesh and subscriber counts",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ts, err := call(cmd, g, func(ctx context.Context, c *client.Client) ([]wire.TopicInfo, error) { return c.Topics(ctx) })
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), ts, func(w io.Writer) {
				rows := make([][]string, len(ts))
				for i, t := range ts {
					rows[i] = []string{t.Name, strconv.Itoa(t.MeshPeers), strconv.Itoa(t.Peers), strconv.Itoa(t.LocalSubscribers)}
				}
				table(w, []string{"TOPIC", "MESH", "PEERS", "LOCAL SUBSCRIBERS"}, rows)
			})
		},
	}
}

func newTopicPeersCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "peers TOPIC",
		Short: "List connected peers subscribed to a topic",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ps, err := call(cmd, g, func(ctx context.Context, c *client.Client) ([]string, error) { return c.TopicPeers(ctx, args[0]) })
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), ps, func(w io.Writer) {
				for _, p := range ps {
					fmt.Fprintln(w, p)
				}
			})
		},
	}
}

func newScoresCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "scores",
		Short: "List peers' gossipsub scores and messages dropped by the per-peer rate limit, lowest score first",
		Long: `List the peers the pub/sub router scores, lowest score first, with the number of their
messages dropped by the per-peer rate limit (pubsub.peer_rate_limit). Below 0 a peer is kept
out of this node's meshes; below -2500 it is graylisted: everything it sends is ignored.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ps, err := call(cmd, g, func(ctx context.Context, c *client.Client) ([]wire.PubSubPeerScore, error) {
				return c.PubSubScores(ctx)
			})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), ps, func(w io.Writer) {
				rows := make([][]string, len(ps))
				for i, p := range ps {
					rows[i] = []string{p.Peer, strconv.FormatFloat(p.Score, 'f', 2, 64), strconv.FormatUint(p.RateLimited, 10), p.State}
				}
				table(w, []string{"PEER", "SCORE", "RATE-LIMITED", ""}, rows)
			})
		},
	}
}

func newJoinLeaveCmd(g *globals, verb string) *cobra.Command {
	short := "Join a topic (receive and relay its messages) without printing them"
	if verb == "leave" {
		short = "Leave a topic, ending its subscriptions"
	}
	return &cobra.Command{
		Use:   verb + " TOPIC",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := call(cmd, g, func(ctx context.Context, c *client.Client) (struct{}, error) {
				if verb == "join" {
					return struct{}{}, c.Join(ctx, args[0])
				}
				return struct{}{}, c.Leave(ctx, args[0])
			})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), map[string]string{"topic": args[0]}, func(w io.Writer) {
				fmt.Fprintf(w, "%s %s\n", map[string]string{"join": "joined", "leave": "left"}[verb], args[0])
			})
		},
	}
}
