package client

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/plexus-p2p/plexus/api/wire"
)

// NewWithTransport returns a client of the API at addr whose requests go
// through rt: for example an in-process API (daemon.Accounts).
func NewWithTransport(addr, token string, rt http.RoundTripper) *Client {
	c := New(addr, token)
	c.hc = &http.Client{Transport: rt}
	return c
}

// Me says who the client's token acts as.
func (c *Client) Me(ctx context.Context) (wire.Me, error) {
	var v wire.Me
	return v, c.Do(ctx, "GET", "/v1/auth/me", nil, &v)
}

// Users lists the accounts (admin).
func (c *Client) Users(ctx context.Context) ([]wire.User, error) {
	var v []wire.User
	return v, c.Do(ctx, "GET", "/v1/users", nil, &v)
}

// AddUser creates an account with a role ("" for viewer) (admin).
func (c *Client) AddUser(ctx context.Context, name, password, role string) (wire.User, error) {
	var v wire.User
	return v, c.Do(ctx, "POST", "/v1/users", wire.RegisterRequest{Username: name, Password: password, Role: role}, &v)
}

// DeleteUser deletes an account with its sessions and tokens (admin).
func (c *Client) DeleteUser(ctx context.Context, name string) (wire.UserRef, error) {
	var v wire.UserRef
	return v, c.Do(ctx, "DELETE", "/v1/users?name="+url.QueryEscape(name), nil, &v)
}

// SetPassword sets a user's password, revoking the user's sessions and
// tokens (admin).
func (c *Client) SetPassword(ctx context.Context, name, password string) (wire.UserRef, error) {
	var v wire.UserRef
	return v, c.Do(ctx, "POST", "/v1/users/password", wire.SetPasswordRequest{Username: name, Password: password}, &v)
}

// SetRole sets a user's role (admin).
func (c *Client) SetRole(ctx context.Context, name, role string) (wire.User, error) {
	var v wire.User
	return v, c.Do(ctx, "POST", "/v1/users/role", wire.SetRoleRequest{Username: name, Role: role}, &v)
}

// CreateToken creates an API token for user ("": the caller) with a role
// ("": the default), a lifetime (0: the default, 720h) and a name. The
// answer holds the secret, which is never shown again.
func (c *Client) CreateToken(ctx context.Context, user, role string, ttl time.Duration, name string) (wire.NewToken, error) {
	var v wire.NewToken
	req := wire.TokenRequest{Username: user, Role: role, TTLMS: float64(ttl) / float64(time.Millisecond), Name: name}
	return v, c.Do(ctx, "POST", "/v1/tokens", req, &v)
}

// Tokens lists the caller's API tokens (an admin's: everyone's).
func (c *Client) Tokens(ctx context.Context) ([]wire.Token, error) {
	var v []wire.Token
	return v, c.Do(ctx, "GET", "/v1/tokens", nil, &v)
}

// RevokeToken revokes an API token by ID.
func (c *Client) RevokeToken(ctx context.Context, id string) (wire.Token, error) {
	var v wire.Token
	return v, c.Do(ctx, "DELETE", "/v1/tokens?id="+url.QueryEscape(id), nil, &v)
}
