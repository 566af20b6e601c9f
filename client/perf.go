package client

import (
	"context"

	"github.com/plexus-p2p/plexus/api/wire"
)

// Perf measures throughput to a peer with the libp2p perf protocol.
func (c *Client) Perf(ctx context.Context, req wire.PerfRequest) (wire.PerfResult, error) {
	var v wire.PerfResult
	return v, c.Do(ctx, "POST", "/v1/perf", req, &v)
}
