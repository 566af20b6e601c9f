package client

import (
	"context"
	"net/url"

	"github.com/plexus-p2p/plexus/api/wire"
)

// ACL returns the peer allowlist and denylist.
func (c *Client) ACL(ctx context.Context) (wire.ACL, error) {
	var v wire.ACL
	return v, c.Do(ctx, "GET", "/v1/peers/acl", nil, &v)
}

// Allow puts a peer on the allowlist. Once the allowlist has entries only
// they (and the bootstrap peers and static relays) may connect: the change
// lists the peers it disconnected.
func (c *Client) Allow(ctx context.Context, peerID string) (wire.ACLChange, error) {
	var v wire.ACLChange
	return v, c.Do(ctx, "POST", "/v1/peers/allow", wire.ACLRequest{Peer: peerID}, &v)
}

// Deny puts a peer on the denylist; its connections close at once.
func (c *Client) Deny(ctx context.Context, peerID string) (wire.ACLChange, error) {
	var v wire.ACLChange
	return v, c.Do(ctx, "POST", "/v1/peers/deny", wire.ACLRequest{Peer: peerID}, &v)
}

// Unlist takes a peer off the allowlist or the denylist (ErrNotFound when
// it is on neither).
func (c *Client) Unlist(ctx context.Context, peerID string) (wire.ACLChange, error) {
	var v wire.ACLChange
	return v, c.Do(ctx, "DELETE", "/v1/peers/acl?peer="+url.QueryEscape(peerID), nil, &v)
}
