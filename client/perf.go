package client

import (
	"context"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/perf"
)

// Perf measures throughput to a peer with the libp2p perf protocol.
func (c *Client) Perf(ctx context.Context, req wire.PerfRequest) (perf.Result, error) {
	var v perf.Result
	return v, c.Do(ctx, "POST", "/v1/perf", req, &v)
}
