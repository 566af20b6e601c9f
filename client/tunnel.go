package client

import (
	"context"
	"net/url"

	"github.com/plexus-p2p/plexus/api/wire"
)

// Tunnels lists the daemon's tunnels.
func (c *Client) Tunnels(ctx context.Context) ([]wire.Tunnel, error) {
	var v []wire.Tunnel
	return v, c.Do(ctx, "GET", "/v1/tunnels", nil, &v)
}

// Expose makes the daemon serve the local TCP address target to the
// allowed peers under proto (which starts with "/x/").
func (c *Client) Expose(ctx context.Context, proto, target string, allow []string) (wire.Tunnel, error) {
	var v wire.Tunnel
	return v, c.Do(ctx, "POST", "/v1/tunnels/expose", wire.ExposeRequest{Protocol: proto, Target: target, Allow: allow}, &v)
}

// Forward makes the daemon listen on the local address listen and carry
// each connection to peerID's service exposed under proto.
func (c *Client) Forward(ctx context.Context, listen, peerID, proto string) (wire.Tunnel, error) {
	var v wire.Tunnel
	return v, c.Do(ctx, "POST", "/v1/tunnels/forward", wire.ForwardRequest{Listen: listen, Peer: peerID, Protocol: proto}, &v)
}

// CloseTunnel closes a tunnel and the connections it carries, and returns
// its last state.
func (c *Client) CloseTunnel(ctx context.Context, id string) (wire.Tunnel, error) {
	var v wire.Tunnel
	return v, c.Do(ctx, "DELETE", "/v1/tunnels?id="+url.QueryEscape(id), nil, &v)
}
