package client

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"github.com/plexus-p2p/plexus/api/wire"
)

// Put stores a signed record under /plexus/<this peer>/<name>, valid for
// ttl: 0 sends no TTL (the daemon's default, 24h); any other value is sent
// as is, and the daemon refuses one outside 1m to 8760h.
func (c *Client) Put(ctx context.Context, name string, value []byte, ttl time.Duration) (wire.Record, error) {
	var v wire.Record
	req := wire.PutRequest{Name: name, Value: value}
	if ttl != 0 {
		ms := float64(ttl) / float64(time.Millisecond)
		req.TTLMS = &ms
	}
	return v, c.Do(ctx, "POST", "/v1/dht/put", req, &v)
}

// Get fetches and validates the record at key from the network.
func (c *Client) Get(ctx context.Context, key string) (wire.Record, error) {
	var v wire.Record
	return v, c.Do(ctx, "GET", "/v1/dht/get?key="+url.QueryEscape(key), nil, &v)
}

// OwnRecords lists the records this node owns and republishes.
func (c *Client) OwnRecords(ctx context.Context) ([]wire.Record, error) {
	var v []wire.Record
	return v, c.Do(ctx, "GET", "/v1/dht/records", nil, &v)
}

// Provide announces that this node provides key.
func (c *Client) Provide(ctx context.Context, key string) (wire.ProvideResult, error) {
	var v wire.ProvideResult
	return v, c.Do(ctx, "POST", "/v1/dht/provide", wire.KeyRequest{Key: key}, &v)
}

// Provided lists what this node provides and re-announces.
func (c *Client) Provided(ctx context.Context) ([]wire.Provision, error) {
	var v []wire.Provision
	return v, c.Do(ctx, "GET", "/v1/dht/provided", nil, &v)
}

// FindProviders finds up to count providers of key (1 to 100; the daemon
// refuses any other count, 0 included).
func (c *Client) FindProviders(ctx context.Context, key string, count int) ([]wire.Provider, error) {
	var v []wire.Provider
	path := "/v1/dht/findprovs?key=" + url.QueryEscape(key) + "&count=" + strconv.Itoa(count)
	return v, c.Do(ctx, "GET", path, nil, &v)
}
