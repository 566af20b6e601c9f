package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/client"
	"github.com/plexus-p2p/plexus/config"
)

func newPerfCmd(g *globals) *cobra.Command {
	req := wire.PerfRequest{}
	cmd := &cobra.Command{
		Use:   "perf PEER|MULTIADDR",
		Short: "Measure throughput and time to first byte with the libp2p perf protocol (/perf/1.0.0)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Target = args[0]
			prog := newProgressLine(g, cmd.OutOrStdout())
			res, err := call(cmd, g, func(ctx context.Context, c *client.Client) (wire.PerfResult, error) {
				if prog != nil {
					return c.PerfProgress(ctx, req, prog.perf)
				}
				return c.Perf(ctx, req)
			})
			prog.clear()
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), res, func(w io.Writer) {
				gbps := func(bps float64) string { return fmt.Sprintf("%.3f Gbit/s", bps/1e9) }
				fmt.Fprintf(w, "upload:     %d bytes in %s (%s)\n", res.UploadBytes, msDuration(res.UploadDurationMS), gbps(res.UploadBPS))
				fmt.Fprintf(w, "download:   %d bytes in %s (%s)\n", res.DownloadBytes, msDuration(res.DownloadDurationMS), gbps(res.DownloadBPS))
				fmt.Fprintf(w, "first byte: %s\ntotal:      %s (%s)\n", msDuration(res.TimeToFirstByteMS), msDuration(res.TotalMS), gbps(res.BPS))
			})
		},
	}
	cmd.Flags().Uint64Var(&req.Upload, "upload", config.DefaultPerfBytes, "bytes to upload")
	cmd.Flags().Uint64Var(&req.Download, "download", config.DefaultPerfBytes, "bytes to download")
	cmd.Flags().StringVar(&req.Transport, "transport", "", "measure over this transport: tcp, quic or ws (reconnects to the peer over it)")
	return cmd
}

// msDuration turns the wire's milliseconds into a duration for people
// (microsecond precision, as the API measures).
func msDuration(v float64) time.Duration {
	return time.Duration(v * float64(time.Millisecond)).Round(time.Microsecond)
}
