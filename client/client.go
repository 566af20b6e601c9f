// Package client is the typed Go client of the Plexus HTTP API, used by the
// CLI and by tests. Methods take a context; a context deadline is passed to
// the daemon as ?timeout= so it can answer with a clear error in time.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/config"
)

// Client talks to one daemon.
type Client struct {
	base  string // http://host:port
	token string
	hc    *http.Client
}

// New returns a client of the API at addr (host:port or a URL) with token.
func New(addr, token string) *Client {
	base := addr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	return &Client{base: strings.TrimRight(base, "/"), token: token, hc: &http.Client{}}
}

// Locate finds the daemon: api (flag) or $PLEXUS_API for the address,
// otherwise the repo's api file; the token comes from $PLEXUS_TOKEN or the
// repo's api.token file.
func Locate(repoFlag, apiFlag string) (*Client, error) {
	repoPath, err := config.RepoPath(repoFlag)
	if err != nil {
		return nil, err
	}
	repo := config.Repo{Path: repoPath}
	addr := apiFlag
	if addr == "" {
		addr = os.Getenv("PLEXUS_API")
	}
	if addr == "" {
		if addr, err = repo.APIAddr(); err != nil {
			return nil, err
		}
	}
	token := os.Getenv("PLEXUS_TOKEN")
	if token == "" {
		b, err := os.ReadFile(repo.File(config.TokenFile))
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("the API token file %s is missing: a running daemon writes it back within seconds, so try again; "+
				"if it does not come back, stop the daemon (Ctrl-C or SIGTERM) and start it again, or pass the token in PLEXUS_TOKEN", repo.File(config.TokenFile))
		}
		if err != nil {
			return nil, fmt.Errorf("read API token from %s (set PLEXUS_TOKEN or --repo): %w", repo.File(config.TokenFile), err)
		}
		token = strings.TrimSpace(string(b))
	}
	return New(addr, token), nil
}

// Errors the API answers, by class: test with errors.Is (for example
// errors.Is(err, client.ErrNotFound)). An *Error matches the class named by
// its code; a request that runs out of time on the client side matches
// ErrTimeout too.
var (
	ErrInvalidArgument = errors.New("invalid argument")
	ErrUnauthorized    = errors.New("unauthorized")
	ErrForbidden       = errors.New("forbidden")
	ErrNotFound        = errors.New("not found")
	ErrTimeout         = errors.New("timed out")
	ErrConflict        = errors.New("conflict")
	ErrTooLarge        = errors.New("too large")
	ErrInternal        = errors.New("internal error")
	ErrNotImplemented  = errors.New("not implemented")
	ErrBadGateway      = errors.New("the remote peer failed")
	ErrUnavailable     = errors.New("unavailable")
	ErrRateLimited     = errors.New("rate limited")
)

// codeErrors maps the wire's error codes to the sentinels.
var codeErrors = map[string]error{
	wire.CodeInvalidArgument: ErrInvalidArgument,
	wire.CodeUnauthorized:    ErrUnauthorized,
	wire.CodeForbidden:       ErrForbidden,
	wire.CodeNotFound:        ErrNotFound,
	wire.CodeTimeout:         ErrTimeout,
	wire.CodeConflict:        ErrConflict,
	wire.CodeTooLarge:        ErrTooLarge,
	wire.CodeInternal:        ErrInternal,
	wire.CodeNotImplemented:  ErrNotImplemented,
	wire.CodeBadGateway:      ErrBadGateway,
	wire.CodeUnavailable:     ErrUnavailable,
	wire.CodeRateLimited:     ErrRateLimited,
	wire.CodeCSRF:            ErrForbidden,
}

// Error is an error answered by the API.
type Error struct {
	Status  int    // the HTTP status
	Code    string // the wire error code (wire.Code*), may be empty
	Message string
}

func (e *Error) Error() string { return e.Message }

// Is reports whether target is the sentinel of this error's code.
func (e *Error) Is(target error) bool {
	want, ok := codeErrors[e.Code]
	return ok && want == target
}

// StatusOf returns the HTTP status of an API error, or 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// Do sends a request with a JSON body (nil for none) and decodes a JSON
// answer into out (nil to discard). Capability clients build on it.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// send performs the request and turns non-2xx answers into *Error.
func (c *Client) send(ctx context.Context, method, path string, body any) (*http.Response, error) {
	return c.sendAccept(ctx, method, path, body, "")
}

// sendAccept is send with an Accept header (none when accept is empty).
func (c *Client) sendAccept(ctx context.Context, method, path string, body any, accept string) (*http.Response, error) {
	var rd io.Reader
	contentType := ""
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd, contentType = bytes.NewReader(b), "application/json"
	}
	return c.sendBody(ctx, method, path, rd, contentType, accept)
}

