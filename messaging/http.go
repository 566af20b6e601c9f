package messaging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Headers set on a forwarded request.
const (
	HeaderPeer     = "X-Plexus-Peer"
	HeaderProtocol = "X-Plexus-Protocol"
)

// maxHTTPErrorBody bounds the response body text quoted in a HandlerError.
const maxHTTPErrorBody = 256

// newHTTPClient returns the client used to forward requests: no proxy (the
// targets are local services), no redirects, short connection timeout.
func newHTTPClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 32,
			IdleConnTimeout:     90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// HandleHTTP registers a handler for proto that POSTs each request body to
// targetURL, an http or https URL (normally a local service written in any
// language), with the headers X-Plexus-Peer (the caller's peer ID),
// X-Plexus-Protocol and Content-Type application/octet-stream, and answers
// with the response body. A non-2xx answer, an unreachable URL or no answer
// within the handler timeout reach the caller as a *HandlerError.
// Redirects are not followed.
func (s *Service) HandleHTTP(proto protocol.ID, targetURL string) error {
	u, err := parseTarget(targetURL)
	if err != nil {
		return fmt.Errorf("handle %q: %w", proto, err)
	}
	target := u.String()
	return s.register(&handler{proto: proto, kind: KindHTTP, url: target, fn: s.forwarder(proto, target)})
}

// parseTarget validates an HTTP forwarding target.
func parseTarget(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrInvalidURL, raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w %q: scheme must be http or https", ErrInvalidURL, raw)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%w %q: no host", ErrInvalidURL, raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w %q: credentials in the url are not supported", ErrInvalidURL, raw)
	}
	return u, nil
}

// forwarder returns the HandlerFunc of an HTTP handler. Error texts go to the
// remote caller, so they do not name the target URL; the log does.
func (s *Service) forwarder(proto protocol.ID, target string) HandlerFunc {
	return func(ctx context.Context, from peer.ID, req []byte) ([]byte, error) {
		hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(req))
		if err != nil {
			return nil, fmt.Errorf("http handler: build request: %w", err)
		}
		hreq.Header.Set("Content-Type", "application/octet-stream")
		hreq.Header.Set(HeaderPeer, from.String())
		hreq.Header.Set(HeaderProtocol, string(proto))

		resp, err := s.http.Do(hreq)
		if err != nil {
			s.log.Warn("http handler unreachable", "protocol", proto, "url", target, "err", err)
			return nil, httpFailure(ctx, err, s.cfg.handlerTimeout)
		}
		defer resp.Body.Close()
		// One byte over the limit is enough to fail with StatusResponseTooLarge.
		body, err := io.ReadAll(io.LimitReader(resp.Body, int64(s.cfg.maxSize)+1))
		if err != nil {
			s.log.Warn("http handler body", "protocol", proto, "url", target, "err", err)
			return nil, httpFailure(ctx, err, s.cfg.handlerTimeout)
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			s.log.Debug("http handler answered an error", "protocol", proto, "url", target, "status", resp.Status)
			text := truncate(string(bytes.TrimSpace(body)), maxHTTPErrorBody)
			if text == "" {
				return nil, fmt.Errorf("http handler answered %s", resp.Status)
			}
			return nil, fmt.Errorf("http handler answered %s: %s", resp.Status, text)
		}
		return body, nil
	}
}

// httpFailure describes a failed HTTP exchange for the remote caller.
func httpFailure(ctx context.Context, err error, timeout time.Duration) error {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("http handler did not answer within %s", timeout)
	case ctx.Err() != nil:
		return errors.New("http handler cancelled: service closing")
	case errors.Is(err, syscall.ECONNREFUSED):
		return errors.New("http handler unavailable: connection refused")
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("http handler unavailable: %w", err)
}
