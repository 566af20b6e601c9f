package client

import (
	"context"

	"github.com/plexus-p2p/plexus/api/wire"
)

// NATStatus returns the daemon's connectivity report: reachability per
// address, observed addresses, NAT mapping behaviour, port mappings, relay
// reservations, hole punching statistics and advice.
func (c *Client) NATStatus(ctx context.Context) (wire.NATStatus, error) {
	var v wire.NATStatus
	return v, c.Do(ctx, "GET", "/v1/nat", nil, &v)
}