// sendBody is send with a body of any content type (none when rd is nil)
// and an Accept header (none when accept is empty).
func (c *Client) sendBody(ctx context.Context, method, path string, rd io.Reader, contentType, accept string) (*http.Response, error) {
	u := c.base + path
	if dl, ok := ctx.Deadline(); ok {
		// Leave the daemon a little time to answer with its own error.
		if left := time.Until(dl) * 9 / 10; left > 0 {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			u += sep + "timeout=" + url.QueryEscape(left.Round(time.Millisecond).String())
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("%s %s: %w: %w", method, path, ErrTimeout, err)
		}
		return nil, fmt.Errorf("cannot reach the plexus daemon at %s (is it running?): %w", c.base, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		var e wire.Error
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = fmt.Sprintf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
		}
		return nil, &Error{Status: resp.StatusCode, Code: e.Code, Message: e.Error}
	}
	return resp, nil
}

// Health reports whether the daemon answers /healthz.
func (c *Client) Health(ctx context.Context) error { return c.Do(ctx, "GET", "/healthz", nil, nil) }

// ID describes the daemon's node.
func (c *Client) ID(ctx context.Context) (wire.ID, error) {
	var v wire.ID
	return v, c.Do(ctx, "GET", "/v1/id", nil, &v)
}

// Version describes the daemon's binary.
func (c *Client) Version(ctx context.Context) (wire.Version, error) {
	var v wire.Version
	return v, c.Do(ctx, "GET", "/v1/version", nil, &v)
}

// Peers lists open connections.
func (c *Client) Peers(ctx context.Context) ([]wire.Peer, error) {
	var v []wire.Peer
	return v, c.Do(ctx, "GET", "/v1/peers", nil, &v)
}

// Connect dials a full multiaddr.
func (c *Client) Connect(ctx context.Context, addr string) (wire.ConnectResult, error) {
	var v wire.ConnectResult
	return v, c.Do(ctx, "POST", "/v1/connect", wire.ConnectRequest{Addr: addr}, &v)
}

// Disconnect closes the connections to a peer.
func (c *Client) Disconnect(ctx context.Context, peerID string) error {
	return c.Do(ctx, "POST", "/v1/disconnect", wire.DisconnectRequest{Peer: peerID}, nil)
}

// Ping pings a peer ID or multiaddr count times (1 to 100; the daemon
// refuses any other count, 0 included).
func (c *Client) Ping(ctx context.Context, target string, count int) (wire.PingResult, error) {
	var v wire.PingResult
	return v, c.Do(ctx, "POST", "/v1/ping", wire.PingRequest{Target: target, Count: &count}, &v)
}

// Shutdown asks the daemon to stop.
func (c *Client) Shutdown(ctx context.Context) error {
	return c.Do(ctx, "POST", "/v1/shutdown", nil, nil)
}

// Metrics returns the Prometheus text exposition.
func (c *Client) Metrics(ctx context.Context) (string, error) {
	resp, err := c.send(ctx, "GET", "/metrics", nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// Stream reads a Server-Sent Events stream.
type Stream struct {
	body io.ReadCloser
	sc   *bufio.Scanner
}

// Stream opens a Server-Sent Events route, such as "/v1/events?types=peer.".
func (c *Client) Stream(ctx context.Context, path string) (*Stream, error) {
	resp, err := c.send(ctx, "GET", path, nil)
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	return &Stream{body: resp.Body, sc: sc}, nil
}

// Events follows the node's event stream, keeping types with the given
// prefixes (all when none).
func (c *Client) Events(ctx context.Context, types ...string) (*Stream, error) {
	path := "/v1/events"
	if len(types) > 0 {
		path += "?types=" + url.QueryEscape(strings.Join(types, ","))
	}
	return c.Stream(ctx, path)
}

// NextRaw returns the type ("message" when the server named none) and the
// data of the next event. It returns io.EOF when the stream ends.
func (s *Stream) NextRaw() (typ string, data []byte, err error) {
	typ = "message"
	for s.sc.Scan() {
		line := s.sc.Text()
		if t, ok := strings.CutPrefix(line, "event: "); ok {
			typ = t
		} else if d, ok := strings.CutPrefix(line, "data: "); ok {
			return typ, []byte(d), nil
		}
	}
	if err := s.sc.Err(); err != nil {
		return "", nil, err
	}
	return "", nil, io.EOF
}

// Next decodes the data of the next event into v. It returns io.EOF when
// the stream ends.
func (s *Stream) Next(v any) error {
	_, data, err := s.NextRaw()
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// NextEvent returns the next event of the node's event stream.
func (s *Stream) NextEvent() (wire.Event, error) {
	var ev wire.Event
	return ev, s.Next(&ev)
}

// Close ends the stream.
func (s *Stream) Close() error { return s.body.Close() }
