package client

import (
	"context"
	"net/url"

	"github.com/plexus-p2p/plexus/api/wire"
)

// Send sends a request to a peer's application protocol and returns its answer.
func (c *Client) Send(ctx context.Context, peerID, proto string, data []byte) (wire.SendResult, error) {
	var v wire.SendResult
	return v, c.Do(ctx, "POST", "/v1/send", wire.SendRequest{Peer: peerID, Protocol: proto, Data: data}, &v)
}

// Handlers lists the daemon's registered protocol handlers.
func (c *Client) Handlers(ctx context.Context) ([]wire.Handler, error) {
	var v []wire.Handler
	return v, c.Do(ctx, "GET", "/v1/handlers", nil, &v)
}

// AddHandler makes the daemon forward requests for proto to a local URL.
func (c *Client) AddHandler(ctx context.Context, proto, target string) error {
	return c.Do(ctx, "POST", "/v1/handlers", wire.HandlerRequest{Protocol: proto, URL: target}, nil)
}

// RemoveHandler stops serving proto.
func (c *Client) RemoveHandler(ctx context.Context, proto string) error {
	return c.Do(ctx, "DELETE", "/v1/handlers?protocol="+url.QueryEscape(proto), nil, nil)
}
