package client

import (
	"context"
	"net/url"
	"strconv"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/records"
)

// Put stores a signed record under /plexus/<this peer>/<name>; ttl "" uses
// the daemon's default.
func (c *Client) Put(ctx context.Context, name string, value []byte, ttl string) (records.Record, error) {
	var v records.Record
	return v, c.Do(ctx, "POST", "/v1/dht/put", wire.PutRequest{Name: name, Value: value, TTL: ttl}, &v)
}

// Get fetches and validates the record at key from the network.
func (c *Client) Get(ctx context.Context, key string) (records.Record, error) {
	var v records.Record
	return v, c.Do(ctx, "GET", "/v1/dht/get?key="+url.QueryEscape(key), nil, &v)
}

// OwnRecords lists the records this node owns and republishes.
func (c *Client) OwnRecords(ctx context.Context) ([]records.Record, error) {
	var v []records.Record
	return v, c.Do(ctx, "GET", "/v1/dht/records", nil, &v)
}

// Provide announces that this node provides key.
func (c *Client) Provide(ctx context.Context, key string) error {
	return c.Do(ctx, "POST", "/v1/dht/provide", wire.KeyRequest{Key: key}, nil)
}

// Provided lists what this node provides and re-announces.
func (c *Client) Provided(ctx context.Context) ([]records.Provision, error) {
	var v []records.Provision
	return v, c.Do(ctx, "GET", "/v1/dht/provided", nil, &v)
}

// FindProviders finds up to count providers of key.
func (c *Client) FindProviders(ctx context.Context, key string, count int) ([]wire.Provider, error) {
	var v []wire.Provider
	return v, c.Do(ctx, "GET", "/v1/dht/findprovs?key="+url.QueryEscape(key)+"&count="+strconv.Itoa(count), nil, &v)
}
